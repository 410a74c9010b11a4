"""Inception family: TF-slim counts, torchvision S3D, temporal layouts."""

import numpy as np
import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo.flops import count_flops
from zoo_checks import assert_keras_round_trip, assert_trains_one_step, random_clips


@pytest.mark.parametrize("name, kwargs, expected", [
    ("i3d", {}, 12_689_984),
    ("s3d", {}, 8_337_152),
    ("s3d_g", {}, 9_556_480),
    ("s3d_g", {"first_temporal_kernel": 3}, 9_518_848),
    ("s3d_torchvision", {}, 8_320_048),
])
def test_parameter_counts_equal_the_references(name, kwargs, expected):
    assert zoo.reference_param_count(zoo.get_model(name, **kwargs)) == expected


def test_torchvision_s3d_gflops_anchor():
    model = zoo.get_model("s3d_torchvision", input_shape=(16, 224, 224, 3))
    assert count_flops(model) / 1e9 == pytest.approx(17.979, abs=0.001)


def _temporal_extent(model, layer):
    return model.get_layer(layer).kernel.shape[0]


def test_i2d_has_no_temporal_convolution():
    model = zoo.I2D(input_shape=(8, 32, 32, 3))
    kernels = [layer.kernel.shape[0] for layer in model.layers if hasattr(layer, "kernel")]
    assert max(kernels) == 1


@pytest.mark.parametrize("name, below, above", [
    ("i3d_top_heavy", 1, 3), ("i3d_bottom_heavy", 3, 1),
])
def test_heavy_variants_switch_at_the_transition(name, below, above):
    model = zoo.get_model(name, transition="Mixed_4b", input_shape=(8, 32, 32, 3))
    assert _temporal_extent(model, "Mixed_3c_b1_3x3_conv") == below
    assert _temporal_extent(model, "Mixed_4b_b1_3x3_conv") == above


def test_separable_convs_and_fast_s3d_layout():
    model = zoo.FAST_S3D(input_shape=(8, 32, 32, 3))
    assert _temporal_extent(model, "Mixed_4b_b1_3x3_conv") == 1
    assert _temporal_extent(model, "Mixed_4b_b1_3x3_temporal_conv") == 3
    assert _temporal_extent(model, "Conv2d_2c_3x3_conv") == 1
    s3d = zoo.S3D(input_shape=(8, 32, 32, 3))
    assert _temporal_extent(s3d, "Conv2d_1a_7x7_conv") == 7  # full conv, as TF-slim


def test_bad_transition_is_rejected():
    with pytest.raises(ValueError, match="needs `transition`"):
        zoo.inception3d(temporal="top_heavy", transition="Mixed_9z")


def test_s3d_g_forward_and_training_step():
    model = zoo.S3D_G(input_shape=(8, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (8, 32, 32, 3)))


def test_keras_round_trip(tmp_path):
    model = zoo.S3D_G(input_shape=(8, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (8, 32, 32, 3)), tmp_path)


def test_i3d_atfr_places_sgs_after_the_second_stage():
    model = zoo.get_model("i3d_atfr", input_shape=(16, 64, 64, 3), classes=3)
    sgs = model.get_layer("sgs")
    assert sgs.input.shape[1:] == model.get_layer("Conv2d_2c_3x3").output.shape[1:]
    from zoo_checks import assert_adaptive_flops_differ
    assert_adaptive_flops_differ(model, (16, 64, 64, 3))


def test_dynamic_length_head_equals_the_static_pool():
    static = zoo.I3D(input_shape=(16, 32, 32, 3), classes=3)
    dynamic = zoo.I3D(input_shape=(None, 32, 32, 3), classes=3)
    dynamic.set_weights(static.get_weights())
    clips = random_clips(2, (16, 32, 32, 3))
    np.testing.assert_allclose(dynamic.predict(clips, verbose=0), static.predict(clips, verbose=0),
                               atol=1e-5)
