"""MAC counting: hand-computed layers, published anchors, per-clip counts."""

import keras
import numpy as np
import pytest

import vidzoo.zoo as zoo
from vidzoo.layers import DepthwiseConv3D, SelectiveFeatureCompression
from vidzoo.zoo.flops import clip_flops, count_flops


def test_layer_counts_by_hand():
    inputs = keras.Input((4, 8, 8, 2))
    x = keras.layers.Conv3D(3, (3, 3, 3), strides=(1, 2, 2), padding="same")(inputs)  # 4x4x4x3
    x = DepthwiseConv3D((3, 1, 1))(x)                                                 # 4x4x4x3
    x = keras.layers.Conv3D(6, 1, groups=3)(x)
    x = keras.layers.Reshape((4, 4 * 4 * 6))(x)
    x = keras.layers.GRU(5, return_sequences=True)(x)
    x = keras.layers.Dense(7)(x)
    model = keras.Model(inputs, x)
    conv = 4 * 4 * 4 * 3 * (27 * 2)
    depthwise = 4 * 4 * 4 * 3 * 3
    grouped = 4 * 4 * 4 * 6 * 1
    gru = 4 * 3 * (96 * 5 + 5 * 5)
    dense = 4 * 5 * 7
    assert count_flops(model) == conv + depthwise + grouped + gru + dense


def test_sfc_counts_its_attention_products():
    inputs = keras.Input((4, 2, 2, 8))
    model = keras.Model(inputs, SelectiveFeatureCompression(tau=2)(inputs))
    # Two bottleneck blocks 8 -> 2 -> 2 -> 8 on 4x2x2, theta_q (3x1x1, 8 -> 8) on the
    # pooled 2x2x2 query, theta_k on 4x2x2, then query . key and M v: 2 x (2 x 4 x 32).
    block = 16 * 8 * 2 + 16 * 27 * 2 * 2 + 16 * 2 * 8
    theta_q, theta_k = 8 * 3 * 8 * 8, 16 * 3 * 8 * 8
    attention = 2 * (2 * 4 * 2 * 2 * 8)
    assert count_flops(model) == 2 * block + theta_q + theta_k + attention


@pytest.mark.parametrize("name, gmacs", [("r2plus1d_18", 40.519), ("r3d_18", 40.697)])
def test_published_anchors(name, gmacs):
    assert count_flops(zoo.get_model(name)) / 1e9 == pytest.approx(gmacs, abs=0.001)


def test_count_needs_a_known_shape():
    model = zoo.R3D_18(input_shape=(None, 32, 32, 3))
    with pytest.raises(ValueError, match="fully known clip shape"):
        count_flops(model)
    assert count_flops(model, (8, 32, 32, 3)) < count_flops(model, (16, 32, 32, 3))


def test_a_zero_clip_costs_what_count_flops_says():
    model = zoo.X3D_XS(input_shape=(4, 32, 32, 3))
    clip = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    assert clip_flops(model, clip) == count_flops(model)


def test_clip_flops_takes_one_clip():
    model = zoo.X3D_XS(input_shape=(4, 32, 32, 3))
    with pytest.raises(ValueError, match="one clip"):
        clip_flops(model, np.zeros((2, 4, 32, 32, 3), "float32"))
