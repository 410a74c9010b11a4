"""PySlowFast's Slow-only and I3D ResNet-50."""

import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo.pyslowfast_resnet import temporal_kernels
from zoo_checks import assert_adaptive_flops_differ, assert_trains_one_step, random_clips


@pytest.mark.parametrize("name, expected", [("slow_r50", 32_454_096), ("i3d_r50", 28_043_472)])
def test_parameter_counts_equal_the_references(name, expected):
    assert zoo.reference_param_count(zoo.get_model(name)) == expected


def test_pyslowfast_temporal_kernel_patterns_repeat_over_blocks():
    assert temporal_kernels((3, 1), 4) == [3, 1, 3, 1]
    assert temporal_kernels((1, 3), 3) == [1, 3, 1]
    model = zoo.I3D_R50(input_shape=(8, 32, 32, 3))
    assert model.get_layer("res5_block1_a_conv").kernel.shape[0] == 1
    assert model.get_layer("res5_block2_a_conv").kernel.shape[0] == 3
    assert model.get_layer("stem_conv").kernel.shape[:3] == (5, 7, 7)


def test_trains_one_step():
    model = zoo.SlowOnly_R50(input_shape=(4, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_atfr_bins_and_flops_follow_the_clip():
    model = zoo.get_model("i3d_r50_atfr", input_shape=(16, 32, 32, 3), classes=3)
    assert_adaptive_flops_differ(model, (16, 32, 32, 3))
