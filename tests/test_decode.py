"""PyAV probing and partial decoding: indices, fps resampling, odd sizes,
grayscale, truncated and garbage files, seeking to keyframes."""

import fractions

import av
import numpy as np

from vidzoo.tf_data.decode import BadVideoLog, decoded_size, probe, read_frames
from vidzoo.tf_data.video_io import encode_video
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
    frames, error = read_frames(path, [2, 3, 7, 9])
    np.testing.assert_allclose(brightness(frames), [40, 60, 60, 60], atol=3)
    assert error == "the file ends after frame 3; later frames repeat it"
    frames, error = read_frames(path, [6])  # nothing wanted is in the file
    np.testing.assert_allclose(brightness(frames), [60], atol=3)


def test_bad_video_log_records_each_path_once():
    log = BadVideoLog()
    log.record("a.mp4", "cannot open")
    log.record("a.mp4", "cannot open again")
    assert log.failures == {"a.mp4": "cannot open"}
    assert "1 unreadable videos skipped" in log.summary() and "a.mp4" in log.summary()


def _gradient_video(frames=40):
    """Frames that differ everywhere (texture plus a per-frame shift), so any
    off-by-one in frame numbering changes the pixels."""
    rng = np.random.RandomState(0)
    texture = rng.randint(0, 200, (32, 64, 3)).astype(np.int32)
    return np.stack([np.roll(texture, 2 * t, axis=1)[:, :48] + t for t in range(frames)]
                    ).astype(np.uint8)


X264_KEYINT_4 = {"x264-params": "keyint=4:min-keyint=4:scenecut=0"}


def _with_b_frames(path, video, keyframe_interval):
    """H.264 with B-frames (decode order differs from presentation order)."""
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=25, options={
            "x264-params": f"bframes=3:keyint={keyframe_interval}:min-keyint="
                           f"{keyframe_interval}:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.thread_count = 1
        for frame in video:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_seeking_to_a_keyframe_reads_the_same_frames(tmp_path):
    video = _gradient_video()
    files = []
    for codec, name in (("libx264", "h264.mp4"), ("mpeg4", "mpeg4.avi"), ("mpeg4", "mpeg4.mp4")):
        files.append(str(tmp_path / name))
        encode_video(files[-1], video, codec=codec, keyframe_interval=8)
    files.append(str(tmp_path / "bframes.mp4"))
    _with_b_frames(files[-1], video, 8)
    index_sets = ([0, 1, 2], [7, 8, 9], [8], [17, 19, 21, 23], [39], [5, 30, 12], [38, 39, 45],
                   [41])
    for path in files:
        for indices in index_sets:
            seeked, error = read_frames(path, indices)
            from_start, _ = read_frames(path, indices, seek=False)
            np.testing.assert_array_equal(seeked, from_start, err_msg=f"{path} {indices}")
            past_the_end = max(indices) > 39
            assert ("ends after frame 39" in error) == past_the_end, (path, indices, error)
        np.testing.assert_array_equal(read_frames(path, [41])[0], read_frames(path, [39])[0])


def test_seeking_skips_the_frames_before_the_keyframe(tmp_path, monkeypatch):
    import vidzoo.tf_data.decode as decode

    path = str(tmp_path / "v.mp4")
    encode_video(path, _gradient_video(), keyframe_interval=8)

    def from_the_start(*args):
        raise AssertionError("decoded from the start")

    monkeypatch.setattr(decode, "_decode_sequentially", from_the_start)
    frames, error = read_frames(path, [25, 27])
    assert error == "" and frames.shape == (2, 32, 48, 3)


def test_variable_rate_files_are_read_from_the_start(tmp_path):
    """Timestamps with gaps do not number frames: the same frames as a
    sequential decode (the n-th decoded frame is frame n)."""
    video = _gradient_video(20)
    path = str(tmp_path / "vfr.mp4")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=25, options=X264_KEYINT_4)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.time_base = fractions.Fraction(1, 25)
        for index, frame in enumerate(video):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index + (index >= 10) * 5  # a 5-frame gap after frame 9
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    for indices in ([12, 13], [15], [19]):
        np.testing.assert_array_equal(read_frames(path, indices)[0],
                                      read_frames(path, indices, seek=False)[0])


def test_decoding_threads_give_the_same_frames(tmp_path):
    path = str(tmp_path / "v.mp4")
    encode_video(path, _gradient_video(), keyframe_interval=8)
    reference = read_frames(path, [3, 20, 31])[0]
    for threads in (0, 2):
        np.testing.assert_array_equal(read_frames(path, [3, 20, 31], threads=threads)[0],
                                      reference)


def test_probe_is_remembered_per_version_of_a_file(tmp_path):
    path = str(tmp_path / "v.mp4")
    numbered_video(path, frames=6)
    assert probe(path)[0] == 6
    numbered_video(path, frames=9)  # rewritten: another size and time
    assert probe(path)[0] == 9


def test_decoded_size_cuts_only_the_larger_frames_keeping_the_aspect():
    assert decoded_size(480, 640, 320) == (320, 427)
    assert decoded_size(640, 480, 320) == (427, 320)
    assert decoded_size(240, 320, 320) is None and decoded_size(480, 640, None) is None


def test_decoded_size_rounds_as_short_side_scale_does():
    # The decoder needs the size before any TF op, so it restates
    # augment.short_side_scale's rounding in Python: keep the two in step.
    import tensorflow as tf

    from vidzoo.tf_data.augment import short_side_scale

    for height, width, side in [(480, 640, 320), (720, 1280, 256), (1080, 1920, 182),
                                (361, 641, 160), (333, 500, 256), (481, 853, 128),
                                (312, 798, 182), (312, 1734, 182)]:
        scaled = short_side_scale(tf.zeros((1, height, width, 3)), side)
        assert decoded_size(height, width, side) == tuple(scaled.shape[1:3]), (height, width)


def test_max_short_side_downscales_in_the_rgb_conversion(tmp_path):
    import tensorflow as tf

    path = str(tmp_path / "ramp.mp4")
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    video = np.broadcast_to(ramp[None, None, :, None], (4, 64, 96, 3)).astype(np.uint8)
    encode_video(path, np.ascontiguousarray(video))
    full, _ = read_frames(path, [1, 2])
    scaled, error = read_frames(path, [1, 2], max_short_side=32)
    assert error == "" and full.shape == (2, 64, 96, 3) and scaled.shape == (2, 32, 48, 3)
    # The same picture TF's resize of the full frames gives, within a few levels.
    expected = tf.image.resize(full.astype(np.float32), (32, 48)).numpy()
    assert np.abs(scaled - expected).mean() < 2.0
    larger, _ = read_frames(path, [1], max_short_side=80)  # never upscaled
    np.testing.assert_array_equal(larger[0], full[0])
