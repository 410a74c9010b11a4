"""Augmentation is identical across the frames of a clip; sizes by hand."""

import numpy as np
import tensorflow as tf

from vidzoo.tf_data import augment


def _clip(frames=4, height=40, width=60):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (height, width, 3)).astype(np.float32)
    return tf.constant(np.stack([frame] * frames))


def test_frames_stay_identical_through_train_augmentation():
    for s in range(5):
        seed = tf.constant([s, 7])
        clip = augment.random_short_side_scale(_clip(), 48, 64, seed)
        clip = augment.random_flip(augment.random_crop(clip, 32, seed), seed)
        clip = augment.normalize(clip).numpy()
        assert clip.shape == (4, 32, 32, 3)
        for t in range(1, 4):
            np.testing.assert_array_equal(clip[t], clip[0])


def test_short_side_scale_keeps_aspect():
    assert augment.short_side_scale(_clip(2, 40, 60), 20).shape == (2, 20, 30, 3)
    assert augment.short_side_scale(_clip(2, 61, 41), 32).shape == (2, 48, 32, 3)


def test_flip_and_crops_by_hand():
    clip = tf.reshape(tf.range(2 * 4 * 6, dtype=tf.float32), (2, 4, 6, 1))
    flipped = augment.random_flip(clip, tf.constant([0, 0]), probability=1.0)
    np.testing.assert_array_equal(flipped[:, :, 0], clip[:, :, -1])
    np.testing.assert_array_equal(augment.center_crop(clip, 2)[0, :, :, 0], [[8, 9], [14, 15]])
    crops = augment.three_crops(clip, 4).numpy()  # wide: left, centre, right
    assert crops.shape == (3, 2, 4, 4, 1)
    np.testing.assert_array_equal(crops[:, 0, 0, 0, 0], [0, 1, 2])


def test_normalize_matches_the_formula():
    value = augment.normalize(tf.fill((1, 1, 1, 3), 255.0)).numpy()
    np.testing.assert_allclose(value.ravel(), (1 - 0.45) / 0.225, rtol=1e-6)


def test_mirror_reverses_the_width_axis_of_clips_and_batches():
    for shape in ((2, 3, 5, 3), (2, 2, 3, 4, 1)):
        values = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        np.testing.assert_array_equal(augment.mirror(tf.constant(values)).numpy(),
                                      values[..., ::-1, :])


def test_normalize_equals_the_broadcast_formula_to_the_bit():
    rng = np.random.default_rng(0)
    mean, std = (0.43, 0.45, 0.4), (0.225, 0.2, 0.23)
    for shape in ((2, 5, 7, 3), (3, 2, 4, 6, 3)):
        pixels = rng.integers(0, 256, shape).astype(np.uint8)
        expected = (pixels.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std)
        value = augment.normalize(tf.constant(pixels), mean, std)
        assert value.shape == shape
        np.testing.assert_array_equal(value.numpy(), expected)
    traced = tf.function(lambda x: augment.normalize(x)).get_concrete_function(
        tf.TensorSpec((None, 8, 8, 3), tf.uint8))
    assert traced.structured_outputs.shape.as_list() == [None, 8, 8, 3]
