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
import dataclasses
import json
import os
from typing import Optional

import numpy as np

from vidzoo.tf_data.video_io import encode_video

CLASSES = ("move_up", "move_down", "move_left", "move_right")
_DIRECTIONS = {"move_up": (-1, 0), "move_down": (1, 0), "move_left": (0, -1),
               "move_right": (0, 1)}
# A mirrored move_left is a move_right: training must not flip horizontally.
FLIP_KEEPS_CLASS = False


@dataclasses.dataclass(frozen=True)
class Difficulty:
    """How hard the videos are.

    glyph_size: the glyph's side, as a fraction of the frame.
    distractor_fraction: (low, high) share of the frames in the distractor chunk.
    background_drift: pixels per frame the background pans, in a random
      direction per video (0: static), like the moving UCF-101 backgrounds of
      seed 004's Move4MNIST.
    noise: standard deviation of per-pixel Gaussian noise added to every frame.
    """

    glyph_size: float = 0.25
    distractor_fraction: tuple = (0.15, 0.35)
    background_drift: int = 0
    noise: float = 0.0


# "easy" is the demo's; "hard" (a smaller glyph, half the video distractors,
# a panning background, sensor noise) leaves room between methods that reach
# ~100% on "easy" (docs/results.md).
DIFFICULTIES = {
    "easy": Difficulty(),
    "hard": Difficulty(glyph_size=0.1875, distractor_fraction=(0.4, 0.6), background_drift=1,
                       noise=12.0),
}


def difficulty_named(name):
    """The `Difficulty` preset `name`; ValueError naming the presets otherwise."""
    if name not in DIFFICULTIES:
        raise ValueError(f"synthetic: difficulty must be one of {sorted(DIFFICULTIES)}; "
                         f"got {name!r}.")
    return DIFFICULTIES[name]


def _background(rng, size):
    """Smooth random texture: low-resolution noise upsampled, in [40, 140]."""
    coarse = rng.uniform(40, 140, size=(size // 8 + 1, size // 8 + 1, 3))
    return np.kron(coarse, np.ones((8, 8, 1)))[:size, :size]


def _glyph(rng, size, glyph_size):
    """A random blocky glyph (like a digit's strokes): a boolean mask."""
    cells = rng.random((5, 5)) < 0.55
    cells[2, :] |= rng.random() < 0.5
    cells[:, 2] |= True
    scale = max(1, int(size * glyph_size) // 5)
    return np.kron(cells, np.ones((scale, scale), bool))


def _track(rng, size, direction, frames, glyph_size):
    """A glyph and its (top, left) in each of `frames` frames, crossing the
    frame in `direction` from edge to edge."""
    glyph = _glyph(rng, size, glyph_size)
    span = size - glyph.shape[0]
    dy, dx = direction
    start = np.array([rng.integers(0, span + 1), rng.integers(0, span + 1)], float)
    start[0] = span if dy < 0 else (0 if dy > 0 else start[0])
    start[1] = span if dx < 0 else (0 if dx > 0 else start[1])
    step = span / max(frames - 1, 1)
    places = [(int(round(start[0] + dy * step * t)), int(round(start[1] + dx * step * t)))
              for t in range(frames)]
    return glyph, places


def _paste(frame, glyph, place, colour):
    (top, left), (height, width) = place, glyph.shape
    frame[top:top + height, left:left + width][glyph] = colour


def _scene(texture, size, frames, drift, direction):
    """(frames, size, size, 3) background: a window on `texture` panning
    `drift` pixels per frame in `direction` (a static frame when drift is 0)."""
    if drift == 0:
        return np.broadcast_to(texture, (frames, size, size, 3))
    travel = drift * (frames - 1)
    frames_out = []
    for t in range(frames):
        top, left = ((travel - drift * t if d < 0 else drift * t if d > 0 else 0)
                     for d in direction)
        frames_out.append(texture[top:top + size, left:left + size])
    return np.stack(frames_out)


def make_video(rng, label, frames=32, size=64, difficulty="easy"):
    """uint8 (frames, size, size, 3) for class index `label`, and the
    (start, end) of its distractor chunk. `difficulty` names a preset of
    DIFFICULTIES or is a `Difficulty`."""
    hardness = difficulty if isinstance(difficulty, Difficulty) else difficulty_named(difficulty)
    drift = hardness.background_drift
    texture = _background(rng, size + drift * (frames - 1))
    colour = rng.uniform(200, 255, size=3)
    chunk = int(round(frames * rng.uniform(*hardness.distractor_fraction)))
    glyph, places = _track(rng, size, _DIRECTIONS[CLASSES[label]], frames - chunk,
                           hardness.glyph_size)
    kind = rng.integers(0, 3)
    if kind == 2:
        diagonal = (rng.choice([-1, 1]), rng.choice([-1, 1]))
        other_colour = rng.uniform(150, 255, 3)
        other, other_places = _track(rng, size, diagonal, chunk, hardness.glyph_size)
    position = int(rng.integers(0, frames - chunk + 1))
    pan = (0, 0)
    while drift and pan == (0, 0):
        pan = tuple(int(d) for d in rng.integers(-1, 2, size=2))
    video = _scene(texture, size, frames, drift, pan).astype(float)  # a copy to paint on
    action_frames = [t for t in range(frames) if not position <= t < position + chunk]
    for t, place in zip(action_frames, places):
        _paste(video[t], glyph, place, colour)
    if kind == 0:
        video[position:position + chunk] = 0
    elif kind == 2:
        for t, place in enumerate(other_places, start=position):
            _paste(video[t], other, place, other_colour)
    if hardness.noise:
        video += rng.normal(0, hardness.noise, video.shape)
    return np.clip(video, 0, 255).astype(np.uint8), (position, position + chunk)


def make_dataset(root: str, train_per_class: int = 12, val_per_class: int = 4,
                 frames: int = 32, size: int = 64, fps: int = 25, seed: int = 0,
                 difficulty: str = "easy", keyframe_interval: Optional[int] = None) -> dict:
    """Write the dataset under `root`; returns {"train": csv, "val": csv, "classes": json}.

    Args:
      root: the folder the videos, manifests and class list go to.
      train_per_class, val_per_class: videos per class in each split.
      frames, size, fps: each video's length, square frame side and rate.
      seed: the random draws of every video.
      difficulty: a preset of `DIFFICULTIES` ("easy", "hard").
      keyframe_interval: frames between H.264 keyframes (None: libx264's 250).

    Existing files with the same settings are reused (a `settings.json`
    records them), so repeated demo runs do not re-encode.
    """
    os.makedirs(root, exist_ok=True)
    difficulty_named(difficulty)
    settings = dict(train_per_class=train_per_class, val_per_class=val_per_class,
                    frames=frames, size=size, fps=fps, seed=seed, classes=list(CLASSES),
                    difficulty=difficulty)
    if keyframe_interval:  # only when set, so older datasets' settings still match
        settings["keyframe_interval"] = keyframe_interval
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
                video, _ = make_video(rng, label, frames, size, difficulty)
                path = os.path.join(folder, f"{name}_{index:04d}.mp4")
                encode_video(path, video, fps=fps, keyframe_interval=keyframe_interval)
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
