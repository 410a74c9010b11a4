"""Frame indices by hand: train clips, uniform views, full videos, segments."""

import numpy as np
import tensorflow as tf

from vidzoo.tf_data import sampling


def test_train_clip_fits_and_loops_short_videos():
    seed = tf.constant([1, 2])
    indices = sampling.train_indices(20, 4, 3, seed).numpy()  # span 10, start in [0, 10]
    assert np.all(np.diff(indices) == 3) and 0 <= indices[0] <= 10
    np.testing.assert_array_equal(sampling.train_indices(20, 4, 3, seed), indices)
    # 5 frames, clip of 4 at stride 2 (span 7): start 0, indices wrap: 0 2 4 6 -> 0 2 4 1.
    np.testing.assert_array_equal(sampling.train_indices(5, 4, 2, seed), [0, 2, 4, 1])
    np.testing.assert_array_equal(sampling.train_indices(1, 3, 2, seed), [0, 0, 0])


def test_starts_cover_every_position():
    starts = {int(sampling.train_indices(8, 2, 1, tf.constant([s, 0]))[0]) for s in range(60)}
    assert starts == set(range(7))


def test_uniform_clips_by_hand():
    # 30 frames, clip 4 at stride 2 (span 7): room 23, 3 clips start at 0, 12 (11.5), 23.
    np.testing.assert_array_equal(sampling.uniform_clip_indices(30, 4, 2, 3),
                                  [[0, 2, 4, 6], [12, 14, 16, 18], [23, 25, 27, 29]])
    np.testing.assert_array_equal(sampling.uniform_clip_indices(30, 4, 2, 1), [[11, 13, 15, 17]])


def test_full_video_pads_or_subsamples_with_a_mask():
    indices, mask = sampling.full_video_indices(5, 8)
    np.testing.assert_array_equal(indices, [0, 1, 2, 3, 4, 0, 0, 0])
    np.testing.assert_array_equal(mask, [1, 1, 1, 1, 1, 0, 0, 0])
    indices, mask = sampling.full_video_indices(16, 4)
    np.testing.assert_array_equal(indices, [0, 4, 8, 12])
    assert mask.numpy().sum() == 4


def test_segments_are_consecutive_and_uniform():
    np.testing.assert_array_equal(sampling.segment_indices(20, 3, 4),
                                  [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19])
