"""Decode video files with PyAV, reading only the frames a clip needs.

* `probe(path, target_fps)` -> number of frames (on the target-fps timeline
  when resampling), from the container's metadata; 0 and a reason when the
  file cannot be opened or has no video stream. Remembered per file (path,
  size, modification time), so later epochs do not open a file twice.
* `read_frames(path, indices, target_fps)` -> uint8 RGB (len(indices), H, W, 3):
  decodes from the keyframe before the first index needed (constant-rate
  files; others from the start) and stops after the last one. Grayscale and
  other pixel formats are converted to RGB by FFmpeg; odd sizes are kept.
  With `target_fps`, target frame j is source frame floor(j * fps / target_fps)
  (the stream's average rate; variable-rate files are treated at that rate).
  If the file ends early (truncated), missing frames repeat the last decoded
  one and the shortfall is reported. With `max_short_side`, frames whose
  short side is longer are downscaled to it while converting to RGB
  (`decoded_size`), so nothing larger than augmentation needs is produced.

Bad files never raise here: both functions return an error string, which
`BadVideoLog` records once per path; the pipeline drops those elements and
`BadVideoLog.summary()` reports them.
"""

import functools
import os
import threading

import av
import numpy as np
from absl import logging

from vidzoo.tf_data.video_io import RGBConverter


class BadVideoLog:
    """Thread-safe record of files that failed, logged once per path."""

    def __init__(self):
        self._lock = threading.Lock()
        self.failures = {}

    def record(self, path, reason):
        with self._lock:
            if path in self.failures:
                return
            self.failures[path] = reason
        logging.warning("Skipping unreadable video %s: %s", path, reason)

    def summary(self):
        with self._lock:
            if not self.failures:
                return "no unreadable videos"
            lines = [f"{len(self.failures)} unreadable videos skipped:"]
            lines += [f"  {path}: {reason}" for path, reason in sorted(self.failures.items())]
            return "\n".join(lines)


def _open(path):
    container = av.open(str(path))
    if not container.streams.video:
        container.close()
        raise ValueError("no video stream")
    return container


def _source_rate(stream):
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe(path, target_fps=None):
    """(frame count, fps, error). Count 0 with an error for unreadable files."""
    try:
        status = os.stat(path)
    except OSError as error:
        return 0, 0.0, f"cannot open: {error}"
    return _probe_file(str(path), status.st_size, status.st_mtime_ns, target_fps)


@functools.lru_cache(maxsize=1 << 20)
def _probe_file(path, size, modified, target_fps):
    """`probe` of one version of a file (size and modification time key it)."""
    try:
        container = _open(path)
    except Exception as error:  # PyAV raises many FFmpeg error types
        return 0, 0.0, f"cannot open: {error}"
    with container:
        stream = container.streams.video[0]
        fps = _source_rate(stream)
        count = stream.frames
        if not count and stream.duration and stream.time_base and fps:
            count = int(float(stream.duration * stream.time_base) * fps)
        if not count:
            try:
                count = sum(1 for _ in container.decode(video=0))
            except Exception as error:
                return 0, fps, f"cannot decode: {error}"
    if count <= 0:
        return 0, fps, "no frames"
    if target_fps and fps:
        count = max(1, int(count * target_fps / fps))
    return int(count), fps, ""


def _source_indices(indices, fps, target_fps):
    indices = np.asarray(indices, dtype=np.int64)
    if target_fps and fps:
        return np.floor(indices * fps / target_fps).astype(np.int64)
    return indices


def _constant_rate(stream, fps):
    """True when the header's frame count matches its duration at `fps`, so a
    frame's number can be read from its timestamp (constant frame rate)."""
    if not (fps and stream.frames and stream.duration and stream.time_base):
        return False
    return abs(float(stream.duration * stream.time_base) * fps - stream.frames) <= 1


def _decode_sequentially(container, stream, needed, last, decoded, rgb):
    """Fill `decoded` {frame number: RGB frame} for `needed`, counting frames
    from the start."""
    number, frame = -1, None
    for number, frame in enumerate(container.decode(stream)):
        if number in needed:
            decoded[number] = rgb(frame)
        if number >= last:
            return
    _keep_final(decoded, number, frame, rgb)


