"""vidzoo.zoo.accounting: which adaptive layers a model has, what each clip
kept (B' / non-empty clusters) and what it cost."""

import keras
import numpy as np

import vidzoo.zoo as zoo
from vidzoo.zoo import accounting
from vidzoo.zoo.flops import clip_flops, count_flops
from zoo_checks import redundant_and_varied_clips


def test_clip_lengths_are_b_prime_for_sgs_and_non_empty_clusters_for_clustering():
    counts = {"sgs": np.array([3, 8]), "clusters": np.array([[4, 0, 2, 0], [1, 1, 1, 1]])}
    lengths = accounting.clip_lengths(counts)
    np.testing.assert_array_equal(lengths["sgs"], [3, 8])
    np.testing.assert_array_equal(lengths["clusters"], [2, 4])


def test_length_summary_joins_batches_into_a_histogram():
    model = zoo.get_model("x3d_xs_atfr", input_shape=(4, 32, 32, 3), classes=3)
    name = accounting.adaptive_layers(model)[0].name
    summary = accounting.length_summary(model, {name: [np.array([1, 4]), np.array([4])]})
    assert summary[name] == {"frames_in": 4, "mean": 3.0, "histogram": {"1": 1, "4": 2}}


def test_plain_models_pass_through_and_cost_one_count():
    model = zoo.X3D_XS(input_shape=(4, 32, 32, 3))
    assert not accounting.is_adaptive(model)
    assert accounting.inference_model(model) is model
    clips = np.random.default_rng(0).random((3, 4, 32, 32, 3), dtype=np.float32)
    predictions, counts = accounting.split_outputs(model.predict(clips, verbose=0))
    assert predictions.shape == (3, 400) and counts == {}
    np.testing.assert_array_equal(accounting.flops_per_clip(model, clips),
                                  [count_flops(model)] * 3)


def test_adaptive_clips_cost_what_their_lengths_imply_and_share_counting_passes():
    model = zoo.get_model("resnet3d_18_atfr", input_shape=(8, 32, 32, 3), classes=3)
    assert accounting.is_adaptive(model)
    clips = redundant_and_varied_clips((8, 32, 32, 3))
    runner = accounting.inference_model(model)
    predictions, counts = accounting.split_outputs(runner.predict(clips, verbose=0))
    assert predictions.shape == (2, 3) and set(counts) == {"sgs"}
    calls = []
    original = accounting.clip_flops
    accounting.clip_flops = lambda m, clip: calls.append(1) or original(m, clip)
    try:
        cache = {}
        doubled = np.concatenate([clips, clips])
        flops = accounting.flops_per_clip(model, doubled, cache=cache)
    finally:
        accounting.clip_flops = original
    assert len(calls) == len(set(counts["sgs"].tolist()))  # one pass per distinct B'
    np.testing.assert_array_equal(flops[:2], flops[2:])
    assert flops[0] == clip_flops(model, clips[0]) and flops[1] == clip_flops(model, clips[1])


def test_with_adaptive_outputs_needs_an_adaptive_layer():
    import pytest

    inputs = keras.Input((4, 8, 8, 3))
    plain = keras.Model(inputs, keras.layers.GlobalAveragePooling3D()(inputs))
    with pytest.raises(ValueError, match="no SGS or temporal-clustering layer"):
        accounting.with_adaptive_outputs(plain)
