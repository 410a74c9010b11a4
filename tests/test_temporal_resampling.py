"""PathwaySampler, MatchFrames, PairwiseTemporalMean: values by hand, errors,
serialization (and .keras files from before they moved out of the zoo)."""

import keras
import numpy as np
import pytest

from layer_checks import assert_config_round_trip, assert_keras_round_trip, random_video
from vidzoo.layers import MatchFrames, PairwiseTemporalMean, PathwaySampler


def test_pathway_sampler_takes_pyslowfast_linspace_frames():
    # torch.linspace(0, 31, 4).long() = [0, 10, 20, 31]; (0, 31, 8) by hand.
    assert PathwaySampler(8).indices(32) == [0, 10, 20, 31]
    assert PathwaySampler(4).indices(32) == [0, 4, 8, 13, 17, 22, 26, 31]
    assert PathwaySampler(4).indices(7) == [0]
    clip = np.arange(32, dtype="float32").reshape(1, 32, 1, 1, 1)
    np.testing.assert_array_equal(np.asarray(PathwaySampler(8)(clip)).ravel(), [0, 10, 20, 31])


def test_match_frames_resizes_linearly_in_time_to_the_reference():
    x = np.array([0.0, 3.0], "float32").reshape(1, 2, 1, 1, 1)
    reference = np.zeros((1, 4, 2, 2, 5), "float32")
    got = np.asarray(MatchFrames()([x, reference])).ravel()
    # Half-pixel centres, edges clamped: 4 samples of [0, 3] at 2 -> 4 frames.
    np.testing.assert_allclose(got, [0.0, 0.75, 2.25, 3.0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(MatchFrames()([reference, reference])), reference)


def test_pairwise_temporal_mean_is_a_two_frame_window_or_the_only_frame():
    x = np.random.default_rng(0).random((2, 5, 1, 1, 3), dtype=np.float32)
    np.testing.assert_allclose(PairwiseTemporalMean()(x), (x[:, :-1] + x[:, 1:]) / 2, rtol=1e-6)
    np.testing.assert_allclose(PairwiseTemporalMean()(x[:, :1]), x[:, :1], rtol=1e-6)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="fewer than alpha=8"):
        PathwaySampler(8)(np.zeros((1, 4, 2, 2, 1), "float32"))
    with pytest.raises(ValueError, match="needs a static number of frames"):
        PathwaySampler(2)(keras.Input((None, 4, 4, 3)))
    with pytest.raises(ValueError, match="rank 5"):
        PairwiseTemporalMean()(np.zeros((1, 4, 3), "float32"))
    with pytest.raises(ValueError, match="list \\[x, reference\\]"):
        MatchFrames()(np.zeros((1, 4, 2, 2, 1), "float32"))


@pytest.mark.parametrize("make_layer", [lambda: PathwaySampler(2), PairwiseTemporalMean])
def test_serialize_and_survive_keras_files(make_layer, tmp_path):
    assert_config_round_trip(make_layer())
    assert_keras_round_trip(make_layer, (2, 4, 8, 8, 3), tmp_path)


def test_match_frames_survives_keras_files(tmp_path):
    x, reference = keras.Input((2, 4, 4, 3)), keras.Input((5, 4, 4, 3))
    model = keras.Model([x, reference], MatchFrames()([x, reference]))
    inputs = [random_video((1, 2, 4, 4, 3)), random_video((1, 5, 4, 4, 3), seed=1)]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-6)


def test_configs_saved_under_the_old_zoo_modules_still_load():
    for module, name, config in (("vidzoo.zoo.slowfast", "PathwaySampler", {"alpha": 4}),
                                 ("vidzoo.zoo.slowfast", "MatchFrames", {}),
                                 ("vidzoo.zoo.inception", "PairwiseTemporalMean", {})):
        layer = keras.saving.deserialize_keras_object({
            "module": module, "class_name": name, "config": {"name": "x", **config},
            "registered_name": f"vidzoo>{name}"})
        assert type(layer).__name__ == name
