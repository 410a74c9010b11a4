"""Small real video files for the tf_data tests."""

import numpy as np

from vidzoo.tf_data.video_io import encode_video


def numbered_video(path, frames=12, size=(32, 48), fps=25):
    """A video whose frame t has brightness 20 * t (readable after H.264)."""
    height, width = size
    video = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        video[t] = min(20 * t, 255)
    encode_video(path, video, fps=fps)
    return video


def brightness(frames):
    return np.asarray(frames, np.float32).mean(axis=(1, 2, 3))
