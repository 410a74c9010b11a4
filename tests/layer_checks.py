"""Checks every vidzoo layer must pass: config and .keras round trips, eager vs
tf.function, a fit() step, and mixed_float16. Shared by the per-module tests."""

import contextlib

import keras
import numpy as np
import tensorflow as tf


def random_video(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def first_output(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def wrap_in_model(make_layer, input_shape):
    """Input -> layer -> (first output) pooled -> Dense(3) classifier."""
    inputs = keras.Input(input_shape[1:], batch_size=None)
    features = first_output(make_layer()(inputs))
    pooled = keras.layers.GlobalAveragePooling3D()(features)
    logits = keras.layers.Dense(3, dtype="float32")(pooled)
    return keras.Model(inputs, logits)


def assert_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def assert_keras_round_trip(make_layer, input_shape, tmp_path):
    """Save a model holding the layer as .keras, load it, compare outputs."""
    inputs = keras.Input(input_shape[1:])
    model = keras.Model(inputs, make_layer()(inputs))
    x = random_video(input_shape, seed=1)
    expected = model(x, training=False)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    got = loaded(x, training=False)
    for want, have in zip(tf.nest.flatten(expected), tf.nest.flatten(got)):
        np.testing.assert_allclose(np.asarray(have), np.asarray(want), rtol=1e-5, atol=1e-5)


def assert_graph_matches_eager(make_layer, input_shape):
    layer = make_layer()
    x = random_video(input_shape, seed=2)
    eager = layer(x)
    graph = tf.function(lambda v: layer(v))(tf.constant(x))
    for want, have in zip(tf.nest.flatten(eager), tf.nest.flatten(graph)):
        np.testing.assert_allclose(np.asarray(have), np.asarray(want), rtol=1e-5, atol=1e-5)


def assert_trains_with_fit(make_layer, input_shape, check_layer_updates=True):
    """One epoch of fit(): finite loss, and the layer's own weights move."""
    model = wrap_in_model(make_layer, input_shape)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    layer = model.layers[1]
    before = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
    x = random_video((4,) + tuple(input_shape[1:]), seed=3)
    y = np.array([0, 1, 2, 0])
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    if check_layer_updates and before:
        after = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(after, before))


@contextlib.contextmanager
def mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def assert_runs_mixed_float16(make_layer, input_shape):
    """Under mixed_float16 the layer computes in float16, stays finite, trains."""
    with mixed_precision():
        layer = make_layer()
        outputs = layer(random_video(input_shape, seed=4))
        main = first_output(outputs)
        assert main.dtype == "float16" or str(main.dtype).endswith("float16")
        assert np.all(np.isfinite(np.asarray(main, dtype="float32")))
        assert_trains_with_fit(make_layer, input_shape, check_layer_updates=False)


def run_standard_checks(make_layer, input_shape, tmp_path, trains=True):
    """All framework checks for one layer configuration."""
    assert_config_round_trip(make_layer())
    assert_keras_round_trip(make_layer, input_shape, tmp_path)
    assert_graph_matches_eager(make_layer, input_shape)
    assert_trains_with_fit(make_layer, input_shape, check_layer_updates=trains)
    assert_runs_mixed_float16(make_layer, input_shape)
