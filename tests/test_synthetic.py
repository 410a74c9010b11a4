"""The embedded demo dataset: real mp4 files, deterministic, order matters."""

import numpy as np
import pytest

from vidzoo.tf_data import manifest, synthetic
from vidzoo.tf_data.video_io import decode_video


def test_dataset_is_written_as_real_videos_with_manifests(tmp_path):
    out = synthetic.make_dataset(str(tmp_path), train_per_class=2, val_per_class=1, frames=16,
                                 size=32, seed=3)
    train = manifest.from_csv(out["train"])
    assert len(train) == 8 and train.class_names == sorted(synthetic.CLASSES)
    video = decode_video(train.paths[0])
    assert video.shape == (16, 32, 32, 3) and video.dtype == np.uint8
    assert len(manifest.from_csv(out["val"])) == 4


def test_generation_is_deterministic_and_classes_differ_in_time():
    a, chunk_a = synthetic.make_video(np.random.default_rng(7), 0, frames=16, size=32)
    b, chunk_b = synthetic.make_video(np.random.default_rng(7), 0, frames=16, size=32)
    np.testing.assert_array_equal(a, b)
    assert chunk_a == chunk_b and 0 < chunk_a[1] - chunk_a[0] < 16
    # "up" moves the bright glyph's centre of mass upwards over the action frames.
    up, (start, end) = synthetic.make_video(np.random.default_rng(1), 0, frames=16, size=32)
    action = np.concatenate([up[:start], up[end:]]).astype(float).mean(-1)
    rows = np.arange(32)[None, :, None]
    weight = (action > 190)
    centre = (weight * rows).sum((1, 2)) / np.maximum(weight.sum((1, 2)), 1)
    assert centre[-1] < centre[0]


def test_existing_dataset_is_reused(tmp_path):
    out = synthetic.make_dataset(str(tmp_path), 1, 1, frames=8, size=32)
    stamp = (tmp_path / "train.csv").stat().st_mtime_ns
    assert synthetic.make_dataset(str(tmp_path), 1, 1, frames=8, size=32) == out
    assert (tmp_path / "train.csv").stat().st_mtime_ns == stamp


def test_hard_videos_pan_add_noise_and_hold_longer_distractors():
    video, (start, end) = synthetic.make_video(np.random.default_rng(5), 2, frames=32, size=64,
                                               difficulty="hard")
    low, high = synthetic.DIFFICULTIES["hard"].distractor_fraction
    assert round(32 * low) <= end - start <= round(32 * high)
    action = [t for t in range(32) if not start <= t < end]
    # The glyph (bright in every channel) is 2x2 cells of a 5x5 grid: at most 10x10 px.
    bright = video[action].min(-1) > 185
    rows, columns = np.nonzero(bright[0])
    assert 0 < np.ptp(rows) < 10 and 0 < np.ptp(columns) < 10
    # The background pans: consecutive action frames differ well beyond the
    # noise away from the glyph; an "easy" background is static.
    for difficulty, low, high in (("hard", 15, 255), ("easy", 0, 1e-9)):
        video, (start, end) = synthetic.make_video(np.random.default_rng(5), 2, frames=32,
                                                   size=64, difficulty=difficulty)
        t = next(t for t in range(31) if not (start <= t < end or start <= t + 1 < end))
        a, b = video[t].astype(float), video[t + 1].astype(float)
        away = (a.min(-1) < 185) & (b.min(-1) < 185)
        assert low <= np.abs(a - b)[away].mean() <= high, difficulty

def test_unknown_difficulty_names_the_presets(tmp_path):
    with pytest.raises(ValueError, match=r"difficulty must be one of \['easy', 'hard'\]"):
        synthetic.make_dataset(str(tmp_path), 1, 1, frames=8, size=32, difficulty="medium")
