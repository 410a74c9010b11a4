"""Factorized 3D pools: MaxPooling3D and AveragePooling3D from 2D pools (for
TFLite)."""

import keras
import numpy as np
import pytest

from vidzoo.layers.pooling import (
    FactorizedAveragePooling3D,
    FactorizedMaxPooling3D,
    replace_pooling_3d,
)

PAIRS = [(keras.layers.MaxPooling3D, FactorizedMaxPooling3D),
         (keras.layers.AveragePooling3D, FactorizedAveragePooling3D)]


@pytest.mark.parametrize("pool_size, strides, padding", [
    ((1, 3, 3), (1, 2, 2), "valid"), ((3, 3, 3), (2, 2, 2), "same"), ((2, 1, 1), None, "valid"),
    ((3, 2, 3), (1, 2, 1), "same"), (2, None, "same"), ((1, 2, 2), None, "same")])
@pytest.mark.parametrize("keras_pool, factorized_pool", PAIRS)
def test_equals_the_3d_pool(pool_size, strides, padding, keras_pool, factorized_pool):
    # "same" average pools leave padded cells out of the count: the edges check it.
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 9, 3)).astype("float32")
    expected = keras_pool(pool_size, strides, padding)(x)
    layer = factorized_pool(pool_size, strides, padding)
    actual = layer(x)
    assert tuple(actual.shape) == tuple(expected.shape)
    assert layer.compute_output_shape(x.shape) == tuple(expected.shape)
    if keras_pool is keras.layers.MaxPooling3D:
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))
    else:  # the sums are taken in another order
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=0, atol=1e-6)


def test_hand_computed_window():
    x = np.arange(2 * 2 * 2, dtype="float32").reshape(1, 2, 2, 2, 1)
    x[0, 0, 1, 0, 0] = 100.0  # the maximum of the one window
    out = FactorizedMaxPooling3D(2)(x)
    assert out.shape == (1, 1, 1, 1, 1) and float(out[0, 0, 0, 0, 0]) == 100.0


def test_hand_computed_same_padding_average_counts_real_cells_only():
    x = np.arange(1, 9, dtype="float32").reshape(1, 2, 2, 2, 1)  # frames [[1,2],[3,4]], [[5..8]]
    out = np.asarray(FactorizedAveragePooling3D(2, strides=1, padding="same")(x))
    # Window at (0, 0, 0): all 8 cells, mean 4.5. At (1, 1, 1): only cell 8 is real.
    assert out[0, 0, 0, 0, 0] == 4.5 and out[0, 1, 1, 1, 0] == 8.0
    # At (0, 1, 1): cells 4 and 8 (frames 0, 1 at h = w = 1), mean 6.
    assert out[0, 0, 1, 1, 0] == 6.0


def test_replace_keeps_weights_and_outputs_and_survives_save(tmp_path):
    inputs = keras.Input((4, 8, 8, 2))
    x = keras.layers.Conv3D(3, 3, padding="same", name="conv")(inputs)
    x = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="pool")(x)
    x = keras.layers.AveragePooling3D((2, 2, 2), name="average")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    swapped = replace_pooling_3d(model)
    assert isinstance(swapped.get_layer("pool"), FactorizedMaxPooling3D)
    assert isinstance(swapped.get_layer("average"), FactorizedAveragePooling3D)
    assert swapped.get_layer("conv") is model.get_layer("conv")  # shared, not copied
    clip = np.random.default_rng(1).normal(size=(2, 4, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(swapped(clip)), np.asarray(model(clip)), atol=1e-6)
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
    with pytest.raises(ValueError, match="FactorizedAveragePooling3D: pool_size"):
        FactorizedAveragePooling3D((2, 2))
