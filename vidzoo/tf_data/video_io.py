"""Video file I/O with PyAV (bundles FFmpeg): encode frames, decode a file.

The full tf.data pipeline (sampling, augmentation, records, bad-input
handling) builds on these; see the tf_data issue.
"""

import fractions

import av
import numpy as np
from av.video.reformatter import VideoReformatter


X264_DETERMINISTIC = {"x264-params": "rc-lookahead=0:no-mbtree=1:bframes=0"}


def encode_video(path, frames, fps=25, codec="libx264", keyframe_interval=None):
    """Write uint8 RGB frames (T, H, W, 3) to `path` (mp4 with H.264 by default).

    `keyframe_interval`: frames from one keyframe to the next (None: the
    codec's default; libx264's 250 makes a short file one group of pictures).

    H and W must be even for yuv420p; odd sizes raise ValueError. The encoder
    runs on one thread and libx264 without its lookahead and macroblock tree:
    with them, the same frames gave different files in concurrent processes
    (and across demo runs), and a seeded dataset must be the same bytes every
    time (deterministic training starts from it).
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
        options = _encoder_options(codec, keyframe_interval)
        stream = container.add_stream(codec, rate=fps, options=options)
        if keyframe_interval and codec != "libx264":
            stream.codec_context.gop_size = keyframe_interval
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.thread_count = 1
        stream.time_base = fractions.Fraction(1, fps)
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index  # frame index in the 1/fps time base
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _encoder_options(codec, keyframe_interval):
    if codec != "libx264":
        return {}
    params = X264_DETERMINISTIC["x264-params"]
    if keyframe_interval:
        params += f":keyint={keyframe_interval}:min-keyint={keyframe_interval}:scenecut=0"
    return {"x264-params": params}


class RGBConverter:
    """Decoded frames to uint8 RGB arrays through one swscale context, reused
    (`VideoFrame.to_ndarray(format="rgb24")` builds one per frame: 14x slower
    at 128x128, the same pixels). One per file and thread.

    `size` (height, width): also downscale, by area averaging, in the same
    swscale pass (None: the decoded size). Area averaging (antialiased) cost
    0.65x swscale's bilinear filter per frame at 480 -> 320 px.
    """

    def __init__(self, size=None):
        self._reformatter = VideoReformatter()
        self._size = {} if size is None else {"height": int(size[0]), "width": int(size[1]),
                                              "interpolation": "AREA"}

    def __call__(self, frame):
        return self._reformatter.reformat(frame, format="rgb24", **self._size).to_ndarray()


def decode_video(path, max_frames=None):
    """Decode a video file to uint8 RGB frames (T, H, W, 3).

    Raises ValueError naming the file if it cannot be decoded or has no frames.
    """
    frames, rgb = [], RGBConverter()
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(rgb(frame))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except (av.error.FFmpegError, IndexError) as error:
        raise ValueError(f"cannot decode video {path}: {error}") from error
    if not frames:
        raise ValueError(f"video {path} has no decodable frames")
    return np.stack(frames)
