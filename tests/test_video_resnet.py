"""torchvision's VideoResNets: R3D, MC3, R(2+1)D-18/34."""

import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo.video_resnet import _midplanes
from zoo_checks import (
    assert_adaptive_flops_differ,
    assert_keras_round_trip,
    assert_trains_one_step,
    random_clips,
)


@pytest.mark.parametrize("name, expected", [
    ("r3d_18", 33_371_472), ("mc3_18", 11_695_440), ("r2plus1d_18", 31_505_325),
])
def test_parameter_counts_equal_the_references(name, expected):
    assert zoo.reference_param_count(zoo.get_model(name)) == expected


def test_midplanes_match_a_full_3d_conv_budget():
    # (in * out * 27) // (9 * in + 3 * out), by hand.
    assert _midplanes(64, 64) == 144
    assert _midplanes(64, 128) == 230
    assert _midplanes(128, 128) == 288


@pytest.mark.parametrize("name, res5", [
    ("r3d_18", (2, 7, 7, 512)), ("mc3_18", (16, 7, 7, 512)), ("r2plus1d_18", (2, 7, 7, 512)),
])
def test_stage_shapes_follow_the_reference_strides(name, res5):
    model = zoo.get_model(name, input_shape=(16, 112, 112, 3))
    assert tuple(model.get_layer("res5").output.shape[1:]) == res5


def test_unknown_conv_kind_is_named():
    from vidzoo.zoo.video_resnet import video_resnet

    with pytest.raises(ValueError, match="conv kinds are"):
        video_resnet(depths=(1, 1, 1, 1), conv_kinds=("3d", "4d", "3d", "3d"), stem_kind="3d")


def test_r2plus1d_forward_and_training_step():
    model = zoo.R2Plus1D_18(input_shape=(4, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_keras_round_trip(tmp_path):
    model = zoo.MC3_18(input_shape=(4, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (4, 32, 32, 3)), tmp_path)


def test_atfr_bins_and_flops_follow_the_clip():
    model = zoo.get_model("r2plus1d_18_atfr", input_shape=(16, 32, 32, 3), classes=3)
    assert_adaptive_flops_differ(model, (16, 32, 32, 3))


def test_atfr_keras_round_trip(tmp_path):
    model = zoo.get_model("r2plus1d_18_atfr", input_shape=(8, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (8, 32, 32, 3)), tmp_path)
