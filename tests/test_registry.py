"""vidzoo.zoo's keras.applications-style API: registry, argument checks,
weights files, feature extraction, variable-length inputs, stage names."""

import dataclasses

import keras
import numpy as np
import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo import registry
from zoo_checks import random_clips

FAMILIES = ["i3d", "i2d", "s3d", "s3d_g", "fast_s3d", "i3d_top_heavy", "s3d_bottom_heavy",
            "r3d_18", "r3d_34", "mc3_18", "r2plus1d_18", "r2plus1d_34", "r2plus1d_r50",
            "slow_r50", "i3d_r50", "resnet3d_18", "resnet3d_50", "x3d_xs", "x3d_s", "x3d_m",
            "x3d_l", "x3d_xl", "slowfast_r50_4x16", "slowfast_r50_8x8", "tsm_r18", "tsm_r50",
            "mtnet_s", "mtnet_m", "mtnet_l"]
ATFR = ["r2plus1d_18_atfr", "i3d_atfr", "i3d_r50_atfr", "x3d_s_atfr", "x3d_xl_atfr",
        "resnet3d_18_atfr", "slowfast_r50_4x16_atfr", "tsm_r18_clustering"]


def test_registry_lists_every_family_and_adaptive_variant():
    names = zoo.list_models()
    assert names == sorted(names)
    for name in FAMILIES + ATFR:
        assert name in names


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(ValueError, match="unknown model 'x3d_q'.*x3d_s"):
        zoo.get_model("x3d_q")


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(registry.variant("r3d_18"))
    renamed = dataclasses.replace(registry.variant("r3d_18"), name="r3d_18_copy")
    with pytest.raises(ValueError, match="Python name 'R3D_18' is used twice"):
        registry.register(renamed)


def test_every_registered_model_has_one_python_constructor_in_all():
    python_names = {registry.variant(name).python_name for name in zoo.list_models()}
    assert len(python_names) == len(zoo.list_models())
    for python_name in python_names:
        constructor = getattr(zoo, python_name)
        assert constructor.__name__ == python_name
        assert "Reference:" in constructor.__doc__
    functions = {name for name in zoo.__all__ if name not in python_names}
    assert python_names <= set(zoo.__all__)
    assert all(callable(getattr(zoo, name)) and name[0].islower() for name in functions)


def test_adaptive_variants_are_derived_from_their_rows():
    atfr = zoo.variant("x3d_s_atfr")
    assert (atfr.base, atfr.adaptation, atfr.python_name) == ("x3d_s", "atfr", "X3D_S_ATFR")
    assert atfr.arguments == dict(zoo.variant("x3d_s").arguments, sgs=True)
    clustering = zoo.variant("tsm_r18_clustering")
    assert clustering.arguments["temporal_clustering"]["num_clusters"] == 8
    for name in zoo.list_models():
        entry = zoo.variant(name)
        derived = [f"{name}{registry.ADAPTATIONS[key].suffix}" for key in entry.adaptations]
        assert all(zoo.variant(d).base == name for d in derived)


def test_caller_arguments_override_the_row():
    model = zoo.get_model("x3d_xs_atfr", sgs=None, input_shape=(4, 32, 32, 3), name="plain")
    assert not zoo.adaptive_layers(model) and model.name == "plain"


@pytest.mark.parametrize("kwargs, message", [
    (dict(weights="imagenet"), "`weights` must be None"),
    (dict(weights="/no/such/file.weights.h5"), "`weights` must be None"),
    (dict(pooling="mean"), "`pooling` must be one of"),
    (dict(classes=0), "`classes` must be a positive int"),
    (dict(input_shape=(64, 64, 3)), r"\(frames, height, width, channels\)"),
    (dict(input_shape=(8, 16, 16, 3)), "at least 32 pixels"),
    (dict(sgs="res9"), "stages are"),
    (dict(sgs=3), "`sgs` must be None, True"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.R3D_18(**kwargs)


def test_static_frames_are_required_where_the_architecture_needs_them():
    with pytest.raises(ValueError, match="static number of frames"):
        zoo.SlowFast_R50_8x8(input_shape=(None, 64, 64, 3))


def test_weights_file_is_loaded(tmp_path):
    model = zoo.MC3_18(input_shape=(4, 32, 32, 3), classes=3)
    path = str(tmp_path / "mc3.weights.h5")
    model.save_weights(path)
    clone = zoo.MC3_18(input_shape=(4, 32, 32, 3), classes=3, weights=path)
    clips = random_clips(2, (4, 32, 32, 3))
    np.testing.assert_allclose(clone.predict(clips, verbose=0), model.predict(clips, verbose=0),
                               atol=1e-6)


@pytest.mark.parametrize("pooling, shape", [(None, (2, 1, 2, 2, 512)), ("avg", (2, 512)),
                                            ("max", (2, 512))])
def test_feature_extraction(pooling, shape):
    model = zoo.R3D_18(include_top=False, pooling=pooling, input_shape=(4, 32, 32, 3))
    assert model(random_clips(2, (4, 32, 32, 3))).shape == shape


def test_classifier_activation_and_classes():
    model = zoo.X3D_XS(input_shape=(4, 32, 32, 3), classes=7)
    probabilities = model.predict(random_clips(2, (4, 32, 32, 3)), verbose=0)
    assert probabilities.shape == (2, 7)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    logits = zoo.X3D_XS(input_shape=(4, 32, 32, 3), classes=7, classifier_activation=None)
    assert np.any(logits.predict(random_clips(2, (4, 32, 32, 3)), verbose=0) < 0)


def test_input_tensor_is_used():
    tensor = keras.Input(shape=(4, 32, 32, 3))
    model = zoo.R2Plus1D_18(input_tensor=tensor, classes=3)
    assert model.inputs[0] is tensor


def test_one_model_runs_on_clips_of_different_lengths():
    model = zoo.R2Plus1D_18(input_shape=(None, 32, 32, 3), classes=3)
    for frames in (4, 7):
        assert model(random_clips(1, (frames, 32, 32, 3))).shape == (1, 3)


@pytest.mark.parametrize("name, stages", [
    ("r3d_18", ["stem", "res2", "res3", "res4", "res5"]),
    ("x3d_xs", ["stem", "res2", "res3", "res4", "res5", "conv5"]),
    ("s3d_g", ["Conv2d_1a_7x7", "MaxPool_2a_3x3", "Mixed_3b", "MaxPool_4a_3x3", "Mixed_5c"]),
    ("slowfast_r50_8x8", ["res2_slow", "res2_fast", "res5_slow", "res5_fast"]),
])
def test_stage_endpoints_are_named(name, stages):
    model = zoo.get_model(name, input_shape=(16, 64, 64, 3), classes=3)
    for stage in stages:
        assert isinstance(model.get_layer(stage), keras.layers.Identity)


def test_every_registered_model_builds_at_its_default_input_with_the_rows_count():
    for name in zoo.list_models():
        entry = zoo.variant(name)
        model = zoo.get_model(name)
        assert model.outputs[0].shape == (None, 400), name
        assert model.name == name
        assert tuple(model.inputs[0].shape[1:]) == entry.default_input, name
        if entry.reference_params is not None:
            assert zoo.reference_param_count(model) == entry.reference_params, name
        keras.backend.clear_session()
