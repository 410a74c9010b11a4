"""Sharded TFRecords of `tf.train.SequenceExample`, one per video, with the
MediaSequence keys the TF Model Garden's `video_input.py` reads:

* context `clip/media_id` (bytes: the source path), `clip/label/index`
  (int64), `clip/label/string` (bytes), `clip/frames` (int64);
* feature list `image/encoded`: one JPEG per frame.

`write_records` decodes each video once (PyAV) and encodes its frames as
JPEG, skipping unreadable files (logged, returned in the summary).
`record_dataset` parses only the JPEG strings, samples frame indices in TF
ops, and runs `tf.io.decode_jpeg` on the sampled frames only; the rest of the
pipeline (augmentation, views, batching) is `pipeline`'s.
"""

import os
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from vidzoo.tf_data import pipeline
from vidzoo.tf_data.decode import BadVideoLog, probe, read_frames

IMAGE_KEY = "image/encoded"
LABEL_KEY = "clip/label/index"
LABEL_NAME_KEY = "clip/label/string"
MEDIA_ID_KEY = "clip/media_id"
FRAMES_KEY = "clip/frames"


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _int64(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def sequence_example(frames, label, label_name, media_id, jpeg_quality=90):
    """A SequenceExample for uint8 frames (T, H, W, 3)."""
    encoded = [tf.io.encode_jpeg(frame, quality=jpeg_quality).numpy() for frame in frames]
    context = tf.train.Features(feature={
        LABEL_KEY: _int64([int(label)]),
        LABEL_NAME_KEY: _bytes([label_name.encode()]),
        MEDIA_ID_KEY: _bytes([media_id.encode()]),
        FRAMES_KEY: _int64([len(encoded)]),
    })
    frames_list = tf.train.FeatureList(feature=[_bytes([jpeg]) for jpeg in encoded])
    return tf.train.SequenceExample(
        context=context, feature_lists=tf.train.FeatureLists(feature_list={IMAGE_KEY: frames_list}))


def write_records(manifest, output_prefix: str, num_shards: int = 4, jpeg_quality: int = 90,
                  max_frames: Optional[int] = None, target_fps: Optional[float] = None,
                  bad_videos: Optional[BadVideoLog] = None, progress: bool = True) -> dict:
    """Write `output_prefix-0000i-of-0000N.tfrecord` shards and a classes.json.

    Args:
      manifest: the videos to write (a `Manifest`).
      output_prefix: path prefix of the shards.
      num_shards: number of shard files.
      jpeg_quality: of each stored frame.
      max_frames: keep at most this many frames per video (None: all).
      target_fps: resample to this rate first (None: as decoded).
      bad_videos: a `BadVideoLog` collecting the files that failed.
      progress: print a line per shard.

    Returns {"shards": [...], "written": n, "skipped": {path: reason}}.
    """
    log = bad_videos if bad_videos is not None else BadVideoLog()
    folder = os.path.dirname(os.path.abspath(output_prefix))
    os.makedirs(folder, exist_ok=True)
    shards = [f"{output_prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    writers = [tf.io.TFRecordWriter(path) for path in shards]
    bar = keras.utils.Progbar(len(manifest), unit_name="video") if progress else None
    written = 0
    try:
        for index, (path, label) in enumerate(zip(manifest.paths, manifest.labels)):
            count, _, error = probe(path, target_fps)
            frames = np.zeros((0,))
            if not error:
                count = min(count, max_frames) if max_frames else count
                frames, error = read_frames(path, np.arange(count), target_fps)
            if len(frames) == 0:
                log.record(path, error or "no frames")
            else:
                example = sequence_example(frames, label, manifest.class_names[label], path,
                                           jpeg_quality)
                writers[index % num_shards].write(example.SerializeToString())
                written += 1
            if bar:
                bar.update(index + 1)
    finally:
        for writer in writers:
            writer.close()
    manifest.save_classes(os.path.join(folder, "classes.json"))
    return {"shards": shards, "written": written, "skipped": dict(log.failures)}


def _parse(serialized):
    context, sequence = tf.io.parse_single_sequence_example(
        serialized,
        context_features={LABEL_KEY: tf.io.FixedLenFeature((), tf.int64),
                          MEDIA_ID_KEY: tf.io.FixedLenFeature((), tf.string, default_value="")},
        sequence_features={IMAGE_KEY: tf.io.FixedLenSequenceFeature((), tf.string)})
    return sequence[IMAGE_KEY], tf.cast(context[LABEL_KEY], tf.int32)


def _decode_sampled(jpegs, indices):
    sampled = tf.gather(jpegs, indices)
    return tf.map_fn(lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3), sampled,
                     fn_output_signature=tf.TensorSpec((None, None, 3), tf.uint8))


def record_dataset(file_pattern, mode: str = "train", batch_size: int = 8,
                   config: Optional[pipeline.ClipConfig] = None, seed: Optional[int] = None,
                   deterministic: bool = False, shuffle: Optional[bool] = None,
                   cache: bool = False, drop_remainder: bool = False, repeat: bool = False,
                   skip: int = 0, parallel_calls: Optional[int] = None) -> tf.data.Dataset:
    """The `pipeline.video_dataset` elements, read from TFRecord shards.

    Args:
      file_pattern: a glob pattern or a list of shard files.
      The others are `pipeline.video_dataset`'s (shards are shuffled, then
      their records).
    """
    config = config or pipeline.ClipConfig()
    pipeline.check_arguments(mode, config, deterministic, seed, "record_dataset", parallel_calls)
    pipeline.check_stream(repeat, skip, "record_dataset")
    if isinstance(file_pattern, (list, tuple)):
        files = sorted(file_pattern)
    else:
        files = sorted(tf.io.gfile.glob(file_pattern))
    if not files:
        raise ValueError(f"record_dataset: no files match {file_pattern!r}.")
    shuffle = (mode == "train") if shuffle is None else shuffle
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    seed = pipeline.stream_seed(seed)

    def one_epoch(epoch):
        # Keyed by (seed, epoch) alone, as pipeline.indexed_stream is: every
        # iterator over the stream and every skip into it sees the same records.
        order_key, draw_key = tf.unstack(pipeline.epoch_keys(epoch, seed))
        names = tf.constant(files)
        if shuffle:
            names = tf.random.experimental.stateless_shuffle(names, seed=order_key)
        records = tf.data.Dataset.from_tensor_slices(names).interleave(
            tf.data.TFRecordDataset, cycle_length=min(len(files), 4),
            num_parallel_calls=pipeline.AUTOTUNE, deterministic=deterministic)
        if shuffle:
            records = records.shuffle(256, seed=seed, reshuffle_each_iteration=False)

        def with_seed(video_id, serialized):
            key = tf.random.experimental.stateless_fold_in(draw_key, video_id)
            draw = tf.random.stateless_uniform([2], seed=key, minval=None, maxval=None,
                                               dtype=tf.int64)
            return (video_id, serialized), draw

        return records.enumerate().map(with_seed)

    data = pipeline.epoch_numbers(repeat).flat_map(one_epoch)
    calls = parallel_calls or pipeline.AUTOTUNE

    def parse(element, element_seed):
        video_id, serialized = element
        jpegs, label = _parse(serialized)
        return tf.cast(video_id, tf.int32), jpegs, label, element_seed

    def load(video_id, jpegs, label, element_seed):
        element_seed = tf.cast(element_seed, tf.int32) if deterministic else None
        indices, mask = pipeline.clip_indices(tf.size(jpegs), mode, config, element_seed)
        frames = _decode_sampled(jpegs, indices)
        return pipeline.make_views(frames, indices, mask, label, video_id, mode, config,
                                   element_seed)

    # Parsed once (a 250-frame record took 3.2 ms, as long as decoding 16 of
    # its JPEGs), then filtered and skipped before any decoding.
    data = data.map(parse, num_parallel_calls=calls, deterministic=deterministic)
    data = data.filter(lambda video_id, jpegs, label, element_seed: tf.size(jpegs) > 0)
    data = data.skip(skip) if skip else data
    data = data.map(load, num_parallel_calls=calls, deterministic=deterministic)
    data = pipeline.finish(data, mode, batch_size, cache, drop_remainder)
    return data.with_options(options)
