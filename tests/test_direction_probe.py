"""benchmarks/direction_probe.py: the probe separates what is separable."""

import numpy as np

from benchmarks import direction_probe as probe


def test_probe_reads_a_linear_code_and_not_noise():
    rng = np.random.default_rng(0)
    labels = np.arange(probe.FIT + probe.TEST) % 4
    coded = np.eye(4)[labels] + rng.normal(0, 0.3, (len(labels), 4))
    assert probe.probe_accuracy(coded, labels) > 0.9
    assert probe.probe_accuracy(rng.normal(size=(len(labels), 4)), labels) < 0.45


def test_features_pool_time_away_or_keep_it():
    import keras

    inputs = keras.Input((4, 8, 8, 2))
    model = keras.Model(inputs, keras.layers.Identity(name="res2")(inputs))
    clips = np.random.default_rng(1).normal(size=(3, 4, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(probe.res2_features(model, clips, keep_time=False),
                               clips.mean(axis=(1, 2, 3)), rtol=1e-5)
    assert probe.res2_features(model, clips, keep_time=True).shape == (3, 8)
