"""Shared checks for the zoo tests: a training step, a .keras round trip, and
clips of different redundancy for the adaptive models."""

import keras
import numpy as np


def random_clips(batch, shape, seed=0):
    return np.random.default_rng(seed).random((batch,) + tuple(shape), dtype=np.float32)


def assert_trains_one_step(model, clips, run_eagerly=False):
    """One fit() step on `clips` changes the weights and gives a finite loss.
    `run_eagerly` skips graph tracing, which dominates for very deep models."""
    classes = model.outputs[0].shape[-1]
    labels = np.arange(len(clips)) % classes
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy",
                  run_eagerly=run_eagerly)
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(clips, labels, batch_size=len(clips), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [w.numpy() for w in model.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


def assert_keras_round_trip(model, clips, tmp_path):
    """Save as .keras, load, and compare outputs (inference mode, eager)."""
    path = str(tmp_path / f"{model.name}.keras")
    expected = np.asarray(model(clips, training=False))
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(clips, training=False)), expected, rtol=1e-5,
                               atol=1e-5)
    return loaded


def redundant_and_varied_clips(shape):
    """A still clip (every frame equal) and a brightness ramp (every frame
    different). Convs without bias and fresh BatchNorm are positively
    homogeneous, so the ramp spreads SGS's similarity values over the whole
    range while the still clip gathers them in one place."""
    frames = shape[0]
    base = np.random.default_rng(3).random(shape[1:], dtype=np.float32)
    still = np.broadcast_to(base, shape).copy()
    ramp = np.stack([base * (t + 1) / frames for t in range(frames)])
    return np.stack([still, ramp]).astype("float32")


def assert_adaptive_flops_differ(model, input_shape):
    """The still clip keeps fewer bins than the ramp, and costs fewer MACs."""
    from vidzoo.zoo.accounting import flops_per_clip
    from vidzoo.zoo.flops import clip_flops
    from vidzoo.zoo import with_adaptive_outputs

    clips = redundant_and_varied_clips(input_shape)
    lengths = with_adaptive_outputs(model).predict(clips, verbose=0)
    bins = np.stack([np.asarray(v) for k, v in sorted(lengths.items()) if k != "predictions"])
    assert np.all(bins[:, 0] <= bins[:, 1]) and np.any(bins[:, 0] < bins[:, 1]), bins
    flops = flops_per_clip(model, clips)
    assert flops[0] < flops[1]
    assert flops[0] == clip_flops(model, clips[0])
    return bins, flops
