"""tf.data pipelines over video files.

    manifest = manifest.from_csv("train.csv")
    train = video_dataset(manifest, "train", batch_size=8, config=ClipConfig(clip_len=8))

Per element: the file's frame count is probed (PyAV, in parallel); frame
indices are sampled in TF ops; only those frames are decoded (PyAV through
`tf.numpy_function`, in parallel), frames larger than the mode's largest
scale downscaled to it in FFmpeg's RGB conversion (`scale_in_decoder`);
augmentation runs in TF ops; elements are batched and prefetched.
Unreadable, truncated-to-nothing or non-video files are dropped, logged once
with their path and kept in `bad_videos` (a `BadVideoLog`) for a summary, so
one bad file never ends an epoch.

Modes and element structures:

* "train": (clip (T, S, S, 3) float32, label) - random clip, scale jitter,
  random crop, flip, normalization.
* "eval": dict(video, label, video_id, view) - K uniform clips x crops
  views per video (`num_clips`, `num_crops` 1 or 3), folded into the batch;
  average the softmax of equal `video_id`s for video-level accuracy.
* "full": (dict(video (max_frames, S, S, 3), mask (max_frames,)), label) -
  every frame up to `max_frames`, zero-padded, for temporal clustering.
* "segments": (clip (num_segments * segment_len, S, S, 3), label) - SFC's
  long input: uniformly spaced segments of consecutive frames.

`deterministic=True` with a `seed` makes the element order and every random
draw reproducible (draws still change from epoch to epoch). `repeat=True`
gives an endless stream of epochs (each reshuffled, each with new draws) and
`skip=N` starts it at its N-th readable element without decoding the first N,
so a resumed training run reads exactly what the uninterrupted run would have
read next (unless a file that opens decodes to nothing: that shifts the rest).
The stream is a function of the position alone (`indexed_stream`): every
iterator over one dataset sees the same elements, on any Keras backend.
"""

import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf

from vidzoo.tf_data import augment, sampling
from vidzoo.tf_data.decode import BadVideoLog, probe, read_frames

MODES = ("train", "eval", "full", "segments")
AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass
class ClipConfig:
    """How clips are cut from a video and augmented.

    Args:
      clip_len: frames per clip (T).
      stride: temporal stride between a clip's frames, in decoded frames.
      crop_size: side S of the square crop.
      scale_range: (min, max) short side before the random crop ("train").
      eval_scale: short side before the centre/three crops ("eval").
      num_clips: uniformly spaced clips per video ("eval").
      num_crops: 1 (centre) or 3 (left/centre/right) crops per clip ("eval").
      max_frames: the padded length of a whole video ("full").
      num_segments, segment_len: SFC's long input ("segments").
      target_fps: resample the video to this rate first (0: as decoded).
      flip: random horizontal flips ("train").
      mean, std: per-channel normalization, on [0, 1] pixels.
      scale_in_decoder: frames whose short side exceeds the largest scale the
        mode resizes to (scale_range[1] in "train", eval_scale otherwise) are
        first downscaled to it by FFmpeg while converting to RGB (area
        averaging), so TF resizes smaller frames; False: TF resizes the
        decoded frames (docs/benchmarks.md has both).
    """

    clip_len: int = 8
    stride: int = 2
    crop_size: int = 224
    scale_range: tuple = (256, 320)
    eval_scale: int = 256
    num_clips: int = 10
    num_crops: int = 3
    max_frames: int = 64
    num_segments: int = 4
    segment_len: int = 8
    target_fps: float = 0.0
    flip: bool = True
    mean: tuple = augment.KINETICS_MEAN
    std: tuple = augment.KINETICS_STD
    scale_in_decoder: bool = True

    def decode_short_side(self, mode):
        """The short side frames are decoded at most at in `mode` (None: as stored)."""
        if not self.scale_in_decoder:
            return None
        return self.scale_range[1] if mode == "train" else self.eval_scale


def _probe_fn(log, target_fps):
    def run(path):
        path = path.decode()
        count, _, error = probe(path, target_fps or None)
        if error:
            log.record(path, error)
        return np.int32(count)

    return run


def _decode_fn(log, target_fps, max_short_side):
    def run(path, indices):
        path = path.decode()
        frames, error = read_frames(path, indices, target_fps or None,
                                    max_short_side=max_short_side)
        if error and len(frames) == 0:
            log.record(path, error)
        elif error:
            log.record(path, f"{error} (kept {len(frames)} frames, the rest repeat the last)")
        return frames

    return run


def _decode(path, indices, log, target_fps, max_short_side=None):
    frames = tf.numpy_function(_decode_fn(log, target_fps, max_short_side), [path, indices],
                               tf.uint8, stateful=False)
    frames.set_shape((None, None, None, 3))
    return frames


