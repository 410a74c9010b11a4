"""An embedded demo dataset of real encoded videos in which temporal order
matters, modelled on seed 004's Move4MNIST.

Each video shows a bright glyph moving in one of four directions (the class:
up, down, left, right) over a smooth textured background. A random
contiguous chunk of distractor frames is inserted at a random position:
black frames, background-only frames, or another glyph moving diagonally
(a direction that is no class). "up" and "down" differ only in the order of
their frames, so a model that ignores time cannot separate them. A mirrored
"left" video is a "right" one: train without random horizontal flips
(`TrainConfig(flip=FLIP_KEEPS_CLASS)`, `vidzoo train --noflip`).

Videos are written as H.264 mp4 with PyAV into `root/<split>/<class>/`, with
`root/<split>.csv` manifests (`path,label`) and `root/classes.json`.
Deterministic from the seed; about 0.05 s per 32-frame 64x64 video on 2 cores.
"""

import csv
import json
import os

import numpy as np

from vidzoo.tf_data.video_io import encode_video

CLASSES = ("move_up", "move_down", "move_left", "move_right")
_DIRECTIONS = {"move_up": (-1, 0), "move_down": (1, 0), "move_left": (0, -1),
               "move_right": (0, 1)}
_GLYPH_SIZE = 0.25  # of the frame size
# A mirrored move_left is a move_right: training must not flip horizontally.
FLIP_KEEPS_CLASS = False


def _background(rng, size):
    """Smooth random texture: low-resolution noise upsampled, in [40, 140]."""
    coarse = rng.uniform(40, 140, size=(size // 8 + 1, size // 8 + 1, 3))
    return np.kron(coarse, np.ones((8, 8, 1)))[:size, :size]


def _glyph(rng, size):
    """A random blocky glyph (like a digit's strokes): a boolean mask."""
    cells = rng.random((5, 5)) < 0.55
    cells[2, :] |= rng.random() < 0.5
    cells[:, 2] |= True
    scale = max(1, int(size * _GLYPH_SIZE) // 5)
    return np.kron(cells, np.ones((scale, scale), bool))


def _paste(frame, glyph, top, left, colour):
    height, width = glyph.shape
    frame[top:top + height, left:left + width][glyph] = colour


def _moving_frames(rng, background, direction, frames, colour):
    size = background.shape[0]
    glyph = _glyph(rng, size)
    span = size - glyph.shape[0]
    dy, dx = direction
    start = np.array([rng.integers(0, span + 1), rng.integers(0, span + 1)], float)
    start[0] = span if dy < 0 else (0 if dy > 0 else start[0])
    start[1] = span if dx < 0 else (0 if dx > 0 else start[1])
    step = span / max(frames - 1, 1)
    video = []
    for t in range(frames):
        frame = background.copy()
        top = int(round(start[0] + dy * step * t))
        left = int(round(start[1] + dx * step * t))
        _paste(frame, glyph, top, left, colour)
        video.append(frame)
    return np.stack(video)


def make_video(rng, label, frames=32, size=64, distractor_fraction=(0.15, 0.35)):
    """uint8 (frames, size, size, 3) for class index `label`, and the
    (start, end) of its distractor chunk."""
    background = _background(rng, size)
    colour = rng.uniform(200, 255, size=3)
    chunk = int(round(frames * rng.uniform(*distractor_fraction)))
    action = _moving_frames(rng, background, _DIRECTIONS[CLASSES[label]], frames - chunk,
                            colour)
    kind = rng.integers(0, 3)
    if kind == 0:
        distractor = np.zeros((chunk, size, size, 3))
    elif kind == 1:
        distractor = np.broadcast_to(background, (chunk, size, size, 3))
    else:
        diagonal = (rng.choice([-1, 1]), rng.choice([-1, 1]))
        distractor = _moving_frames(rng, background, diagonal, chunk, rng.uniform(150, 255, 3))
    position = int(rng.integers(0, frames - chunk + 1))
    video = np.concatenate([action[:position], distractor, action[position:]])
    return np.clip(video, 0, 255).astype(np.uint8), (position, position + chunk)


def make_dataset(root, train_per_class=12, val_per_class=4, frames=32, size=64, fps=25,
                 seed=0):
    """Write the dataset under `root`; returns {"train": csv, "val": csv, "classes": json}.

    Existing files with the same settings are reused (a `settings.json`
    records them), so repeated demo runs do not re-encode.
    """
    os.makedirs(root, exist_ok=True)
    settings = dict(train_per_class=train_per_class, val_per_class=val_per_class,
                    frames=frames, size=size, fps=fps, seed=seed, classes=list(CLASSES))
    settings_path = os.path.join(root, "settings.json")
    outputs = {split: os.path.join(root, f"{split}.csv") for split in ("train", "val")}
    outputs["classes"] = os.path.join(root, "classes.json")
    if os.path.exists(settings_path) and all(os.path.exists(p) for p in outputs.values()):
        with open(settings_path) as handle:
            if json.load(handle) == settings:
                return outputs
    rng = np.random.default_rng(seed)
    for split, per_class in (("train", train_per_class), ("val", val_per_class)):
        rows = []
        for label, name in enumerate(CLASSES):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for index in range(per_class):
                video, _ = make_video(rng, label, frames, size)
                path = os.path.join(folder, f"{name}_{index:04d}.mp4")
                encode_video(path, video, fps=fps)
                rows.append((os.path.relpath(path, root), name))
        with open(outputs[split], "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("path", "label"))
            writer.writerows(rows)
    with open(outputs["classes"], "w") as handle:
        json.dump(list(CLASSES), handle, indent=1)
    with open(settings_path, "w") as handle:
        json.dump(settings, handle, indent=1)
    return outputs
