"""PyAV probing and partial decoding: indices, fps resampling, odd sizes,
grayscale, truncated and garbage files."""

import av
import numpy as np

from vidzoo.tf_data.decode import BadVideoLog, probe, read_frames
from tf_data_checks import brightness, numbered_video


def test_probe_and_read_selected_frames(tmp_path):
    path = str(tmp_path / "v.mp4")
    numbered_video(path, frames=12)
    assert probe(path)[0] == 12 and probe(path)[1] == 25.0
    frames, error = read_frames(path, [0, 5, 11, 5])
    assert error == "" and frames.shape == (4, 32, 48, 3)
    np.testing.assert_allclose(brightness(frames), [0, 100, 220, 100], atol=3)


def test_target_fps_resamples_the_timeline(tmp_path):
    path = str(tmp_path / "v.mp4")
    numbered_video(path, frames=12, fps=24)
    assert probe(path, target_fps=12)[0] == 6
    frames, _ = read_frames(path, [0, 1, 2], target_fps=12)  # source frames 0, 2, 4
    np.testing.assert_allclose(brightness(frames), [0, 40, 80], atol=3)


def test_odd_size_and_grayscale_become_rgb(tmp_path):
    path = str(tmp_path / "gray.avi")
    with av.open(path, "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 33, 21, "yuv420p"
        for t in range(4):
            gray = np.full((21, 33), 60 * t, np.uint8)
            frame = av.VideoFrame.from_ndarray(gray, format="gray")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    frames, error = read_frames(path, [3])
    assert error == "" and frames.shape == (1, 21, 33, 3)
    assert abs(float(frames.mean()) - 180) < 6


def test_bad_files_return_errors_not_exceptions(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01not a video" * 50)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path in (garbage, text, tmp_path / "missing.mp4"):
        count, _, error = probe(str(path))
        assert count == 0 and error
        frames, error = read_frames(str(path), [0])
        assert len(frames) == 0 and error


def test_short_files_repeat_their_last_frame(tmp_path):
    path = str(tmp_path / "v.mp4")
    numbered_video(path, frames=4)
    frames, _ = read_frames(path, [2, 3, 7, 9])
    np.testing.assert_allclose(brightness(frames), [40, 60, 60, 60], atol=3)


def test_bad_video_log_records_each_path_once():
    log = BadVideoLog()
    log.record("a.mp4", "cannot open")
    log.record("a.mp4", "cannot open again")
    assert log.failures == {"a.mp4": "cannot open"}
    assert "1 unreadable videos skipped" in log.summary() and "a.mp4" in log.summary()
