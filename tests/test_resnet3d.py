"""torchvision VideoResNets, Hara's 3D ResNets, PySlowFast Slow/I3D-R50."""

import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo.resnet3d import _midplanes, temporal_kernels
from zoo_checks import (
    assert_adaptive_flops_differ,
    assert_keras_round_trip,
    assert_trains_one_step,
    random_clips,
)


@pytest.mark.parametrize("name, expected", [
    ("r3d_18", 33_371_472), ("mc3_18", 11_695_440), ("r2plus1d_18", 31_505_325),
    ("slow_r50", 32_454_096), ("i3d_r50", 28_043_472), ("r2plus1d_r50", 28_107_600),
])
def test_parameter_counts_equal_the_references(name, expected):
    assert zoo.reference_param_count(zoo.get_model(name)) == expected


def test_midplanes_match_a_full_3d_conv_budget():
    # (in * out * 27) // (9 * in + 3 * out), by hand.
    assert _midplanes(64, 64) == 144
    assert _midplanes(64, 128) == 230
    assert _midplanes(128, 128) == 288


def test_pyslowfast_temporal_kernel_patterns_repeat_over_blocks():
    assert temporal_kernels((3, 1), 4) == [3, 1, 3, 1]
    assert temporal_kernels((1, 3), 3) == [1, 3, 1]
    model = zoo.I3D_R50(input_shape=(8, 32, 32, 3))
    assert model.get_layer("res5_block1_a_conv").kernel.shape[0] == 1
    assert model.get_layer("res5_block2_a_conv").kernel.shape[0] == 3
    assert model.get_layer("stem_conv").kernel.shape[:3] == (5, 7, 7)


@pytest.mark.parametrize("name, res5", [
    ("r3d_18", (2, 7, 7, 512)), ("mc3_18", (16, 7, 7, 512)), ("r2plus1d_18", (2, 7, 7, 512)),
    ("resnet3d_18", (1, 4, 4, 512)),
])
def test_stage_shapes_follow_the_reference_strides(name, res5):
    model = zoo.get_model(name, input_shape=(16, 112, 112, 3))
    assert tuple(model.get_layer("res5").output.shape[1:]) == res5


def test_r2plus1d_forward_and_training_step():
    model = zoo.R2Plus1D_18(input_shape=(4, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_pyslowfast_and_hara_resnets_train():
    for model in (zoo.SlowOnly_R50(input_shape=(4, 32, 32, 3), classes=3),
                  zoo.ResNet3D_18(input_shape=(4, 32, 32, 3), classes=3)):
        assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_keras_round_trip(tmp_path):
    model = zoo.MC3_18(input_shape=(4, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (4, 32, 32, 3)), tmp_path)


@pytest.mark.parametrize("name", ["r2plus1d_18_atfr", "resnet3d_18_atfr", "i3d_r50_atfr"])
def test_atfr_bins_and_flops_follow_the_clip(name):
    model = zoo.get_model(name, input_shape=(16, 32, 32, 3), classes=3)
    assert_adaptive_flops_differ(model, (16, 32, 32, 3))


def test_atfr_keras_round_trip(tmp_path):
    model = zoo.get_model("r2plus1d_18_atfr", input_shape=(8, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (8, 32, 32, 3)), tmp_path)


@pytest.mark.parametrize("name", ["resnet3d_18_atfr", "r2plus1d_18_atfr", "slow_r50_atfr",
                                  "x3d_s_atfr"])
def test_sgs_before_relu_samples_the_residual_sum(name):
    # The released ATFR code applies SGS to the last block's residual sum and
    # the stage's ReLU after it. What SGS sees then has negative values; with
    # the default placement it is the stage's (ReLU) output.
    import keras
    import numpy as np

    clips = random_clips(2, (8, 32, 32, 3))
    seen = {}
    for placement in ("after_relu", "before_relu"):
        model = zoo.get_model(name, input_shape=(8, 32, 32, 3), classes=3,
                              sgs={"after": "res2", "placement": placement})
        sgs_input = keras.Model(model.input, model.get_layer("res2").output)
        seen[placement] = np.asarray(sgs_input(clips)).min()
        assert np.all(np.isfinite(np.asarray(model(clips))))
    assert seen["after_relu"] >= 0 and seen["before_relu"] < 0


def test_sgs_placement_errors_name_the_choices():
    with pytest.raises(ValueError, match="placement"):
        zoo.get_model("resnet3d_18_atfr", input_shape=(8, 32, 32, 3),
                      sgs={"after": "res2", "placement": "inside"})
    with pytest.raises(ValueError, match="before_relu"):
        zoo.get_model("mtnet_s", input_shape=(8, 64, 64, 3),
                      sgs={"after": "res2", "placement": "before_relu"})


def test_pytorchvideo_r2plus1d_r50_costs_the_reference_gmacs():
    # pytorchvideo r2plus1d_r50 at 1x16x224x224x3: 57.534 GMACs.
    from vidzoo.zoo.flops import count_flops

    model = zoo.get_model("r2plus1d_r50")
    assert round(count_flops(model) / 1e9, 3) == 57.534
    assert tuple(model.get_layer("res5").output.shape[1:]) == (4, 7, 7, 2048)


def _sgs_resnet_params(depths, classes=400):
    """The authors' `ResNet3D` counted by hand: convs without bias, BN gamma/beta."""
    def conv_bn(k, c_in, c_out):
        return k * c_in * c_out + 2 * c_out

    total = conv_bn(5 * 7 * 7, 3, 8)
    dim_in = 8
    for (dim_out, inner, t), depth in zip(((32, 8, 3), (256, 64, 1), (512, 128, 1),
                                           (1024, 256, 3)), depths):
        for b in range(depth):
            total += conv_bn(t, dim_in, inner) + conv_bn(9, inner, inner)
            total += conv_bn(1, inner, dim_out)
            if b == 0:
                total += conv_bn(1, dim_in, dim_out)
            dim_in = dim_out
    return total + 1024 * classes + classes


@pytest.mark.parametrize("name, depths", [("sgs_resnet3d_18", (2, 2, 2, 2)),
                                          ("sgs_resnet3d_50", (3, 4, 6, 3))])
def test_atfr_authors_resnet_keeps_every_frame_to_res5(name, depths):
    model = zoo.get_model(name, input_shape=(16, 64, 64, 3))
    assert zoo.reference_param_count(model) == _sgs_resnet_params(depths)
    assert [model.get_layer(s).output.shape[1] for s in ("stem", "res2", "res5")] == [16] * 3
    assert tuple(model.get_layer("res5").output.shape[2:]) == (2, 2, 1024)
    atfr = zoo.get_model(f"{name}_atfr", input_shape=(16, 64, 64, 3))
    assert atfr.get_layer("sgs").num_bins is None  # B = T = 16 at res2


def test_atfr_authors_resnet50_costs_table_7s_gflops():
    # Table 7 (seed 000): 3DResNet-50 40.8 GFLOPs; the paper counts test
    # inputs of 32 frames at 256 x 256 (section 5.1).
    from vidzoo.zoo.flops import count_flops

    model = zoo.get_model("sgs_resnet3d_50", input_shape=(32, 256, 256, 3))
    assert round(count_flops(model) / 1e9, 1) == 40.8
