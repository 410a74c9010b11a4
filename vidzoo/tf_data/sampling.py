"""Frame-index sampling in TF ops (inside the tf.data graph).

All functions take the video's frame count `num_frames` (int32 scalar tensor)
and return int32 frame indices. Rule for short videos: indices past the end
wrap around (the clip loops the video), so every clip has exactly the frames
asked for; a 1-frame video repeats its frame.

* `train_indices`: one clip of `clip_len` frames at `stride`, its start
  uniform over the positions that fit (0 when the clip is longer than the video).
* `uniform_clip_indices`: K clips, starts evenly spaced from the first to the
  last position that fits (K = 1: the centre), shape (K, clip_len).
* `full_video_indices`: every frame up to `max_frames` (longer videos are
  subsampled uniformly over their whole length), padded with index 0, and a
  mask of real frames.
* `segment_indices`: S uniformly spaced segments of L consecutive frames,
  flattened (SFC's long-input mode: one pass over a whole video).
"""

import tensorflow as tf


def _span(clip_len, stride):
    return (clip_len - 1) * stride + 1


def _wrap(indices, num_frames):
    return tf.math.floormod(indices, tf.maximum(num_frames, 1))


def train_indices(num_frames, clip_len, stride=1, seed=None):
    num_frames = tf.cast(num_frames, tf.int32)
    room = tf.maximum(num_frames - _span(clip_len, stride), 0)
    if seed is None:
        start = tf.random.uniform((), 0, room + 1, dtype=tf.int32)
    else:
        start = tf.random.stateless_uniform((), seed, 0, room + 1, dtype=tf.int32)
    return _wrap(start + tf.range(clip_len) * stride, num_frames)


def uniform_clip_indices(num_frames, clip_len, stride=1, num_clips=1):
    num_frames = tf.cast(num_frames, tf.int32)
    room = tf.maximum(num_frames - _span(clip_len, stride), 0)
    if num_clips == 1:
        starts = tf.reshape(room // 2, (1,))
    else:
        fraction = tf.range(num_clips, dtype=tf.float32) / float(num_clips - 1)
        starts = tf.cast(tf.round(fraction * tf.cast(room, tf.float32)), tf.int32)
    indices = starts[:, None] + tf.range(clip_len)[None, :] * stride
    return _wrap(indices, num_frames)


def full_video_indices(num_frames, max_frames):
    num_frames = tf.cast(num_frames, tf.int32)
    count = tf.minimum(num_frames, max_frames)
    subsampled = tf.cast(
        tf.floor(tf.range(count, dtype=tf.float32) * tf.cast(num_frames, tf.float32)
                 / tf.cast(count, tf.float32)), tf.int32)
    padding = max_frames - count
    indices = tf.concat([subsampled, tf.zeros((padding,), tf.int32)], axis=0)
    mask = tf.concat([tf.ones((count,), tf.float32), tf.zeros((padding,), tf.float32)], axis=0)
    return indices, mask


def segment_indices(num_frames, num_segments, segment_len):
    starts = uniform_clip_indices(num_frames, segment_len, 1, num_segments)
    return tf.reshape(starts, (-1,))
