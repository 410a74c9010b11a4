"""DepthwiseConv3D equals Conv3D(groups=C) with the same kernel, forward and gradient."""

import keras
import numpy as np
import pytest
import tensorflow as tf

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


@pytest.mark.parametrize("frames", [1, 2, 4])
@pytest.mark.parametrize("kernel_size", [(3, 3, 3), (5, 1, 1), (5, 3, 3), (2, 3, 3), (4, 1, 1)])
def test_short_clips_and_even_kernels_match_grouped_conv3d_with_unknown_frames(frames,
                                                                              kernel_size):
    # Offsets that read frames outside a short clip contribute zero rows; the
    # frame count is only known at run time, as after SGS.
    x = tf.constant(random_video((2, frames, 6, 7, 4)))
    layer = DepthwiseConv3D(kernel_size, (1, 2, 2) if kernel_size[1] > 1 else 1)
    outputs = layer(x)
    grouped, _ = _grouped_reference(layer, x)
    upstream = tf.constant(random_video(outputs.shape, seed=3))

    @tf.function(input_signature=[tf.TensorSpec((None, None, 6, 7, 4))])
    def ours_and_gradients(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = layer(v)
        return (y,) + tuple(tape.gradient(y, [v, layer.kernel], output_gradients=upstream))

    with tf.GradientTape() as tape:
        tape.watch(x)
        reference = grouped(keras.layers.ZeroPadding3D(layer._pads(6, 7))(x))
    want = (reference,) + tuple(tape.gradient(reference, [x, grouped.kernel],
                                              output_gradients=upstream))
    for have, expected in zip(ours_and_gradients(x), want):
        np.testing.assert_allclose(have, expected, rtol=1e-4, atol=1e-5)


def test_correlation_without_time_padding_shortens_the_clip():
    # pads (0, 0) in time: 'valid', T - kt + 1 frames, as Conv3D(groups=C, 'valid').
    from vidzoo.layers.depthwise import channelwise_correlation

    x = random_video((2, 5, 6, 6, 4))
    kernel = random_video((3, 3, 3, 1, 4), seed=5)
    grouped = keras.layers.Conv3D(4, 3, groups=4, use_bias=False)
    grouped.build(x.shape)
    grouped.set_weights([kernel])
    ours = channelwise_correlation(tf.constant(x), tf.constant(kernel), ((0, 0), (0, 0), (0, 0)))
    assert ours.shape == (2, 3, 4, 4, 4)
    np.testing.assert_allclose(ours, grouped(x), rtol=1e-4, atol=1e-5)


def test_hand_computed_temporal_sum():
    # 1x1x1 spatial, kernel (3, 1, 1) = (1, 10, 100) per channel: y_t = x_{t-1} + 10 x_t + 100 x_{t+1}.
    x = np.array([1.0, 2.0, 3.0], "float32").reshape(1, 3, 1, 1, 1)
    layer = DepthwiseConv3D((3, 1, 1))
    layer(x)
    layer.kernel.assign(np.array([1.0, 10.0, 100.0], "float32").reshape(3, 1, 1, 1, 1))
    np.testing.assert_allclose(layer(x).numpy().ravel(), [210.0, 321.0, 32.0])


def _grouped_reference(layer, x):
    """Conv3D(groups=C) with the layer's kernel, after the layer's explicit padding."""
    pads = layer._pads(x.shape[2], x.shape[3])
    padded = keras.layers.ZeroPadding3D(pads)(x)
    channels = x.shape[-1]
    grouped = keras.layers.Conv3D(channels, layer.kernel_size, layer.strides, groups=channels,
                                  use_bias=False)
    grouped(padded)
    grouped.set_weights([layer.kernel.numpy()])
    return grouped, padded


@pytest.mark.parametrize("size, stride, padding, kernel_size", [
    ((7, 8), 1, "same", 3), ((7, 8), 2, "same", 3), ((8, 8), 2, "same", (1, 3, 3)),
    ((9, 5), 3, "same", (5, 3, 3)), ((8, 8), 2, "valid", 3), ((7, 6), 1, "valid", (3, 1, 1)),
])
def test_explicit_gradient_matches_autodiff_of_grouped_conv(size, stride, padding, kernel_size):
    # The layer's custom gradient (flipped-kernel input gradient, correlation
    # kernel gradient) against TF's autodiff of Conv3D(groups=C).
    x = tf.constant(random_video((2, 4) + size + (3,)))
    layer = DepthwiseConv3D(kernel_size, stride, spatial_padding=padding)
    outputs = layer(x)
    grouped, _ = _grouped_reference(layer, x)
    upstream = tf.constant(random_video(outputs.shape, seed=3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = layer(x)
        reference = grouped(keras.layers.ZeroPadding3D(layer._pads(*size))(x))
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    for have, want in zip(tape.gradient(ours, [x, layer.kernel], output_gradients=upstream),
                          tape.gradient(reference, [x, grouped.kernel], output_gradients=upstream)):
        np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-4)


def test_hand_computed_gradients():
    # y_t = k0 x_{t-1} + k1 x_t + k2 x_{t+1} with zero padding and loss sum(g_t y_t):
    # dL/dx_s = sum_t g_t k_{s-t+1};  dL/dk_j = sum_t g_t x_{t+j-1}.
    x = tf.constant(np.array([1.0, 2.0, 3.0], "float32").reshape(1, 3, 1, 1, 1))
    g = tf.constant(np.array([1.0, -1.0, 2.0], "float32").reshape(1, 3, 1, 1, 1))
    layer = DepthwiseConv3D((3, 1, 1))
    layer(x)
    layer.kernel.assign(np.array([1.0, 10.0, 100.0], "float32").reshape(3, 1, 1, 1, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    grad_x, grad_k = tape.gradient(y, [x, layer.kernel], output_gradients=g)
    # dL/dx: x0 <- g0 k1 + g1 k0; x1 <- g0 k2 + g1 k1 + g2 k0; x2 <- g1 k2 + g2 k1.
    np.testing.assert_allclose(np.ravel(grad_x), [10 - 1, 100 - 10 + 2, -100 + 20])
    # dL/dk0 = g1 x0 + g2 x1; dL/dk1 = sum g x; dL/dk2 = g0 x1 + g1 x2.
    np.testing.assert_allclose(np.ravel(grad_k), [-1 + 4, 1 - 2 + 6, 2 - 3])


def test_gradient_with_unknown_frame_count():
    # Clip length is dynamic after SGS: the gradient must not need a static T.
    layer = DepthwiseConv3D(3, 2)
    call = tf.function(lambda v: tf.gradients(tf.reduce_sum(layer(v) ** 2), [v])[0],
                       input_signature=[tf.TensorSpec((None, None, 8, 8, 3))])
    x = random_video((1, 5, 8, 8, 3))
    grad = call(x)
    assert grad.shape == x.shape
    assert np.all(np.isfinite(grad))


def test_temporal_stride_rejected():
    with pytest.raises(ValueError, match="temporal stride 1"):
        DepthwiseConv3D(3, (2, 1, 1))
    with pytest.raises(ValueError, match="equal spatial strides"):
        DepthwiseConv3D(3, (1, 2, 1))


def test_static_height_and_width_required():
    with pytest.raises(ValueError, match="static height and width"):
        DepthwiseConv3D(3)(keras.Input((4, None, None, 3)))


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
