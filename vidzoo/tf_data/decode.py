"""Decode video files with PyAV, reading only the frames a clip needs.

* `probe(path, target_fps)` -> number of frames (on the target-fps timeline
  when resampling), from the container's metadata; 0 and a reason when the
  file cannot be opened or has no video stream.
* `read_frames(path, indices, target_fps)` -> uint8 RGB (len(indices), H, W, 3):
  decodes sequentially and stops after the last index needed. Grayscale and
  other pixel formats are converted to RGB by FFmpeg; odd sizes are kept.
  With `target_fps`, target frame j is source frame floor(j * fps / target_fps)
  (the stream's average rate; variable-rate files are treated at that rate).
  If the file ends early (truncated), missing frames repeat the last decoded
  one and the shortfall is reported.

Bad files never raise here: both functions return an error string, which
`BadVideoLog` records once per path; the pipeline drops those elements and
`BadVideoLog.summary()` reports them.
"""

import threading

import av
import numpy as np
from absl import logging


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


def read_frames(path, indices, target_fps=None):
    """(uint8 frames (len(indices), H, W, 3), error). Empty frames on failure."""
    empty = np.zeros((0, 1, 1, 3), np.uint8)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return empty, "no frame indices"
    try:
        container = _open(path)
    except Exception as error:
        return empty, f"cannot open: {error}"
    wanted = _source_indices(indices, _source_rate(container.streams.video[0]), target_fps)
    needed = set(int(i) for i in wanted)
    last = int(wanted.max())
    decoded = {}
    error = ""
    with container:
        try:
            for number, frame in enumerate(container.decode(video=0)):
                if number in needed:
                    decoded[number] = frame.to_ndarray(format="rgb24")
                if number >= last:
                    break
        except Exception as failure:
            error = f"decode error after {len(decoded)} frames: {failure}"
    if not decoded:
        return empty, error or "no decodable frames"
    available = sorted(decoded)
    frames = []
    for source in wanted:
        position = np.searchsorted(available, source, side="right") - 1
        frames.append(decoded[available[max(position, 0)]])
    return np.stack(frames), error