def _train_clip(frames, config, seed):
    frames = augment.random_short_side_scale(frames, *config.scale_range, seed=seed)
    frames = augment.random_crop(frames, config.crop_size, seed=seed)
    if config.flip:
        frames = augment.random_flip(frames, seed=seed)
    return augment.normalize(frames, config.mean, config.std)


def _eval_views(frames, config):
    """(K * crops, T, S, S, 3) from (K * T, H, W, 3) decoded frames."""
    frames = augment.short_side_scale(frames, config.eval_scale)
    size = config.crop_size
    shape = tf.shape(frames)
    clips = tf.reshape(frames, (config.num_clips, config.clip_len, shape[1], shape[2], 3))
    if config.num_crops == 3:
        views = tf.map_fn(lambda clip: augment.three_crops(clip, size), clips,
                          fn_output_signature=tf.TensorSpec((3, None, size, size, 3)))
    else:
        views = tf.map_fn(lambda clip: augment.center_crop(clip, size)[None], clips,
                          fn_output_signature=tf.TensorSpec((1, None, size, size, 3)))
    views = tf.reshape(views, (-1, config.clip_len, size, size, 3))
    return augment.normalize(views, config.mean, config.std)


def clip_indices(count, mode, config, seed=None):
    """Frame indices to decode for one video of `count` frames, and the
    full-video mask (None in other modes)."""
    if mode == "train":
        return sampling.train_indices(count, config.clip_len, config.stride, seed), None
    if mode == "eval":
        indices = sampling.uniform_clip_indices(count, config.clip_len, config.stride,
                                                config.num_clips)
        return tf.reshape(indices, (-1,)), None
    if mode == "full":
        return sampling.full_video_indices(count, config.max_frames)
    return sampling.segment_indices(count, config.num_segments, config.segment_len), None


def make_views(frames, indices, mask, label, video_id, mode, config, seed=None):
    """Augmented model input(s) from decoded uint8 frames, plus a `valid` flag
    (False when nothing could be decoded; the element is then dropped)."""
    valid = tf.shape(frames)[0] > 0
    frames = tf.cond(valid, lambda: frames,
                     lambda: tf.zeros((tf.size(indices), 2, 2, 3), tf.uint8))
    size = config.crop_size
    if mode == "train":
        clip = tf.ensure_shape(_train_clip(frames, config, seed), (config.clip_len, size, size, 3))
        return clip, label, video_id, valid
    if mode == "eval":
        views = tf.ensure_shape(_eval_views(frames, config), (None, config.clip_len, size, size, 3))
        return views, label, video_id, valid
    frames = augment.center_crop(augment.short_side_scale(frames, config.eval_scale),
                                 config.crop_size)
    frames = augment.normalize(frames, config.mean, config.std)
    if mode == "full":
        frames = frames * mask[:, None, None, None]
        return {"video": frames, "mask": mask}, label, video_id, valid
    return frames, label, video_id, valid


def finish(data, mode, batch_size, cache=False, drop_remainder=False):
    """Drop undecodable elements, fold evaluation views, batch and prefetch."""
    data = data.filter(lambda features, label, video_id, valid: valid)
    if mode == "eval":
        def unfold(views, label, video_id, valid):
            count = tf.shape(views)[0]
            return tf.data.Dataset.from_tensor_slices({
                "video": views, "label": tf.fill((count,), label),
                "video_id": tf.fill((count,), video_id), "view": tf.range(count)})

        data = data.flat_map(unfold)
    else:
        data = data.map(lambda features, label, video_id, valid: (features, label))
    if cache:
        data = data.cache()
    return data.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


def check_arguments(mode, config, deterministic, seed, where="video_dataset",
                    parallel_calls=None):
    if parallel_calls is not None and (not isinstance(parallel_calls, int)
                                       or parallel_calls < 1):
        raise ValueError(f"{where}: parallel_calls must be a positive int or None (autotune); "
                         f"got {parallel_calls!r}.")
    if mode not in MODES:
        raise ValueError(f"{where}: mode must be one of {MODES}; got {mode!r}.")
    if mode == "eval" and config.num_crops not in (1, 3):
        raise ValueError(f"{where}: num_crops must be 1 or 3; got {config.num_crops}.")
    if deterministic and seed is None:
        raise ValueError(f"{where}: deterministic=True needs a seed.")


def stream_seed(seed):
    """`seed`, or a fresh random one (a non-deterministic stream)."""
    return int(np.random.randint(2**31 - 1)) if seed is None else int(seed)


def epoch_keys(epoch, seed):
    """Two stateless keys of (seed, epoch): the epoch's order and its draws."""
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_split(key, 2)