def _keep_final(decoded, number, frame, rgb):
    """The file ended before the last needed frame: keep its final frame, which
    the missing ones repeat."""
    if frame is not None and number not in decoded:
        decoded[number] = rgb(frame)


def _decode_from_keyframe(container, stream, needed, first, last, fps, decoded, rgb):
    """Fill `decoded` for `needed`, decoding from the keyframe at or before
    `first` and numbering frames by timestamp. False (and `decoded` emptied)
    when the timestamps do not number the frames one by one: the caller then
    decodes from the start."""
    origin = stream.start_time or 0
    seconds_per_tick = stream.time_base
    container.seek(origin + int(first / fps / seconds_per_tick), stream=stream, backward=True,
                   any_frame=False)
    previous, frame = None, None
    for frame in container.decode(stream):
        number = None if frame.pts is None else round(
            float((frame.pts - origin) * seconds_per_tick) * fps)
        expected = number is not None and (number <= first if previous is None
                                           else number == previous + 1)
        if not expected:
            decoded.clear()
            return False
        previous = number
        if number in needed:
            decoded[number] = rgb(frame)
        if number >= last:
            return True
    _keep_final(decoded, previous, frame, rgb)
    return True


def decoded_size(height, width, max_short_side):
    """(height, width) with the short side cut to `max_short_side` and the
    aspect kept (rounded as `augment.short_side_scale` rounds), or None when
    the frame is not larger (frames are never upscaled here)."""
    if not max_short_side or min(height, width) <= max_short_side:
        return None
    # float32 and round-half-to-even, as TF computes it: float64 differs by a
    # pixel on some sizes (312x798 to 182).
    sizes = np.array([height, width], np.float32)
    scaled = np.round(sizes * (np.float32(max_short_side) / sizes.min()))
    return tuple(int(max(size, max_short_side)) for size in scaled)


def read_frames(path, indices, target_fps=None, seek=True, threads=1, max_short_side=None):
    """(uint8 frames (len(indices), H, W, 3), error). Empty frames on failure.

    With `seek`, a constant-rate file whose first needed frame lies past a
    keyframe is decoded from that keyframe, not from the start; the result is
    the same frames. `threads`: FFmpeg decoding threads per file (0: FFmpeg's
    choice); tf.data already decodes several files in parallel.
    `max_short_side`: downscale larger frames to this short side in FFmpeg's
    RGB conversion (area averaging), cheaper than resizing full frames after.
    """
    empty = np.zeros((0, 1, 1, 3), np.uint8)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return empty, "no frame indices"
    try:
        container = _open(path)
    except Exception as error:
        return empty, f"cannot open: {error}"
    stream = container.streams.video[0]
    stream.thread_count = threads
    if threads != 1:
        stream.thread_type = "AUTO"  # frame and slice threads
    fps = _source_rate(stream)
    wanted = _source_indices(indices, fps, target_fps)
    needed = set(int(i) for i in wanted)
    first, last = int(wanted.min()), int(wanted.max())
    context = stream.codec_context
    decoded = {}
    rgb = RGBConverter(decoded_size(context.height, context.width, max_short_side))
    error = ""
    with container:
        try:
            if seek and first > 0 and _constant_rate(stream, fps):
                if not _decode_from_keyframe(container, stream, needed, first, last, fps,
                                             decoded, rgb):
                    container.seek(0, stream=stream, backward=True, any_frame=False)
                    _decode_sequentially(container, stream, needed, last, decoded, rgb)
            else:
                _decode_sequentially(container, stream, needed, last, decoded, rgb)
        except Exception as failure:
            error = f"decode error after {len(decoded)} frames: {failure}"
    if not decoded:
        return empty, error or "no decodable frames"
    available = sorted(decoded)
    if not error and available[-1] < last:
        error = f"the file ends after frame {available[-1]}; later frames repeat it"
    frames = []
    for source in wanted:
        position = np.searchsorted(available, source, side="right") - 1
        frames.append(decoded[available[max(position, 0)]])
    return np.stack(frames), error
