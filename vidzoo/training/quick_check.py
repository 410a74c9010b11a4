"""A short end-to-end check: real encoded videos -> a small 3D CNN with SGS -> fit.

Stands in for the full `vidzoo demo` until the training issue lands it. It
writes a few tiny H.264 clips of a square moving in one of four directions
(half of them with long still segments), decodes them with PyAV, trains a
Conv3D -> SGS -> Conv3D classifier for a few epochs with fit(), and reports
accuracy and the per-clip B' that SGS chose.
"""

import os
import time

import keras
import numpy as np

from vidzoo.layers import SimilarityGuidedSampling
from vidzoo.tf_data.video_io import decode_video, encode_video

DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def moving_square_clip(direction, still_frames, frames, size, rng):
    """A bright square moving one pixel step per frame after `still_frames`."""
    clip = np.full((frames, size, size, 3), 40, np.uint8)
    clip += rng.integers(0, 20, size=(1, size, size, 3), dtype=np.uint8)
    row, col = size // 2 - 4, size // 2 - 4
    for t in range(frames):
        step = max(0, t - still_frames) * 2
        r = int(np.clip(row + direction[0] * step, 0, size - 8))
        c = int(np.clip(col + direction[1] * step, 0, size - 8))
        clip[t, r : r + 8, c : c + 8] = 230
    return clip


def write_clips(workdir, count, frames, size, seed):
    """Encode `count` labelled mp4 clips; returns [(path, label, still_frames)]."""
    rng = np.random.default_rng(seed)
    os.makedirs(workdir, exist_ok=True)
    clips = []
    for index in range(count):
        label = index % len(DIRECTIONS)
        still = int(rng.integers(frames // 2, frames - 4)) if index % 2 else 0
        path = os.path.join(workdir, f"clip_{index:03d}_class{label}.mp4")
        encode_video(path, moving_square_clip(DIRECTIONS[label], still, frames, size, rng))
        clips.append((path, label, still))
    return clips


def build_model(frames, size, classes):
    inputs = keras.Input((frames, size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv3D(16, 3, strides=(1, 2, 2), padding="same", activation="relu")(x)
    x, active_bins = SimilarityGuidedSampling(return_active_bins=True, name="sgs")(x)
    x = keras.layers.Conv3D(32, 3, strides=(1, 2, 2), padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling3D()(x)
    logits = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, logits), keras.Model(inputs, [logits, active_bins])


def run_quick_check(workdir, clips=24, frames=16, size=32, epochs=8, seed=0):
    """Encode, decode, train and report; returns a dict of measured results."""
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    written = write_clips(workdir, clips, frames, size, seed)
    videos = np.stack([decode_video(path, max_frames=frames) for path, _, _ in written])
    labels = np.array([label for _, label, _ in written])
    model, with_bins = build_model(frames, size, len(DIRECTIONS))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(videos, labels, batch_size=4, epochs=epochs, verbose=0)
    logits, bins = with_bins.predict(videos, batch_size=8, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == labels))
    still = np.array([s for _, _, s in written])
    return {
        "clips": clips,
        "frames": frames,
        "decoded_shape": list(videos.shape),
        "final_train_loss": float(history.history["loss"][-1]),
        "train_accuracy": accuracy,
        "mean_active_bins_moving": float(bins[still == 0].mean()),
        "mean_active_bins_with_still_segment": float(bins[still > 0].mean()),
        "seconds": time.perf_counter() - start,
    }