def epoch_numbers(repeat):
    """0, 1, 2, ... (an endless stream) or just 0."""
    return tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(1)


def indexed_stream(count, seed, shuffle=True, repeat=False):
    """(index, element seed (2,) int64) over `count` items, epoch by epoch.

    A pure function of the position in the stream: epoch e visits the items
    in a stateless shuffle keyed by (seed, e) and draws each element's seed
    from (seed, e) too. A second iterator over the same dataset, or a skip
    into it, sees the same elements; with tf.data's reshuffling `shuffle` it
    would not (its state advances with every iterator, and JAX's and
    PyTorch's fit() open a dataset twice: once to build, once to train).
    """
    seed = stream_seed(seed)

    def one_epoch(epoch):
        order_key, draw_key = tf.unstack(epoch_keys(epoch, seed))
        order = tf.range(count, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=order_key)
        draws = tf.random.stateless_uniform([count, 2], seed=draw_key, minval=None,
                                            maxval=None, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices((order, draws))

    return epoch_numbers(repeat).flat_map(one_epoch)


def check_stream(repeat, skip, where):
    if skip < 0:
        raise ValueError(f"{where}: skip must be >= 0 elements; got {skip}.")
    if skip and not repeat:
        raise ValueError(f"{where}: skip needs repeat=True (it positions an endless "
                         "training stream).")


def video_dataset(manifest, mode: str = "train", batch_size: int = 8,
                  config: Optional[ClipConfig] = None, seed: Optional[int] = None,
                  deterministic: bool = False, shuffle: Optional[bool] = None,
                  cache: bool = False, bad_videos: Optional[BadVideoLog] = None,
                  drop_remainder: bool = False, repeat: bool = False,
                  skip: int = 0, parallel_calls: Optional[int] = None) -> tf.data.Dataset:
    """A batched, prefetched tf.data.Dataset over `manifest` (module docstring).

    Args:
      manifest: a `vidzoo.tf_data.manifest.Manifest` (paths and labels).
      mode: "train", "eval", "full" or "segments" (module docstring).
      batch_size: elements per batch ("eval": videos, each of K x crops views).
      config: the `ClipConfig` (default: ClipConfig()).
      seed: seeds the shuffle and, with `deterministic`, every random draw.
      deterministic: reproducible order and draws (needs `seed`).
      shuffle: shuffle the videos (default: in "train" mode only).
      cache: cache the decoded elements after the first epoch.
      bad_videos: a `BadVideoLog` collecting the files that failed.
      drop_remainder: drop the last, smaller batch.
      repeat: an endless stream of epochs.
      skip: start the stream at its `skip`-th readable element.
      parallel_calls: videos probed and decoded at once (None: tf.data's
        autotuning); docs/benchmarks.md has clips/s against it.
    """
    config = config or ClipConfig()
    check_arguments(mode, config, deterministic, seed, parallel_calls=parallel_calls)
    check_stream(repeat, skip, "video_dataset")
    if len(manifest) == 0:
        raise ValueError("video_dataset: the manifest has no videos.")
    log = bad_videos if bad_videos is not None else BadVideoLog()
    shuffle = (mode == "train") if shuffle is None else shuffle
    options = tf.data.Options()
    options.deterministic = bool(deterministic)

    paths = tf.constant(np.asarray(manifest.paths))
    labels = tf.constant(np.asarray(manifest.labels, np.int32))
    data = indexed_stream(len(manifest), seed, shuffle, repeat)

    def with_count(index, element_seed):
        path, label, video_id = paths[index], labels[index], tf.cast(index, tf.int32)
        count = tf.numpy_function(_probe_fn(log, config.target_fps), [path], tf.int32,
                                  stateful=False)
        count.set_shape(())
        return path, label, video_id, count, element_seed

    calls = parallel_calls or AUTOTUNE
    data = data.map(with_count, num_parallel_calls=calls, deterministic=deterministic)
    data = data.filter(lambda path, label, video_id, count, element_seed: count > 0)
    # Skipped after probing (a file that cannot be opened does not shift the
    # stream), before decoding (skipping costs no decode).
    data = data.skip(skip) if skip else data

    def load(path, label, video_id, count, element_seed):
        element_seed = tf.cast(element_seed, tf.int32) if deterministic else None
        indices, mask = clip_indices(count, mode, config, element_seed)
        frames = _decode(path, indices, log, config.target_fps, config.decode_short_side(mode))
        return make_views(frames, indices, mask, label, video_id, mode, config, element_seed)

    data = data.map(load, num_parallel_calls=calls, deterministic=deterministic)
    data = finish(data, mode, batch_size, cache, drop_remainder)
    return data.with_options(options)
