"""Datasets for training and evaluation, from a manifest or TFRecord shards.

A *source* is a path given on the command line:

* a CSV manifest (`path,label`) or a folder of class folders: videos decoded
  with PyAV (`tf_data.video_dataset`);
* a TFRecord file pattern such as `records/train-*` (anything containing `*`
  or ending in `.tfrecord`): shards written by `vidzoo prepare`, with the
  `classes.json` written next to them (`tf_data.record_dataset`).
"""

import dataclasses
import glob
import os

import tensorflow as tf

from vidzoo.tf_data.augment import KINETICS_MEAN, KINETICS_STD
from vidzoo.tf_data import manifest as manifests
from vidzoo.tf_data.pipeline import ClipConfig, video_dataset
from vidzoo.tf_data.records import record_dataset
from vidzoo.zoo import presets


@dataclasses.dataclass
class Source:
    """A resolved dataset: either a manifest or a list of TFRecord shards."""

    path: str
    class_names: list
    num_videos: int
    manifest: manifests.Manifest = None
    shards: list = None


def is_records(path):
    return "*" in path or path.endswith(".tfrecord")


def _count_records(shards):
    return sum(1 for shard in shards for _ in tf.data.TFRecordDataset(shard))


def load_source(path, class_names=None, what="dataset"):
    """Resolve `path` into a `Source`; `class_names` (a training run's mapping)
    fixes the label ids. Raises a ValueError naming what was expected."""
    if not path:
        raise ValueError(f"{what}: a path is required (a CSV manifest, a folder of class "
                         "folders, or a TFRecord pattern like records/train-*).")
    if is_records(path):
        shards = sorted(glob.glob(path))
        if not shards:
            raise ValueError(f"{what}: no TFRecord files match {path!r}.")
        classes_file = os.path.join(os.path.dirname(os.path.abspath(shards[0])), "classes.json")
        if not os.path.exists(classes_file):
            raise ValueError(f"{what}: {classes_file} is missing; `vidzoo prepare` writes it "
                             "next to the shards.")
        names = manifests.load_classes(classes_file)
        if class_names is not None and list(names) != list(class_names):
            raise ValueError(f"{what}: the classes of {path} ({names}) differ from the "
                             f"run's classes ({list(class_names)}).")
        return Source(path, list(names), _count_records(shards), shards=shards)
    if os.path.isdir(path):
        data = manifests.from_folders(path, class_names=class_names, on_missing="skip")
    elif os.path.isfile(path):
        data = manifests.from_csv(path, class_names=class_names, on_missing="skip")
    else:
        raise ValueError(f"{what}: {path} does not exist; expected a CSV manifest, a folder "
                         "of class folders, or a TFRecord pattern.")
    if len(data) == 0:
        raise ValueError(f"{what}: {path} lists no videos.")
    return Source(path, list(data.class_names), len(data), manifest=data)


def shard_source(source, num_shards, index):
    """The part of `source` one worker of `num_shards` reads (manifests by
    video, TFRecords by file when there are enough files)."""
    if num_shards == 1:
        return source
    if source.manifest is not None:
        data = source.manifest
        part = manifests.Manifest(data.paths[index::num_shards], data.labels[index::num_shards],
                                  data.class_names)
        return dataclasses.replace(source, manifest=part, num_videos=len(part))
    if len(source.shards) < num_shards:
        raise ValueError(f"{source.path}: {len(source.shards)} TFRecord files cannot be split "
                         f"among {num_shards} workers; write at least {num_shards} shards.")
    shards = source.shards[index::num_shards]
    return dataclasses.replace(source, shards=shards, num_videos=_count_records(shards))


def dataset(source, mode, batch_size, config, seed=None, deterministic=False, bad_videos=None,
            drop_remainder=False, repeat=False, skip=0):
    """`video_dataset` or `record_dataset` over `source`."""
    options = dict(seed=seed, deterministic=deterministic, drop_remainder=drop_remainder,
                   repeat=repeat, skip=skip)
    if source.manifest is not None:
        return video_dataset(source.manifest, mode, batch_size, config, bad_videos=bad_videos,
                             **options)
    return record_dataset(source.shards, mode, batch_size, config, **options)


def clip_config(frames, stride, crop_size, num_clips=1, num_crops=1, flip=True,
                normalization=None, eval_scale=None):
    """A `ClipConfig` whose scales follow the 224-crop convention (train
    short side jittered in [256, 320], evaluated at 256) scaled to `crop_size`;
    `flip`: random horizontal flips in training; `normalization`: (mean,
    std), Kinetics' by default (`run_normalization`); `eval_scale`: a
    preset's own short side instead of the convention's."""
    scale = crop_size / 224
    mean, std = normalization or run_normalization(None)
    return ClipConfig(clip_len=frames, stride=stride, crop_size=crop_size,
                      scale_range=(round(256 * scale), round(320 * scale)),
                      eval_scale=eval_scale or round(256 * scale), num_clips=num_clips,
                      num_crops=num_crops, flip=flip, mean=tuple(mean), std=tuple(std))


def run_normalization(init_from):
    """(mean, std) of a run: its preset's when it starts from one (the
    weights expect them; torchvision's differ from Kinetics' 0.45 / 0.225),
    else Kinetics'."""
    if init_from and presets.is_preset(init_from):
        prep = presets.preprocessing(init_from)
        return tuple(prep.mean), tuple(prep.std)
    return KINETICS_MEAN, KINETICS_STD


# ---------------------------------------------------------------------------
# The streams of a training run (`config` is its TrainConfig)


def _one_hot(classes):
    return lambda clip, label: (clip, tf.one_hot(label, classes))


def train_dataset(source, config, worker, classes, bad_videos, start_step=0):
    """The endless training stream of one worker from optimizer step
    `start_step` on: a resumed run skips the clips the steps before it read
    (before decoding them), so it sees what the uninterrupted run would have."""
    clips = config.clip_config()
    # Every worker batches by the global size; tf.distribute rebatches it to
    # the per-replica size, so a step takes batch_size clips in all.
    part = shard_source(source, worker.num_workers, worker.index)
    data = dataset(part, "train", config.batch_size, clips, seed=config.seed + worker.index,
                            deterministic=config.deterministic, bad_videos=bad_videos,
                            drop_remainder=True, repeat=True,
                            skip=start_step * config.batch_size)
    data = data.map(_one_hot(classes))
    if worker.num_workers > 1:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        data = data.with_options(options)
    return data


def val_dataset(source, config, classes, bad_videos):
    data = dataset(source, "eval", config.batch_size, config.clip_config(),
                            seed=config.seed, deterministic=config.deterministic,
                            bad_videos=bad_videos)
    data = data.map(lambda batch: (batch["video"], tf.one_hot(batch["label"], classes)))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.repeat().with_options(options)


def probe_clips(source, config, count):
    """`count` fixed centre clips (the first videos of `source`) for adaptive stats."""
    data = dataset(source, "eval", count, config.clip_config())
    return next(iter(data))["video"].numpy()
