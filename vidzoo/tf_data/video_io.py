"""Video file I/O with PyAV (bundles FFmpeg): encode frames, decode a file.

The full tf.data pipeline (sampling, augmentation, records, bad-input
handling) builds on these; see the tf_data issue.
"""

import av
import numpy as np


def encode_video(path, frames, fps=25, codec="libx264"):
    """Write uint8 RGB frames (T, H, W, 3) to `path` (mp4 with H.264 by default).

    H and W must be even for yuv420p; odd sizes raise ValueError.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"encode_video expects uint8 frames of shape (T, H, W, 3); got "
            f"{frames.dtype} {frames.shape}."
        )
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"encode_video needs even height and width; got {height}x{width}.")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode_video(path, max_frames=None):
    """Decode a video file to uint8 RGB frames (T, H, W, 3).

    Raises ValueError naming the file if it cannot be decoded or has no frames.
    """
    frames = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except (av.error.FFmpegError, IndexError) as error:
        raise ValueError(f"cannot decode video {path}: {error}") from error
    if not frames:
        raise ValueError(f"video {path} has no decodable frames")
    return np.stack(frames)
