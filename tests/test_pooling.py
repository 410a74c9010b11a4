"""FactorizedMaxPooling3D: MaxPooling3D from 2D max pools (for TFLite)."""

import keras
import numpy as np
import pytest

from vidzoo.layers.pooling import FactorizedMaxPooling3D, replace_max_pooling_3d


@pytest.mark.parametrize("pool_size, strides, padding", [
    ((1, 3, 3), (1, 2, 2), "valid"), ((3, 3, 3), (2, 2, 2), "same"), ((2, 1, 1), None, "valid"),
    ((3, 2, 3), (1, 2, 1), "same"), (2, None, "same")])
def test_equals_max_pooling_3d(pool_size, strides, padding):
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 9, 3)).astype("float32")
    expected = keras.layers.MaxPooling3D(pool_size, strides, padding)(x)
    layer = FactorizedMaxPooling3D(pool_size, strides, padding)
    actual = layer(x)
    assert tuple(actual.shape) == tuple(expected.shape)
    assert layer.compute_output_shape(x.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


def test_hand_computed_window():
    x = np.arange(2 * 2 * 2, dtype="float32").reshape(1, 2, 2, 2, 1)
    x[0, 0, 1, 0, 0] = 100.0  # the maximum of the one window
    out = FactorizedMaxPooling3D(2)(x)
    assert out.shape == (1, 1, 1, 1, 1) and float(out[0, 0, 0, 0, 0]) == 100.0


def test_replace_keeps_weights_and_outputs_and_survives_save(tmp_path):
    inputs = keras.Input((4, 8, 8, 2))
    x = keras.layers.Conv3D(3, 3, padding="same", name="conv")(inputs)
    x = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="pool")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    swapped = replace_max_pooling_3d(model)
    assert isinstance(swapped.get_layer("pool"), FactorizedMaxPooling3D)
    assert swapped.get_layer("conv") is model.get_layer("conv")  # shared, not copied
    clip = np.random.default_rng(1).normal(size=(2, 4, 8, 8, 2)).astype("float32")
    np.testing.assert_array_equal(np.asarray(swapped(clip)), np.asarray(model(clip)))
    swapped.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(clip)), np.asarray(model(clip)), atol=1e-6)


def test_bad_arguments_and_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="padding"):
        FactorizedMaxPooling3D(2, padding="causal")
    with pytest.raises(ValueError, match="pool_size must be an int or 3 ints"):
        FactorizedMaxPooling3D((2, 2))
    with pytest.raises(ValueError, match="rank 5"):
        FactorizedMaxPooling3D(2)(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match="static height, width"):
        FactorizedMaxPooling3D(2)(keras.Input((4, None, 8, 3)))
