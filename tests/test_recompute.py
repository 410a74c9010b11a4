"""Recompute: gradient checkpointing of a segment, with the segment's BatchNorm
moving statistics updated once per step."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from vidzoo.layers.recompute import Recompute


def conv_bn_segment(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3, 6, 6, 2))
    y = layers.Conv3D(4, 3, padding="same", name="conv")(inputs)
    y = layers.BatchNormalization(momentum=0.5, name="bn")(y)
    return keras.Model(inputs, layers.ReLU()(y), name="segment")


def twins():
    """(Recompute(segment), plain segment) with the same weights."""
    segment, plain = conv_bn_segment(), conv_bn_segment(seed=1)
    plain.set_weights(segment.get_weights())
    return Recompute(segment), plain


def loss_and_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.sin(layer(x, training=True)))
    return loss, tape.gradient(loss, [x] + layer.trainable_variables)


def moving_statistics(model):
    return [w.numpy() for w in model.non_trainable_weights]


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
def test_gradients_and_moving_statistics_equal_plain_training(graph):
    recomputed, plain = twins()
    x = tf.random.normal((2, 3, 6, 6, 2), seed=3)
    step = tf.function(loss_and_gradients) if graph else loss_and_gradients
    loss, grads = step(recomputed, x)
    plain_loss, plain_grads = step(plain, x)
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-6)
    for mine, reference in zip(grads, plain_grads):
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-6)
    # momentum 0.5: one update moves the statistics halfway, a second would 3/4 of it
    for mine, reference in zip(moving_statistics(recomputed.segment), moving_statistics(plain)):
        np.testing.assert_allclose(mine, reference, rtol=1e-6, atol=1e-7)
    assert np.abs(moving_statistics(plain)[0]).max() > 1e-3


def test_input_gradient_matches_finite_differences():
    recomputed, _ = twins()
    x = tf.random.normal((1, 3, 6, 6, 2), seed=4, dtype="float32")
    _, grads = loss_and_gradients(recomputed, x)
    state = [w.numpy() for w in recomputed.segment.non_trainable_weights]
    epsilon = 1e-2
    for index in [(0, 0, 0, 0, 0), (0, 1, 2, 3, 1), (0, 2, 5, 5, 0)]:
        bump = np.zeros(x.shape, "float32")
        bump[index] = epsilon
        up = loss_and_gradients(recomputed, x + bump)[0]
        down = loss_and_gradients(recomputed, x - bump)[0]
        np.testing.assert_allclose(grads[0].numpy()[index], (up - down) / (2 * epsilon),
                                   rtol=2e-2, atol=2e-3)
        for weight, value in zip(recomputed.segment.non_trainable_weights, state):
            weight.assign(value)


def test_inference_calls_the_segment():
    recomputed, plain = twins()
    x = np.random.default_rng(0).normal(size=(2, 3, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(recomputed(x), plain(x), rtol=1e-6)


def test_keras_round_trip(tmp_path):
    inputs = keras.Input((3, 6, 6, 2))
    model = keras.Model(inputs, Recompute(conv_bn_segment(), name="recompute")(inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).normal(size=(2, 3, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), rtol=1e-6)
    assert isinstance(loaded.get_layer("recompute"), Recompute)


def test_bad_segment():
    with pytest.raises(ValueError, match="Keras model or layer"):
        Recompute(lambda x: x)


def test_training_on_another_backend_raises(monkeypatch):
    recomputed, _ = twins()
    x = np.zeros((1, 3, 6, 6, 2), "float32")
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(NotImplementedError, match="TensorFlow backend only; got 'jax'"):
        recomputed(x, training=True)
    assert recomputed(x).shape == (1, 3, 6, 6, 4)  # inference runs
