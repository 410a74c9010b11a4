"""X3D: pytorchvideo's widths, depths and counts, GFLOPs, training, .keras."""

import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo.flops import count_flops
from vidzoo.zoo.x3d import round_repeats, round_width, stage_plan
from zoo_checks import (
    assert_adaptive_flops_differ,
    assert_keras_round_trip,
    assert_trains_one_step,
    random_clips,
)


def test_width_and_depth_rounding_by_hand():
    assert round_width(12, 2.0) == 24
    assert round_width(12, 2.9) == 32      # 34.8 -> 32 (>= 0.9 x 34.8)
    assert round_width(54, 0.0625) == 8    # floor at min width 8
    assert round_width(432, 0.0625) == 32  # 27 -> 24 < 0.9 x 27, so 32
    assert round_repeats(5, 2.2) == 11
    assert stage_plan(2.0, 2.2) == [(3, 24, 54), (5, 48, 108), (11, 96, 216), (7, 192, 432)]


@pytest.mark.parametrize("name, expected", [
    ("x3d_xs", 3_794_274), ("x3d_s", 3_794_274), ("x3d_m", 3_794_274),
    ("x3d_l", 6_153_384), ("x3d_xl", 11_095_840),
])
def test_parameter_counts_equal_the_references(name, expected):
    assert zoo.reference_param_count(zoo.get_model(name)) == expected


def test_pyslowfast_shortcut_norm_adds_one_batchnorm():
    plain = zoo.reference_param_count(zoo.X3D_S())
    assert zoo.reference_param_count(zoo.X3D_S(shortcut_norm="pyslowfast")) == plain + 48


def test_every_block_starts_as_its_shortcut_unless_asked_otherwise():
    import numpy as np

    zeroed = zoo.X3D_XS(input_shape=(4, 32, 32, 3), classes=3)
    plain = zoo.X3D_XS(input_shape=(4, 32, 32, 3), classes=3, zero_init_final_bn=False)
    assert zeroed.count_params() == plain.count_params()
    final = [layer for layer in zeroed.layers if layer.name.endswith("_c_bn")]
    assert len(final) == 26 and all(not np.any(layer.gamma.numpy()) for layer in final)
    assert all(np.all(layer.gamma.numpy() == 1) for layer in plain.layers
               if layer.name.endswith("_c_bn"))
    atfr = zoo.get_model("x3d_s_atfr", input_shape=(8, 32, 32, 3), classes=3)
    assert not np.any(atfr.get_layer("res5_block1_c_bn").gamma.numpy())  # frame-masked too


def test_gflops_match_the_x3d_paper():
    # X3D paper, Table 4 (one view): X3D-XS 0.60, X3D-S 1.96 GFLOPs.
    assert count_flops(zoo.X3D_XS()) / 1e9 == pytest.approx(0.60, abs=0.01)
    assert count_flops(zoo.X3D_S()) / 1e9 == pytest.approx(1.96, abs=0.01)


def test_channelwise_convs_use_depthwise_layers_with_pytorch_padding():
    model = zoo.X3D_XS(input_shape=(4, 64, 64, 3))
    layer = model.get_layer("res2_block1_b_conv")
    assert type(layer).__name__ == "DepthwiseConv3D" and layer.spatial_padding == "valid"
    assert tuple(model.get_layer("res2").output.shape[1:]) == (4, 16, 16, 24)


def test_forward_and_training_step_on_variable_length_input():
    model = zoo.X3D_XS(input_shape=(None, 32, 32, 3), classes=3)
    assert model(random_clips(1, (6, 32, 32, 3))).shape == (1, 3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_keras_round_trip(tmp_path):
    model = zoo.X3D_XS(input_shape=(4, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (4, 32, 32, 3)), tmp_path)


def test_atfr_bins_and_flops_follow_the_clip():
    model = zoo.get_model("x3d_s_atfr", input_shape=(8, 32, 32, 3), classes=3)
    bins, flops = assert_adaptive_flops_differ(model, (8, 32, 32, 3))
    assert flops[1] <= count_flops(zoo.get_model("x3d_s", input_shape=(8, 32, 32, 3))) * 1.01
