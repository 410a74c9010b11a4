"""Zoo models on other Keras backends: weights saved on TensorFlow, outputs
compared. `python tests/backend_checks.py DIR` (with KERAS_BACKEND set) loads
the weights and clips that `write_reference` left in DIR and writes its own
outputs there; test_backends.py compares them."""

import json
import os
import sys
import time

import numpy as np

# (name, constructor arguments, input shape, a stage compared in training mode).
# One model of each family, the adaptive modules among them (MTNet is left
# out: JAX compiles each of its eager ops, 80 s on this CPU). Training mode is
# compared at res3 or its like: deeper, a BatchNorm over 2 clips of 1x1 maps
# normalizes a handful of values and amplifies float32 rounding without bound.
CASES = [
    ("r2plus1d_18", {}, (4, 32, 32, 3), "res3"),
    ("resnet3d_18", {}, (8, 32, 32, 3), "res3"),
    ("slow_r50", {}, (8, 32, 32, 3), "res3"),
    ("r2plus1d_r50", {}, (8, 32, 32, 3), "res3"),
    ("sgs_resnet3d_18_atfr", {}, (8, 32, 32, 3), "res3"),
    ("x3d_xs_atfr", {}, (8, 32, 32, 3), "res3"),
    ("s3d_g", {}, (8, 32, 32, 3), "Mixed_3c"),
    ("slowfast_r50_8x8_atfr", {}, (16, 32, 32, 3), "res3_fast"),
    ("tsm_r18_clustering", {}, (12, 32, 32, 3), "res3"),
    ("r3d_18_sfc", {"sfc": {"split": "res3", "tau": 2.0}}, (8, 32, 32, 3), None),
]


def build(name, arguments, shape):
    import vidzoo.zoo as zoo

    arguments = dict(arguments)
    sfc = arguments.pop("sfc", None)
    model = zoo.get_model(name[:-4] if sfc else name, input_shape=shape, classes=3, **arguments)
    if sfc:
        model = zoo.insert_sfc(model, sfc["split"], sfc["tau"])
    return model


def randomize_batch_norm(model, seed=0):
    """Moving statistics away from 0 / 1, so a BatchNorm convention that
    differs between backends shows."""
    import keras

    from vidzoo.zoo.flops import all_layers

    rng = np.random.default_rng(seed)
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.2, channels).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))


def outputs(model, clips, stage):
    """Inference outputs (adaptive counts included) and a stage's features in
    training mode (BatchNorm on the batch's statistics; before any dropout)."""
    import keras

    import vidzoo.zoo as zoo

    runner = zoo.with_adaptive_outputs(model) if zoo.adaptive_layers(model) else model
    inference = runner(clips, training=False)
    if not isinstance(inference, dict):
        inference = {"predictions": inference}
    result = {f"inference_{key}": np.asarray(value) for key, value in inference.items()}
    if stage is not None:
        features = keras.Model(model.inputs, model.get_layer(stage).output)
        result["training_features"] = np.asarray(features(clips, training=True))
    return result


def write_reference(folder):
    """On TensorFlow: every case's weights, clips and outputs in `folder`."""
    import keras

    for name, arguments, shape, stage in CASES:
        keras.utils.set_random_seed(0)
        model = build(name, arguments, shape)
        randomize_batch_norm(model)
        clips = np.random.default_rng(1).random((2,) + shape, dtype=np.float32)
        model.save_weights(os.path.join(folder, f"{name}.weights.h5"))
        np.save(os.path.join(folder, f"{name}_clips.npy"), clips)
        np.savez(os.path.join(folder, f"{name}_tensorflow.npz"), **outputs(model, clips, stage))
        keras.backend.clear_session()


def main(folder):
    import keras

    backend = keras.backend.backend()
    done = {}
    for name, arguments, shape, stage in CASES:
        start = time.perf_counter()
        model = build(name, arguments, shape)
        model.load_weights(os.path.join(folder, f"{name}.weights.h5"))
        clips = np.load(os.path.join(folder, f"{name}_clips.npy"))
        np.savez(os.path.join(folder, f"{name}_{backend}.npz"), **outputs(model, clips, stage))
        done[name] = round(time.perf_counter() - start, 1)
        keras.backend.clear_session()
    print(json.dumps({"backend": backend, "seconds": done}))


if __name__ == "__main__":
    main(sys.argv[1])
