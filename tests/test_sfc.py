"""SelectiveFeatureCompression and TopKPooling (seed 001, section 3.1)."""

import numpy as np
import pytest

import keras
from layer_checks import random_video, run_standard_checks
from vidzoo.layers import SelectiveFeatureCompression, TopKPooling
from vidzoo.layers.sfc import compression_attention, pooled_length


def test_topk_pool_keeps_largest_in_temporal_order():
    x = np.zeros((1, 4, 1, 1, 2), "float32")
    x[0, :, 0, 0, 0] = [1, 5, 3, 4]  # top-2 at t = 1, 3 -> (5, 4)
    x[0, :, 0, 0, 1] = [9, 1, 8, 2]  # top-2 at t = 0, 2 -> (9, 8)
    y = TopKPooling(tau=2)(x).numpy()[0, :, 0, 0]
    np.testing.assert_array_equal(y, [[5, 9], [4, 8]])


def test_pooled_lengths_for_paper_taus():
    assert [pooled_length(12, tau) for tau in (4 / 3, 2, 4)] == [9, 6, 3]
    assert pooled_length(3, 4) == 1


def test_attention_by_hand():
    # One query step q = 1 against keys (0, ln 3): softmax -> (1/4, 3/4).
    query = np.ones((1, 1, 1, 1, 1), "float32")
    key = np.array([0.0, np.log(3.0)], "float32").reshape(1, 2, 1, 1, 1)
    value = np.array([4.0, 8.0], "float32").reshape(1, 2, 1, 1, 1)
    out, attention = compression_attention(query, key, value)
    np.testing.assert_allclose(attention.numpy()[0, 0], [0.25, 0.75], rtol=1e-6)
    np.testing.assert_allclose(out.numpy().ravel(), [0.25 * 4 + 0.75 * 8], rtol=1e-6)


def test_output_is_attention_over_untransformed_head_features():
    x = random_video((2, 8, 3, 3, 8))
    layer = SelectiveFeatureCompression(tau=2, return_attention=True)
    out, attention = layer(x)
    assert out.shape == (2, 4, 3, 3, 8) and attention.shape == (2, 4, 8)
    np.testing.assert_allclose(attention.numpy().sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out.numpy(), np.einsum("nqk,nkhwc->nqhwc", attention.numpy(), x),
                               rtol=1e-4, atol=1e-5)


def test_constant_video_compresses_to_itself():
    frame = random_video((1, 1, 2, 2, 8))
    x = np.repeat(frame, 6, axis=1)
    out = SelectiveFeatureCompression(tau=3)(x).numpy()
    np.testing.assert_allclose(out, np.repeat(frame, 2, axis=1), rtol=1e-5, atol=1e-6)


def test_parameter_layout():
    layer = SelectiveFeatureCompression()
    layer(random_video((1, 4, 2, 2, 16)))
    theta = 2 * (3 * 16 * 16 + 16)  # two 3x1x1 convs C -> C with bias
    block = 16 * 4 + 27 * 4 * 4 + 4 * 16 + 2 * (4 + 4 + 16)  # convs + BN gamma/beta
    assert sum(np.prod(w.shape) for w in layer.trainable_weights) == theta + 2 * block


def test_bad_input():
    with pytest.raises(ValueError, match="static number of frames"):
        SelectiveFeatureCompression()(keras.Input((None, 4, 4, 8)))
    with pytest.raises(ValueError, match="tau"):
        TopKPooling(tau=0.5)
    with pytest.raises(ValueError, match="rank 5"):
        TopKPooling()(random_video((2, 4, 8)))


def test_topk_framework_checks(tmp_path):
    run_standard_checks(lambda: TopKPooling(tau=4 / 3), (2, 8, 4, 4, 3), tmp_path, trains=False)


def test_sfc_framework_checks(tmp_path):
    run_standard_checks(lambda: SelectiveFeatureCompression(tau=2, scaled=True),
                        (2, 6, 4, 4, 8), tmp_path)


def test_bottleneck_block_framework_checks(tmp_path):
    from vidzoo.layers import BottleneckBlock3D

    run_standard_checks(lambda: BottleneckBlock3D(), (2, 4, 4, 4, 8), tmp_path)
