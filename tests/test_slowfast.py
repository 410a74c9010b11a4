"""SlowFast-R50: counts, pathway sampling, training, .keras, per-pathway SGS."""

import pytest

import vidzoo.zoo as zoo
from zoo_checks import (
    assert_adaptive_flops_differ,
    assert_keras_round_trip,
    assert_trains_one_step,
    random_clips,
)


@pytest.mark.parametrize("name, expected", [
    ("slowfast_r50_4x16", 34_480_216), ("slowfast_r50_8x8", 34_566_488),
])
def test_parameter_counts_equal_the_references(name, expected):
    assert zoo.reference_param_count(zoo.get_model(name)) == expected


def test_lateral_connections_and_stage_lengths():
    model = zoo.SlowFast_R50_4x16(input_shape=(32, 64, 64, 3))
    assert model.get_layer("res2_slow").output.shape[1:] == (4, 16, 16, 256 + 64)
    assert model.get_layer("res5_fast").output.shape[1:] == (32, 2, 2, 256)
    assert model.get_layer("stem_fuse_conv").kernel.shape == (5, 1, 1, 8, 16)


def test_forward_and_training_step():
    model = zoo.SlowFast_R50_8x8(input_shape=(8, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (8, 32, 32, 3)))


def test_keras_round_trip(tmp_path):
    model = zoo.SlowFast_R50_8x8(input_shape=(8, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (8, 32, 32, 3)), tmp_path)


def test_atfr_has_one_sgs_per_pathway_and_adapts():
    model = zoo.get_model("slowfast_r50_8x8_atfr", input_shape=(16, 32, 32, 3), classes=3)
    assert {"sgs_slow", "sgs_fast"} <= {layer.name for layer in model.layers}
    assert_adaptive_flops_differ(model, (16, 32, 32, 3))


def test_atfr_features_pool_each_pathway_over_its_real_frames():
    from vidzoo.layers import FrameMaskedGlobalAveragePooling3D

    model = zoo.get_model("slowfast_r50_8x8_atfr", input_shape=(16, 32, 32, 3),
                          include_top=False, pooling="avg")
    for pathway in ("slow", "fast"):
        pool = model.get_layer(f"avg_pool_{pathway}")
        assert isinstance(pool, FrameMaskedGlobalAveragePooling3D)
