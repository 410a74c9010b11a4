"""Splitting backbones, SFC between a frozen head and tail, adaptive outputs."""

import numpy as np
import pytest

import vidzoo.zoo as zoo
from zoo_checks import assert_keras_round_trip, random_clips


def _backbone():
    return zoo.R3D_18(input_shape=(8, 32, 32, 3), classes=3)


def test_split_model_recomposes_the_backbone():
    model = _backbone()
    head, tail = zoo.split_model(model, "res3")
    clips = random_clips(2, (8, 32, 32, 3))
    np.testing.assert_allclose(tail(head(clips)), model(clips), atol=1e-6)
    assert tail(np.zeros((1, 2, 8, 8, 128), "float32")).shape == (1, 3)  # any length


def test_split_at_unknown_stage_lists_the_stages():
    with pytest.raises(ValueError, match="no such stage.*res3"):
        zoo.split_model(_backbone(), "res7")


def test_insert_sfc_trains_only_sfc():
    model = zoo.insert_sfc(_backbone(), split="res3", tau=2, input_shape=(16, 32, 32, 3))
    sfc = model.get_layer("sfc")
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in sfc.trainable_weights}
    frozen = [w for w in model.weights if not any(w is s for s in sfc.weights)]
    before = [w.numpy().copy() for w in frozen]  # includes BatchNorm moving statistics
    clips = random_clips(4, (16, 32, 32, 3))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(clips, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    for old, weight in zip(before, frozen):
        np.testing.assert_array_equal(old, weight.numpy())
    assert sfc.output.shape[1] == 4  # 8 frames at res3 -> floor(8 / 2)


def test_insert_sfc_keras_round_trip(tmp_path):
    model = zoo.insert_sfc(_backbone(), split="res3", tau=2)
    assert_keras_round_trip(model, random_clips(2, (8, 32, 32, 3)), tmp_path)


def test_adaptive_outputs_need_an_adaptive_layer():
    with pytest.raises(ValueError, match="no SGS or temporal-clustering"):
        zoo.with_adaptive_outputs(_backbone())


def test_sgs_options_reach_the_layer():
    model = zoo.get_model("x3d_xs_atfr", input_shape=(8, 32, 32, 3), classes=3,
                          sgs={"after": "res3", "kernel": "kronecker", "embedding_dim": 4})
    sgs = model.get_layer("sgs")
    assert sgs.kernel == "kronecker" and sgs.embedding_dim == 4
    assert sgs.input.shape == model.get_layer("res3").output.shape
    outputs = zoo.with_adaptive_outputs(model).predict(random_clips(2, (8, 32, 32, 3)),
                                                       verbose=0)
    assert outputs["predictions"].shape == (2, 3) and outputs["sgs"].shape == (2,)
    assert np.all((outputs["sgs"] >= 1) & (outputs["sgs"] <= 8))
