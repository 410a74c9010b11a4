"""tf.data pipelines on real files: modes, multi-view layout, determinism,
and a fuzz test with truncated and garbled files."""

import dataclasses
import os

import numpy as np
import pytest

from vidzoo.tf_data import manifest, synthetic
from vidzoo.tf_data.decode import BadVideoLog
from vidzoo.tf_data.pipeline import ClipConfig, video_dataset

CONFIG = ClipConfig(clip_len=4, stride=2, crop_size=32, scale_range=(36, 44), eval_scale=36,
                    num_clips=2, num_crops=3, max_frames=20, num_segments=2, segment_len=3)


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    synthetic.make_dataset(root, train_per_class=3, val_per_class=1, frames=16, size=48, seed=2)
    return root


def _train_manifest(root):
    return manifest.from_csv(os.path.join(root, "train.csv"))


def test_train_batches(dataset_root):
    data = video_dataset(_train_manifest(dataset_root), "train", 5, CONFIG, seed=0)
    batches = list(data)
    assert sum(len(labels) for _, labels in batches) == 12
    clips, labels = batches[0]
    assert clips.shape == (5, 4, 32, 32, 3) and clips.dtype == "float32"
    assert set(np.concatenate([l.numpy() for _, l in batches])) == {0, 1, 2, 3}


def test_deterministic_mode_repeats_exactly(dataset_root):
    def run():
        data = video_dataset(_train_manifest(dataset_root), "train", 4, CONFIG, seed=5,
                             deterministic=True)
        return [(c.numpy(), l.numpy()) for c, l in data]

    first, second = run(), run()
    for (c1, l1), (c2, l2) in zip(first, second):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(c1, c2)


def test_parallel_calls_change_the_speed_not_the_clips(dataset_root):
    def run(calls):
        data = video_dataset(_train_manifest(dataset_root), "train", 4, CONFIG, seed=5,
                             deterministic=True, parallel_calls=calls)
        return [c.numpy() for c, _ in data]

    for a, b in zip(run(1), run(None)):
        np.testing.assert_array_equal(a, b)


def test_a_second_iterator_over_the_stream_sees_the_same_clips(dataset_root):
    # JAX's and PyTorch's fit() open the training dataset twice (a batch to
    # build the model, then the epochs): tf.data's reshuffling shuffle would
    # have given the second iterator other epochs than a resumed run sees.
    data = video_dataset(_train_manifest(dataset_root), "train", 1, CONFIG, seed=3,
                         deterministic=True, repeat=True)
    next(iter(data))
    first = [c.numpy() for c, _ in data.take(14)]
    second = [c.numpy() for c, _ in data.take(14)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_skipping_into_a_repeated_stream_gives_the_same_clips(dataset_root, tmp_path):
    """repeat=True, skip=N (a resumed run): element N onwards of the full
    stream, across an epoch boundary, with an unopenable file that does not
    shift it. Epochs are reshuffled and redrawn."""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 40)
    m = _train_manifest(dataset_root)
    m = manifest.Manifest(m.paths + [str(broken)], m.labels + [0], m.class_names)

    def stream(skip):
        data = video_dataset(m, "train", 1, CONFIG, seed=3, deterministic=True, repeat=True,
                             skip=skip)
        return [(c.numpy(), l.numpy()) for c, l in data.take(24 - skip)]

    whole, resumed = stream(0), stream(10)
    for (c1, l1), (c2, l2) in zip(whole[10:], resumed):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(c1, c2)
    first, second = whole[:12], whole[12:]  # 12 readable videos per epoch
    assert sorted(int(l[0]) for _, l in first) == sorted(int(l[0]) for _, l in second)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, second))


