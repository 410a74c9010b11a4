"""MTConv, MTBlock, SoftPool3D, TripletCosineSelection, SqueezeAndRecursion (seed 003)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from layer_checks import random_video, run_standard_checks
from vidzoo.layers import MTBlock, MTConv, SoftPool3D, SqueezeAndRecursion, TripletCosineSelection
from vidzoo.layers.mtconv import soft_pool, triplet_cosine_scores
from vidzoo.layers.video_ops import linear_resize_axis, trilinear_resize


def test_softpool_by_hand():
    # Window (0, 1, 0, 1): weights e^a -> (0 + e + 0 + e) / (1 + e + 1 + e) = e / (1 + e).
    x = np.array([[0, 1], [0, 1]], "float32").reshape(1, 1, 2, 2, 1)
    y = SoftPool3D()(x).numpy().ravel()
    np.testing.assert_allclose(y, [np.e / (1 + np.e)], rtol=1e-6)


def test_softpool_from_2d_pools_equals_the_3d_pools():
    # Static H, W, C: per-frame 2D pools (TFLite builtins); unknown: 3D pools
    # (which need even sizes there: window_maximum crops to the static size).
    x = random_video((2, 3, 6, 8, 4)) * 3
    static = SoftPool3D()(x).numpy()
    any_size = tf.function(soft_pool, input_signature=[tf.TensorSpec((None,) * 4 + (4,))])
    dynamic = any_size(x).numpy()
    assert static.shape == (2, 3, 3, 4, 4)
    np.testing.assert_allclose(static, dynamic, rtol=1e-6, atol=1e-6)


def test_softpool_odd_size_partial_window():
    x = np.array([[1, 2, 3]], "float32").reshape(1, 1, 1, 3, 1)
    y = SoftPool3D()(x).numpy().ravel()
    want_first = (1 * np.e + 2 * np.e**2) / (np.e + np.e**2)
    np.testing.assert_allclose(y, [want_first, 3.0], rtol=1e-5)


def test_softpool_is_finite_and_exact_on_large_magnitudes():
    # Two windows far apart: (1000, 0, 0, 0) and (-1000, -1000, -999, -1000).
    # A shift by the clip-wide maximum would underflow the second to 0 / 0.
    x = np.array([[1000, 0, -1000, -999], [0, 0, -1000, -1000]], "float32").reshape(
        1, 1, 2, 4, 1)
    y = SoftPool3D()(x).numpy().ravel()
    second = (-999 * 1 + 3 * -1000 * np.exp(-1)) / (1 + 3 * np.exp(-1))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [1000.0, second], rtol=1e-6)
    big = random_video((2, 3, 6, 6, 4)) * 1e3
    with tf.GradientTape() as tape:
        v = tf.constant(big)
        tape.watch(v)
        out = SoftPool3D()(v)
        total = tf.reduce_sum(out)
    assert np.all(np.isfinite(out.numpy()))
    assert np.all(np.isfinite(tape.gradient(total, v).numpy()))


def test_triplet_cosine_selection_by_hand():
    # Frame sums f0 = f1 = (1, 0), f2 = f3 = (0, 1): neighbour cosines 1, 0, 1.
    # Scores: f0 2*1 = 2, f1 1 + 0 = 1, f2 0 + 1 = 1, f3 2 -> keep f1, f2 in order.
    x = np.zeros((1, 4, 1, 1, 2), "float32")
    x[0, :2, 0, 0, 0] = 1
    x[0, 2:, 0, 0, 1] = 1
    x[0, :, 0, 0, :] *= np.array([[1], [2], [3], [4]])  # tag frames by scale
    np.testing.assert_allclose(triplet_cosine_scores(x).numpy()[0], [2, 1, 1, 2], atol=1e-6)
    y = TripletCosineSelection()(x).numpy()[0, :, 0, 0]
    np.testing.assert_array_equal(y, [[2, 0], [0, 3]])


def test_selection_picks_each_clips_own_frames():
    # Two clips in one batch with different least-similar frames: the gather
    # must index each clip's frames, in temporal order.
    x = np.zeros((2, 4, 1, 1, 2), "float32")
    x[0, :2, 0, 0, 0] = 1  # clip 0: frames (1,0) (1,0) (0,1) (0,1) -> keep 1, 2
    x[0, 2:, 0, 0, 1] = 1
    x[1, :, 0, 0, 0] = 1  # clip 1: frames (1,0) (0,1) (1,0) (1,0) -> keep 0, 1
    x[1, 1] = [0, 1]
    x *= np.arange(1, 5, dtype="float32").reshape(1, 4, 1, 1, 1)  # tag frames by scale
    y = TripletCosineSelection()(x).numpy()[:, :, 0, 0]
    np.testing.assert_array_equal(y[0], [[2, 0], [0, 3]])
    np.testing.assert_array_equal(y[1], [[1, 0], [0, 2]])
    want = np.take_along_axis(x, np.array([[1, 2], [0, 1]])[:, :, None, None, None], axis=1)
    np.testing.assert_array_equal(TripletCosineSelection()(x).numpy(), want)


def test_linear_resize_half_pixel_by_hand():
    x = np.array([0.0, 1.0], "float32").reshape(1, 2)
    np.testing.assert_allclose(linear_resize_axis(x, 4, 1).numpy()[0], [0, 0.25, 0.75, 1])


def test_trilinear_matches_tf_bilinear_in_space():
    x = random_video((1, 1, 3, 5, 2))
    ours = trilinear_resize(x, (1, 6, 10)).numpy()[:, 0]
    theirs = tf.image.resize(x[:, 0], (6, 10), method="bilinear").numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_mtconv_channel_split_and_branches():
    layer = MTConv(16, ratio=0.875)
    x = random_video((1, 4, 6, 6, 8))
    y = layer(x).numpy()
    assert layer.local_in == 7 and layer.local_filters == 14 and y.shape[-1] == 16
    changed = x.copy()
    changed[..., 7:] += 1.0  # only the prolonged branch's input channel
    y2 = layer(changed).numpy()
    np.testing.assert_array_equal(y2[..., :14], y[..., :14])
    assert not np.allclose(y2[..., 14:], y[..., 14:])
    # Local branch: ReLU(BN(conv(x[..., :7]))) with inference BatchNorm.
    conv, norm = layer.local
    np.testing.assert_allclose(
        y[..., :14], tf.nn.relu(norm(conv(x[..., :7]), training=False)).numpy(), rtol=1e-5)


@pytest.mark.parametrize("kernel, strides, shape", [
    (1, 1, (1, 4, 4, 4, 4)),
    (3, (1, 2, 2), (1, 5, 7, 7, 4)),  # strided, odd sizes: both paths still meet in size
])
def test_mtconv_prolonged_branch_by_its_definition(kernel, strides, shape):
    # Each path resized on its own, then added: the layer resizes their sum once.
    layer = MTConv(8, kernel_size=kernel, strides=strides, ratio=0.5, activation=None)
    x = random_video(shape)
    y = layer(x).numpy()
    local = y[..., :4]
    size = y.shape[1:4]

    def reduce(v):
        pooled = SoftPool3D()(v)
        return TripletCosineSelection()(pooled)

    conv_l, norm_l = layer.from_local
    conv_i, norm_i = layer.from_input
    branch = (trilinear_resize(norm_l(conv_l(reduce(local)), training=False), size)
              + trilinear_resize(norm_i(conv_i(reduce(x[..., 2:])), training=False), size))
    np.testing.assert_allclose(y[..., 4:], branch.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("strides, shape", [(1, (1, 4, 6, 6, 8)),
                                            ((1, 2, 2), (1, 5, 7, 7, 8))])
def test_channelwise_mtconv_by_its_definition(strides, shape):
    # Local: BN(channelwise 3x3x3 on the first floor(rC) channels), PyTorch's
    # symmetric padding. Prolonged: channelwise conv of the reduced other
    # channels + a 1x1x1 conv lateral of the reduced local output, resized.
    layer = MTConv(None, 3, strides, ratio=0.75, activation=None, channelwise=True)
    x = random_video(shape)
    y = layer(x).numpy()
    assert layer.local_in == layer.local_filters == 6 and y.shape[-1] == 8

    def same_padding_conv(pair, v):
        conv, norm = pair
        v = np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)))
        return norm(conv(v), training=False)

    local = same_padding_conv(layer.local, x[..., :6]).numpy()
    np.testing.assert_allclose(y[..., :6], local, rtol=1e-5, atol=1e-6)

    def reduce(v):
        return TripletCosineSelection()(SoftPool3D()(v))

    conv_l, norm_l = layer.from_local
    assert conv_l.kernel.shape == (1, 1, 1, 6, 2)
    lateral = norm_l(conv_l(reduce(local)), training=False)
    from_input = same_padding_conv(layer.from_input, reduce(x[..., 6:]).numpy())
    want = trilinear_resize(lateral + from_input, y.shape[1:4]).numpy()
    np.testing.assert_allclose(y[..., 6:], want, rtol=1e-5, atol=1e-5)
    # Parameters: 3x3x3 per channel (6 + 2), the 6 -> 2 lateral, and BN's
    # gamma and beta on 6 + 2 + 2 channels.
    assert sum(np.prod(w.shape) for w in layer.trainable_weights) == 27 * 8 + 6 * 2 + 2 * 10


def test_squeeze_and_recursion_gates_per_frame():
    block_in = random_video((2, 5, 3, 3, 4))
    acts = random_video((2, 5, 3, 3, 6), seed=1)
    layer = SqueezeAndRecursion()
    out = layer([block_in, acts]).numpy()
    gates = layer.grus[1](layer.grus[0](block_in.mean(axis=(2, 3)))).numpy()
    assert len(layer.grus) == 2 and gates.shape == (2, 5, 6)
    np.testing.assert_allclose(out, acts * gates[:, :, None, None, :], rtol=1e-5, atol=1e-6)


def test_squeeze_and_recursion_unrolls_static_frames_with_the_looped_grus_outputs():
    block_in = random_video((2, 5, 3, 3, 4))
    acts = random_video((2, 5, 3, 3, 6), seed=1)
    layer = SqueezeAndRecursion()
    out = layer([block_in, acts]).numpy()
    assert all(gru.unroll for gru in layer.grus)
    gates = block_in.mean(axis=(2, 3))
    for unrolled in layer.grus:  # the same weights in a GRU that loops over time
        looped = keras.layers.GRU(6, return_sequences=True, reset_after=False)
        looped.build(gates.shape)
        looped.set_weights(unrolled.get_weights())
        gates = looped(gates).numpy()
    np.testing.assert_allclose(out, acts * gates[:, :, None, None, :], rtol=1e-5, atol=1e-6)
    any_length = keras.Input((None, 3, 3, 4))  # frames unknown: the GRUs loop
    dynamic = SqueezeAndRecursion()
    dynamic([any_length, any_length])
    assert not any(gru.unroll for gru in dynamic.grus)


def test_mtblock_shapes_and_shortcut():
    x = random_video((2, 4, 8, 8, 8))
    same = MTBlock(8, width=16)
    down = MTBlock(16, width=16, spatial_stride=2)
    assert same(x).shape == (2, 4, 8, 8, 8) and same.shortcut is None
    assert down(x).shape == (2, 4, 4, 4, 16) and len(down.shortcut) == 2
    strided = MTBlock(8, width=16, spatial_stride=2)  # X3D: no BN when channels stay
    assert strided(x).shape == (2, 4, 4, 4, 8) and len(strided.shortcut) == 1


def test_mtblock_is_x3ds_bottleneck_with_a_gru_at_the_inner_width():
    block = MTBlock(8, width=16, ratio=0.875)
    block(random_video((1, 4, 6, 6, 8)))
    gru = 2 * 3 * (16 * 16 + 16 * 16 + 16)  # two GRUs of 16 units on 16 inputs
    a = 8 * 16 + 2 * 16  # 1x1x1 conv + BN
    b = 27 * 16 + 14 * 2 + 2 * (14 + 2 + 2)  # channelwise 3x3x3, 14 -> 2 lateral, BNs
    c = 16 * 8 + 2 * 8
    assert [g.units for g in block.importance.grus] == [16, 16]
    assert sum(np.prod(w.shape) for w in block.trainable_weights) == gru + a + b + c


def test_ratio_one_is_a_plain_conv_bn_relu():
    x = random_video((2, 4, 6, 6, 5))
    layer = MTConv(7, ratio=1.0)
    y = layer(x)
    conv, norm = layer.local
    expected = keras.ops.relu(norm(conv(x), training=False))
    np.testing.assert_allclose(y, expected, atol=1e-6)
    assert y.shape == (2, 4, 6, 6, 7)
    assert layer.count_params() == 3 * 3 * 3 * 5 * 7 + 4 * 7  # conv, no bias; BN


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 frame"):
        MTConv(8)(random_video((1, 1, 4, 4, 8)))
    with pytest.raises(ValueError, match="ratio"):
        MTConv(8, ratio=1.5)
    with pytest.raises(ValueError, match="input channels"):
        MTConv(8)(random_video((1, 4, 4, 4, 1)))
    with pytest.raises(ValueError, match="keeps its 8 input channels"):
        MTConv(4, channelwise=True)(random_video((1, 4, 4, 4, 8)))
    with pytest.raises(ValueError, match="filters is required"):
        MTConv()
    with pytest.raises(ValueError, match="spatial strides only"):
        MTConv(None, 3, (2, 1, 1), channelwise=True)(random_video((1, 4, 4, 4, 8)))
    with pytest.raises(ValueError, match="same number of frames"):
        SqueezeAndRecursion()([random_video((1, 4, 2, 2, 3)), random_video((1, 2, 2, 2, 3))])


@pytest.mark.parametrize(
    "make_layer, shape, trains",
    [
        (lambda: MTConv(12, strides=(1, 2, 2)), (2, 4, 8, 8, 8), True),
        (lambda: MTConv(None, 3, (1, 2, 2), channelwise=True, activation="swish"),
         (2, 4, 8, 8, 8), True),
        (lambda: MTBlock(16, width=8, spatial_stride=2), (2, 4, 8, 8, 8), True),
        (lambda: SoftPool3D(), (2, 3, 5, 5, 4), False),
        (lambda: TripletCosineSelection(), (2, 6, 4, 4, 4), False),
    ],
)
def test_framework_checks(make_layer, shape, trains, tmp_path):
    run_standard_checks(make_layer, shape, tmp_path, trains=trains)


def test_squeeze_and_recursion_framework_checks(tmp_path):
    import keras

    from layer_checks import assert_config_round_trip

    assert_config_round_trip(SqueezeAndRecursion(reset_after=True))
    inputs = keras.Input((4, 3, 3, 4))
    model = keras.Model(inputs, SqueezeAndRecursion()([inputs, inputs]))
    x = random_video((2, 4, 3, 3, 4))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-5)
