"""DepthwiseConv3D equals Conv3D(groups=C) with the same kernel."""

import keras
import numpy as np
import pytest

from layer_checks import random_video, run_standard_checks
from vidzoo.layers import DepthwiseConv3D


@pytest.mark.parametrize("strides, kernel_size", [(1, 3), ((1, 2, 2), 3), (1, (3, 1, 1)),
                                                  ((1, 2, 2), (1, 3, 3))])
def test_matches_grouped_conv3d(strides, kernel_size):
    x = random_video((2, 5, 7, 8, 6))
    ours = DepthwiseConv3D(kernel_size, strides, use_bias=True)
    reference = keras.layers.Conv3D(6, kernel_size, strides, padding="same", groups=6)
    ours(x)
    reference(x)
    ours.set_weights([w + 0.1 for w in reference.get_weights()])
    reference.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x).numpy(), reference(x).numpy(), rtol=1e-4, atol=1e-5)


def test_hand_computed_temporal_sum():
    # 1x1x1 spatial, kernel (3, 1, 1) = (1, 10, 100) per channel: y_t = x_{t-1} + 10 x_t + 100 x_{t+1}.
    x = np.array([1.0, 2.0, 3.0], "float32").reshape(1, 3, 1, 1, 1)
    layer = DepthwiseConv3D((3, 1, 1))
    layer(x)
    layer.kernel.assign(np.array([1.0, 10.0, 100.0], "float32").reshape(3, 1, 1, 1, 1))
    np.testing.assert_allclose(layer(x).numpy().ravel(), [210.0, 321.0, 32.0])


def test_temporal_stride_rejected():
    with pytest.raises(ValueError, match="temporal stride 1"):
        DepthwiseConv3D(3, (2, 1, 1))


def test_framework_checks(tmp_path):
    run_standard_checks(lambda: DepthwiseConv3D(3, (1, 2, 2), use_bias=True), (2, 4, 8, 8, 6),
                        tmp_path)


def test_valid_spatial_padding_matches_grouped_conv_after_symmetric_padding():
    x = np.random.default_rng(5).random((1, 3, 8, 8, 4), dtype=np.float32)
    padded = keras.layers.ZeroPadding3D((0, 1, 1))(x)
    layer = DepthwiseConv3D(3, strides=2, spatial_padding="valid")
    grouped = keras.layers.Conv3D(4, 3, strides=(1, 2, 2), groups=4, use_bias=False)
    got = layer(padded)
    grouped.build(((1, 5) + padded.shape[2:]))
    grouped.set_weights([layer.get_weights()[0]])
    expected = grouped(keras.layers.ZeroPadding3D((1, 0, 0))(padded))
    assert got.shape == (1, 3, 4, 4, 4)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    with pytest.raises(ValueError, match="spatial_padding must be"):
        DepthwiseConv3D(spatial_padding="full")