def test_eval_views_are_folded_with_video_ids(dataset_root):
    m = manifest.from_csv(os.path.join(dataset_root, "val.csv"))
    batches = list(video_dataset(m, "eval", 6, CONFIG, seed=0, deterministic=True))
    assert len(batches) == 4  # 4 videos x (2 clips x 3 crops) = 24 views, batches of 6
    ids = np.concatenate([b["video_id"].numpy() for b in batches])
    views = np.concatenate([b["view"].numpy() for b in batches])
    labels = np.concatenate([b["label"].numpy() for b in batches])
    np.testing.assert_array_equal(ids, np.repeat(np.arange(4), 6))
    np.testing.assert_array_equal(views, np.tile(np.arange(6), 4))
    np.testing.assert_array_equal(labels, np.repeat(m.labels, 6))
    assert batches[0]["video"].shape == (6, 4, 32, 32, 3)


def test_full_video_and_segment_modes(dataset_root):
    m = _train_manifest(dataset_root)
    features, labels = next(iter(video_dataset(m, "full", 2, CONFIG, shuffle=False)))
    assert features["video"].shape == (2, 20, 32, 32, 3)
    np.testing.assert_array_equal(features["mask"].numpy().sum(axis=1), [16, 16])
    assert np.all(features["video"].numpy()[:, 16:] == 0)
    clips, _ = next(iter(video_dataset(m, "segments", 2, CONFIG)))
    assert clips.shape == (2, 6, 32, 32, 3)


def test_bad_arguments_are_named():
    m = manifest.Manifest(["a.mp4"], [0], ["a"])
    with pytest.raises(ValueError, match="mode must be one of"):
        video_dataset(m, "test")
    with pytest.raises(ValueError, match="deterministic=True needs a seed"):
        video_dataset(m, deterministic=True)
    with pytest.raises(ValueError, match="skip needs repeat=True"):
        video_dataset(m, skip=3)
    with pytest.raises(ValueError, match="skip must be >= 0"):
        video_dataset(m, repeat=True, skip=-1)
    for calls in (0, 2.5):
        with pytest.raises(ValueError, match="parallel_calls must be a positive int"):
            video_dataset(m, parallel_calls=calls)


def test_fuzz_bad_files_never_stop_an_epoch(dataset_root, tmp_path):
    m = _train_manifest(dataset_root)
    rng = np.random.default_rng(0)
    bad = []
    for index, path in enumerate(m.paths[:4]):
        data = open(path, "rb").read()
        target = str(tmp_path / f"bad{index}.mp4")
        if index == 0:
            data = data[: len(data) // 10]          # truncated
        elif index == 1:
            data = bytes(rng.integers(0, 256, len(data), dtype=np.uint8))  # garbage
        elif index == 2:
            data = b""                                  # empty file
        else:
            data = b"this is a text file, not a video\n" * 20
        with open(target, "wb") as handle:
            handle.write(data)
        bad.append(target)
    fuzzed = manifest.Manifest(m.paths + bad, m.labels + [0] * 4, m.class_names)
    log = BadVideoLog()
    seen = 0
    for clips, labels in video_dataset(fuzzed, "train", 4, CONFIG, seed=1, bad_videos=log):
        assert np.all(np.isfinite(clips.numpy()))
        seen += len(labels)
    unreadable = set(log.failures)
    assert set(bad[1:]) <= unreadable            # garbage, empty, text: reported
    assert set(m.paths).isdisjoint(unreadable)   # good files untouched
    assert seen == len(m.paths) + (bad[0] not in unreadable)
    assert "unreadable videos skipped" in log.summary()


def test_scaling_in_the_decoder_gives_the_clips_tf_resizing_gives(dataset_root):
    # The 48-px videos are larger than the 36-44 px scales, so the decoder downscales.
    assert CONFIG.decode_short_side("train") == 44 and CONFIG.decode_short_side("eval") == 36
    batches = {}
    for in_decoder in (True, False):
        config = dataclasses.replace(CONFIG, scale_in_decoder=in_decoder)
        assert config.decode_short_side("eval") == (36 if in_decoder else None)
        data = video_dataset(_train_manifest(dataset_root), "eval", 12, config, seed=0,
                             deterministic=True)  # the same videos in the same order
        batches[in_decoder] = next(iter(data))["video"].numpy()
    assert batches[True].shape == batches[False].shape
    # Normalized pixels (std 0.225): a mean difference under 0.1 is under 6 levels of 255.
    assert np.abs(batches[True] - batches[False]).mean() < 0.1
