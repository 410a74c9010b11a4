"""MTNet: X3D's skeleton with MTBlocks in place of its residual blocks."""

import keras
import pytest

import vidzoo.zoo as zoo
from vidzoo.layers import MTBlock
from vidzoo.zoo.x3d import stage_plan
from zoo_checks import assert_keras_round_trip, assert_trains_one_step, random_clips


def _non_block_params(model):
    return sum(layer.count_params() for layer in model.layers
               if not layer.name.startswith("res") and layer.weights)


def test_mtnet_keeps_x3d_stem_widths_and_head():
    mtnet = zoo.MTNet_S(input_shape=(4, 32, 32, 3))
    x3d = zoo.X3D_S(input_shape=(4, 32, 32, 3))
    blocks = [layer for layer in mtnet.layers if isinstance(layer, MTBlock)]
    assert len(blocks) == 3 + 5 + 11 + 7
    assert [b.filters for b in blocks[:4]] == [24, 24, 24, 48]
    assert [b.width for b in blocks[-1:]] == [432]
    assert _non_block_params(mtnet) == _non_block_params(x3d)
    for stage in ("res2", "res3", "res4", "res5", "conv5"):
        assert mtnet.get_layer(stage).output.shape == x3d.get_layer(stage).output.shape


def _expected_mtnet_params(size, ratio):
    """X3D's reference count, less its squeeze-excitation, plus per block a
    2-layer GRU at the inner width, the lateral 1x1x1 conv floor(r C) ->
    ceil((1 - r) C) and the lateral's BatchNorm."""
    x3d = zoo.get_model(f"x3d_{size}", input_shape=(4, 32, 32, 3))
    se = sum(layer.count_params() for layer in x3d.layers if "_se_" in layer.name)
    extra = 0
    factors = zoo.variant(f"x3d_{size}").arguments
    for depth, _, inner in stage_plan(factors["width_factor"], factors["depth_factor"]):
        local = int(inner * ratio)
        rest = inner - local
        gru = 2 * 3 * (inner * inner + inner * inner + inner)
        extra += depth * (gru + (local * rest + 2 * rest if rest else 0))
    return zoo.reference_param_count(x3d) - se + extra


@pytest.mark.parametrize("size, paper, tolerance", [("s", 25.8e6, 0.10), ("m", 25.8e6, 0.10),
                                                    ("l", 50.1e6, 0.12)])
def test_parameter_counts_follow_the_definition_and_the_papers_sizes(size, paper, tolerance):
    # Table I: MTNet-S/M 25.8M, MTNet-L 50.1M parameters at r = 0.875.
    count = zoo.reference_param_count(zoo.get_model(f"mtnet_{size}", input_shape=(4, 32, 32, 3)))
    assert count == _expected_mtnet_params(size, 0.875)
    assert abs(count / paper - 1) <= tolerance


def test_ratio_sweep_changes_only_the_laterals():
    counts = {r: zoo.reference_param_count(zoo.MTNet_M(input_shape=(4, 32, 32, 3), ratio=r))
              for r in (1.0, 0.5)}
    assert counts == {r: _expected_mtnet_params("m", r) for r in counts}


def _batch_norm_conventions(model):
    return {(layer.momentum, layer.epsilon) for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)}


def test_every_batch_norm_follows_the_x3d_skeleton_convention():
    # Keras' default momentum (0.99) inside the MTConvs left the moving
    # statistics near their initial values after a short training run.
    mtnet = zoo.MTNet_S(input_shape=(4, 32, 32, 3))
    x3d = zoo.X3D_S(input_shape=(4, 32, 32, 3))
    assert _batch_norm_conventions(mtnet) == _batch_norm_conventions(x3d) == {(0.9, 1e-5)}


def test_forward_and_training_step():
    model = zoo.MTNet_S(input_shape=(4, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)), run_eagerly=True)


def test_keras_round_trip(tmp_path):
    model = zoo.MTNet_S(input_shape=(4, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (4, 32, 32, 3)), tmp_path)


def test_needs_static_frames():
    with pytest.raises(ValueError, match="static number of frames"):
        zoo.MTNet_S(input_shape=(None, 32, 32, 3))
