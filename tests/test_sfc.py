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


def test_topk_frame_mode_keeps_whole_frames_in_temporal_order():
    x = np.zeros((1, 4, 1, 1, 2), "float32")
    x[0, :, 0, 0, 0] = [1, 5, 3, 4]
    x[0, :, 0, 0, 1] = [9, 1, 8, 2]  # frame means 5, 3, 5.5, 3 -> frames 0 and 2
    y = TopKPooling(tau=2, mode="frame")(x).numpy()[0, :, 0, 0]
    np.testing.assert_array_equal(y, [[1, 9], [3, 8]])
    with pytest.raises(ValueError, match="mode"):
        TopKPooling(mode="channel")


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


def _mean_entropy(attention):
    attention = np.asarray(attention)
    return float(np.mean(-np.sum(attention * np.log(np.maximum(attention, 1e-30)), axis=-1)))


@pytest.mark.parametrize("topk", ["element", "frame"])
def test_default_attention_does_not_saturate(topk):
    # res3 of a ResNet-18 at 56 px: H W C = 7 * 7 * 128 = 6272. On unit-variance
    # features the default (scaled) softmax stays graded, well above one-hot
    # (entropy 0) and near uniform (ln 8); eq. 5 unscaled is one-hot.
    x = random_video((2, 8, 7, 7, 128))
    _, attention = SelectiveFeatureCompression(topk=topk, return_attention=True)(x)
    assert _mean_entropy(attention) > 0.5 * np.log(8)
    literal = SelectiveFeatureCompression(topk=topk, scaled=False, return_attention=True)
    _, attention = literal(x)
    assert _mean_entropy(attention) < 0.1 * np.log(8)


def test_abstraction_batch_norms_use_the_zoo_convention():
    layer = SelectiveFeatureCompression()
    layer(random_video((1, 4, 2, 2, 16)))
    norms = [norm for block in layer.abstraction for norm in block.norms]
    assert len(norms) == 6
    assert all(norm.momentum == 0.9 and norm.epsilon == 1e-5 for norm in norms)


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


@pytest.mark.parametrize("options", [dict(), dict(scaled=False, topk="frame"),
                                     dict(abstraction_blocks=1, bottleneck_ratio=0.5)])
def test_sfc_framework_checks(options, tmp_path):
    layer = SelectiveFeatureCompression(tau=2, **options)
    for key, value in options.items():
        assert layer.get_config()[key] == value
    run_standard_checks(lambda: SelectiveFeatureCompression(tau=2, **options),
                        (2, 6, 4, 4, 8), tmp_path)


def test_bottleneck_block_framework_checks(tmp_path):
    from vidzoo.layers import BottleneckBlock3D

    run_standard_checks(lambda: BottleneckBlock3D(), (2, 4, 4, 4, 8), tmp_path)
