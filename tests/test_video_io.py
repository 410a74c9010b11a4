"""PyAV encode/decode of real H.264 files."""

import subprocess
import sys

import numpy as np
import pytest

from vidzoo.tf_data.video_io import decode_video, encode_video


def test_h264_round_trip(tmp_path):
    rows, cols = np.meshgrid(np.arange(32), np.arange(48), indexing="ij")
    gradient = np.stack([rows * 6, cols * 4, 255 - rows * 6], axis=-1).astype(np.uint8)
    frames = np.repeat(gradient[None], 6, axis=0)
    frames[3:, 8:16, 8:16] = 255
    path = tmp_path / "clip.mp4"
    encode_video(path, frames)
    decoded = decode_video(path)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 12
    assert decode_video(path, max_frames=2).shape[0] == 2


def test_keyframe_interval_places_the_keyframes(tmp_path):
    import av

    frames = np.random.default_rng(0).integers(0, 255, (20, 32, 48, 3), dtype=np.uint8)
    encode_video(tmp_path / "k.mp4", frames, keyframe_interval=6)
    with av.open(str(tmp_path / "k.mp4")) as container:
        stream = container.streams.video[0]
        keys = [round(float(packet.pts * stream.time_base) * 25)
                for packet in container.demux(stream) if packet.is_keyframe]
    assert keys == [0, 6, 12, 18]


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="even height and width"):
        encode_video(tmp_path / "odd.mp4", np.zeros((2, 31, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        encode_video(tmp_path / "gray.mp4", np.zeros((2, 32, 32), np.uint8))
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 10)
    with pytest.raises(ValueError, match="garbage.mp4"):
        decode_video(garbage)


ENCODE_SYNTHETIC = """
import hashlib, sys
import numpy as np
from vidzoo.tf_data.synthetic import make_video
from vidzoo.tf_data.video_io import encode_video
rng = np.random.default_rng(0)
digest = hashlib.md5()
for index in range(8):
    path = f"{sys.argv[1]}/{index}.mp4"
    encode_video(path, make_video(rng, index % 4, 32, 64, "easy")[0])
    digest.update(open(path, "rb").read())
print(digest.hexdigest())
"""


def test_same_frames_encode_to_the_same_bytes_in_concurrent_processes(tmp_path):
    # libx264's lookahead made these differ run to run (the demo's data did).
    folders = [tmp_path / str(index) for index in range(3)]
    for folder in folders:
        folder.mkdir()
    runs = [subprocess.Popen([sys.executable, "-c", ENCODE_SYNTHETIC, str(folder)],
                             stdout=subprocess.PIPE, text=True) for folder in folders]
    digests = {run.communicate(timeout=300)[0].strip() for run in runs}
    assert len(digests) == 1 and all(len(d) == 32 for d in digests), digests


def test_rgb_converter_gives_pyav_pixels_for_every_format():
    import av

    from vidzoo.tf_data.video_io import RGBConverter

    rng = np.random.default_rng(0)
    convert = RGBConverter()
    for fmt, shape in (("yuv420p", (33, 48)), ("gray", (21, 33)), ("rgb24", (21, 33, 3)),
                       ("yuv420p", (48, 64))):
        array = rng.integers(0, 255, shape, dtype=np.uint8)
        source = av.VideoFrame.from_ndarray(array, format="rgb24" if fmt == "rgb24" else "gray")
        frame = source.reformat(format=fmt)
        np.testing.assert_array_equal(convert(frame), frame.to_ndarray(format="rgb24"))
