"""Hara et al.'s 3D ResNets (3D-ResNets-PyTorch)."""

import vidzoo.zoo as zoo
from zoo_checks import assert_adaptive_flops_differ, assert_trains_one_step, random_clips


def test_stage_shapes_follow_the_reference_strides():
    model = zoo.get_model("resnet3d_18", input_shape=(16, 112, 112, 3))
    assert tuple(model.get_layer("res5").output.shape[1:]) == (1, 4, 4, 512)


def test_trains_one_step():
    model = zoo.ResNet3D_18(input_shape=(4, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_atfr_bins_and_flops_follow_the_clip():
    model = zoo.get_model("resnet3d_18_atfr", input_shape=(16, 32, 32, 3), classes=3)
    assert_adaptive_flops_differ(model, (16, 32, 32, 3))
