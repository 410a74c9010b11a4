"""Zoo models and vidzoo layers on other Keras backends. On TensorFlow,
`write_reference(DIR)` saves each case's weights (.weights.h5), inputs and
outputs; `python tests/backend_checks.py DIR` (with KERAS_BACKEND set) loads
them, writes its own outputs, checks the custom gradients against finite
differences and, on JAX, runs every layer under `jax.jit`; test_backends.py
compares the files and reads the JSON report it prints last."""

import json
import os
import sys
import time

import numpy as np

# Every registered zoo model, on a small clip: (name, constructor arguments,
# input shape). Training mode is compared at the first of TRAINING_STAGES the
# model has (res3 or its like): deeper, a BatchNorm over 2 clips of 1x1 maps
# normalizes a handful of values and amplifies float32 rounding without bound.
# Models with the same layers at this input (x3d_s and x3d_m, mtnet_s and
# mtnet_m) cost JAX's eager op compilation once.
TRAINING_STAGES = ("res3", "Mixed_3c", "res3_fast")
TOLERANCE = 1e-4  # of an output's scale, max(1, its largest magnitude)


def clip_shape(name):
    """A small (T, H, W, C) input for registered model `name`: SlowFast's slow
    pathway and the clustering's 8 clusters after res2 need more frames."""
    if name.startswith("slowfast"):
        return (16, 32, 32, 3)
    if name.endswith("_clustering"):
        return (12, 32, 32, 3)
    return (8, 32, 32, 3)


def model_cases():
    """Every registered model, and SFC inserted into R3D-18 (not a registry name)."""
    import vidzoo.zoo as zoo

    cases = [(name, {}, clip_shape(name)) for name in zoo.list_models()]
    return cases + [("r3d_18_sfc", {"sfc": {"split": "res3", "tau": 2.0}}, (8, 32, 32, 3))]


def training_stage(model):
    """The layer compared in training mode, or None (SFC: a frozen head)."""
    names = {layer.name for layer in model.layers}
    if any(layer.name.startswith("sfc") for layer in model.layers):
        return None
    return next(stage for stage in TRAINING_STAGES if stage in names)


VIDEO = (4, 8, 8, 8)  # (T, H, W, C) of the layer cases' clips
COUNTS = "counts"  # an input of per-clip frame counts (the frame-masked layers)


def layer_cases():
    """(name, layer factory, extra inputs) for every layer in vidzoo.layers.

    Extra inputs: None (one clip), "counts" ([clip, counts] with counts
    (2,) int32), "pair" ([clip, another clip]) or "reference" ([clip, a
    longer clip])."""
    from vidzoo import layers as v

    return [
        ("BottleneckBlock3D", lambda: v.BottleneckBlock3D(), None),
        ("DepthwiseConv3D", lambda: v.DepthwiseConv3D((3, 3, 3)), None),
        ("FactorizedAveragePooling3D", lambda: v.FactorizedAveragePooling3D(2, padding="same"),
         None),
        ("FactorizedMaxPooling3D", lambda: v.FactorizedMaxPooling3D((1, 3, 3), (1, 2, 2),
                                                                    padding="same"), None),
        ("FrameMaskedBatchNormalization", lambda: v.FrameMaskedBatchNormalization(), COUNTS),
        ("FrameMaskedGlobalAveragePooling3D", lambda: v.FrameMaskedGlobalAveragePooling3D(),
         COUNTS),
        # The default ratio leaves 1 prolonged channel: its triplet cosines are
        # all +-1, so these also check that top_k ties break alike everywhere.
        ("MTBlock", lambda: v.MTBlock(8), None),
        ("MTConv", lambda: v.MTConv(8), None),
        ("MatchFrames", lambda: v.MatchFrames(), "reference"),
        ("PairwiseTemporalMean", lambda: v.PairwiseTemporalMean(), None),
        ("PathwaySampler", lambda: v.PathwaySampler(2), None),
        ("SelectiveFeatureCompression", lambda: v.SelectiveFeatureCompression(tau=2.0), None),
        ("SelfGating", lambda: v.SelfGating(), None),
        ("SimilarityGuidedSampling", lambda: v.SimilarityGuidedSampling(), None),
        ("SimilarityGuidedSampling_static", lambda: v.SimilarityGuidedSampling(
            drop_empty_bins=False, embedding_norm=True, hidden_units="half"), None),
        ("SoftPool3D", lambda: v.SoftPool3D(), None),
        ("SqueezeAndRecursion", lambda: v.SqueezeAndRecursion(), "pair"),
        ("TemporalClustering", lambda: v.TemporalClustering(2, return_cluster_sizes=True), None),
        ("TemporalClustering_slope", lambda: v.TemporalClustering(2, method="slope"), None),
        ("TemporalShift", lambda: v.TemporalShift(), None),
        ("TopKPooling", lambda: v.TopKPooling(2.0), None),
        ("TripletCosineSelection", lambda: v.TripletCosineSelection(), None),
    ]


# Layers that need static shapes under jax.jit raise this (and only these).
STATIC_SHAPE_LAYERS = {"SimilarityGuidedSampling"}


def build(name, arguments, shape):
    import vidzoo.zoo as zoo

    arguments = dict(arguments)
    sfc = arguments.pop("sfc", None)
    model = zoo.get_model(name[:-4] if sfc else name, input_shape=shape, classes=3, **arguments)
    if sfc:
        model = zoo.insert_sfc(model, sfc["split"], sfc["tau"])
    return model


def layer_model(make_layer, extra):
    """A functional model around one layer (so its weights save and load)."""
    import keras

    clip = keras.Input(VIDEO, name="clip")
    if extra == COUNTS:
        inputs = [clip, keras.Input((), dtype="int32", name="counts")]
    elif extra == "pair":
        inputs = [clip, keras.Input(VIDEO, name="other")]
    elif extra == "reference":
        inputs = [clip, keras.Input((2 * VIDEO[0],) + VIDEO[1:], name="reference")]
    else:
        inputs = clip
    return keras.Model(inputs, make_layer()(inputs))


def layer_inputs(extra, seed=1):
    rng = np.random.default_rng(seed)
    clip = rng.normal(size=(2,) + VIDEO).astype("float32")
    if extra == COUNTS:
        return [clip, np.array([4, 2], "int32")]
    if extra == "pair":
        return [clip, rng.normal(size=(2,) + VIDEO).astype("float32")]
    if extra == "reference":
        return [clip, rng.normal(size=(2, 2 * VIDEO[0]) + VIDEO[1:]).astype("float32")]
    return clip


def flat_outputs(value, prefix):
    from keras import ops

    values = value if isinstance(value, (list, tuple)) else [value]
    return {f"{prefix}_{index}": ops.convert_to_numpy(item) for index, item in enumerate(values)}


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
    result = {f"inference_{key}": keras.ops.convert_to_numpy(value) for key, value in inference.items()}
    if stage is not None:
        features = keras.Model(model.inputs, model.get_layer(stage).output)
        result["training_features"] = keras.ops.convert_to_numpy(features(clips, training=True))
    return result


def layer_outputs(model, inputs):
    return {**flat_outputs(model(inputs, training=False), "inference"),
            **flat_outputs(model(inputs, training=True), "training")}


def write_reference(folder):
    """On TensorFlow: every case's weights, clips and outputs in `folder`."""
    import keras

    write_model_reference(folder)
    for name, make_layer, extra in layer_cases():
        keras.utils.set_random_seed(0)
        model = layer_model(make_layer, extra)
        randomize_batch_norm(model)
        model.save_weights(os.path.join(folder, f"layer_{name}.weights.h5"))
        np.savez(os.path.join(folder, f"layer_{name}_tensorflow.npz"),
                 **layer_outputs(model, layer_inputs(extra)))
    write_sgs_layer_reference(folder)


def write_model_reference(folder):
    """On TensorFlow: every model case's weights, clips and outputs in `folder`."""
    import keras

    for name, arguments, shape in model_cases():
        keras.utils.set_random_seed(0)
        model = build(name, arguments, shape)
        randomize_batch_norm(model)
        clips = np.random.default_rng(1).random((2,) + shape, dtype=np.float32)
        model.save_weights(os.path.join(folder, f"{name}.weights.h5"))
        np.save(os.path.join(folder, f"{name}_clips.npy"), clips)
        np.savez(os.path.join(folder, f"{name}_tensorflow.npz"),
                 **outputs(model, clips, training_stage(model)))
        keras.backend.clear_session()


# --- custom gradients against finite differences, on the running backend ---


def backend_gradients(loss_of, points):
    """d loss_of(*points) / d points with the backend's own autodiff."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.constant(p) for p in points]
        with tf.GradientTape() as tape:
            tape.watch(variables)
            loss = loss_of(*variables)
        grads = tape.gradient(loss, variables)
        return [np.zeros_like(p) if g is None else g.numpy() for p, g in zip(points, grads)]
    if backend == "jax":
        import jax

        grads = jax.grad(lambda *p: loss_of(*p), argnums=tuple(range(len(points))))(*points)
        return [np.asarray(g) for g in grads]
    if backend == "torch":
        import torch

        tensors = [torch.tensor(p, requires_grad=True) for p in points]
        loss_of(*tensors).backward()
        return [np.zeros_like(p) if t.grad is None else t.grad.numpy()
                for p, t in zip(points, tensors)]
    raise ValueError(f"no gradient helper for backend {backend!r}")


def directional_derivatives(loss_of, points, seeds=(0, 1, 2), step=1e-6):
    """[(autodiff, central difference)] of loss_of along random directions
    (float64 points), each direction moving every point at once."""
    from keras import ops

    grads = backend_gradients(loss_of, points)
    pairs = []
    for seed in seeds:
        rng = np.random.default_rng(100 + seed)
        directions = [rng.normal(size=p.shape) for p in points]
        plus = float(loss_of(*[ops.convert_to_tensor(p + step * d)
                               for p, d in zip(points, directions)]))
        minus = float(loss_of(*[ops.convert_to_tensor(p - step * d)
                                for p, d in zip(points, directions)]))
        analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, directions))
        pairs.append((analytic, (plus - minus) / (2 * step)))
    return pairs


def gradient_cases():
    """name -> (loss function, float64 points): every custom gradient in
    vidzoo.layers (DepthwiseConv3D's and SGS's kernels, as the layers use them)."""
    import keras
    from keras import ops

    from vidzoo.layers import DepthwiseConv3D, SimilarityGuidedSampling
    from vidzoo.layers.depthwise import channelwise_conv3d
    from vidzoo.layers.sgs import similarity_guided_sampling

    rng = np.random.default_rng(7)
    cases = {}
    for stride, padding in ((1, "same"), (2, "same"), (1, "valid")):
        layer = DepthwiseConv3D((3, 3, 3), strides=(1, stride, stride), spatial_padding=padding)
        x = rng.normal(size=(1, 4, 6, 6, 3))
        layer.build(x.shape)
        kernel = rng.normal(size=tuple(layer.kernel.shape))
        pads = layer._pads(6, 6)
        probe = rng.normal(size=tuple(layer.compute_output_shape(x.shape)))
        cases[f"depthwise_stride{stride}_{padding}"] = (
            lambda a, k, pads=pads, stride=stride, probe=probe: ops.sum(
                channelwise_conv3d(a, k, pads, stride) * ops.convert_to_tensor(probe)), [x, kernel])
    features = rng.normal(size=(2, 8, 2, 2, 3))
    probe = rng.normal(size=(2, 8, 2, 2, 3))
    delta = rng.uniform(0.2, 2.0, size=(2, 8))
    # The Kronecker kernel is piecewise constant in Delta: its true gradient
    # ("none") is checked here; the straight-through surrogate is not a
    # derivative (test_sgs checks it against the released code's).
    for kernel, surrogate in (("linear", "none"), ("kronecker", "none")):
        cases[f"sgs_core_{kernel}"] = (
            lambda f, d, kernel=kernel, surrogate=surrogate: ops.sum(similarity_guided_sampling(
                f, d, 8, kernel=kernel, drop_empty_bins=False,
                kronecker_gradient=surrogate)[0] * ops.convert_to_tensor(probe)), [features, delta])
    return cases


def sgs_layer_case(weights=None):
    """(loss function, [clip]) of the whole float64 SGS layer (f_s and the
    sampling together), with `weights` (TensorFlow's) loaded if given."""
    import keras
    from keras import ops

    from vidzoo.layers import SimilarityGuidedSampling

    rng = np.random.default_rng(8)
    keras.utils.set_random_seed(3)
    # eq. 8's full gradient, so autodiff equals finite differences
    sgs = SimilarityGuidedSampling(drop_empty_bins=False, dtype="float64",
                                   similarity_gradient_scale=1.0)
    clip = rng.normal(size=(1, 8, 4, 4, 8))
    sgs(clip)
    if weights is not None:
        sgs.set_weights(weights)
    probe = ops.convert_to_tensor(rng.normal(size=(1, 8, 4, 4, 8)))
    return sgs, (lambda v: ops.sum(sgs(v, training=False) * probe)), [clip]


def write_sgs_layer_reference(folder):
    """On TensorFlow: the SGS layer case's weights and its directional
    derivatives, autodiff beside float64 finite differences."""
    sgs, loss_of, points = sgs_layer_case()
    np.savez(os.path.join(folder, "sgs_layer_weights.npz"), *sgs.get_weights())
    with open(os.path.join(folder, "sgs_layer_tensorflow.json"), "w") as file:
        json.dump(directional_derivatives(loss_of, points), file)


def sgs_layer_against_tensorflow(folder):
    """[(this backend's autodiff, TensorFlow's autodiff)] along the same
    directions, with TensorFlow's weights.

    Finite differences of the whole layer are not exact here: Keras 3 maps
    float64 to float32 in `result_type` on JAX and PyTorch, so `ops.mean`
    (both) and `ops.matmul` (PyTorch) of float64 inputs run in float32, and
    a float32 f_s moves frames across bin edges within the step. TensorFlow
    keeps float64, and its autodiff is checked against its finite
    differences (test_backends, test_sgs)."""
    stored = np.load(os.path.join(folder, "sgs_layer_weights.npz"))
    weights = [stored[f"arr_{index}"] for index in range(len(stored.files))]
    _, loss_of, points = sgs_layer_case(weights)
    with open(os.path.join(folder, "sgs_layer_tensorflow.json")) as file:
        reference = json.load(file)
    grads = backend_gradients(loss_of, points)
    pairs = []
    for seed, (tensorflow_analytic, _) in zip((0, 1, 2), reference):
        direction = np.random.default_rng(100 + seed).normal(size=points[0].shape)
        pairs.append((float(np.sum(grads[0] * direction)), tensorflow_analytic))
    return pairs


def check_gradients():
    return {name: directional_derivatives(loss_of, points)
            for name, (loss_of, points) in gradient_cases().items()}


# --- every layer under jax.jit ---


def check_jit(folder):
    """Each layer case in a jit-compiled predict(): its eager outputs, or
    (where the layer needs static shapes) the clear error. name -> "same" or
    the error message."""
    import keras

    report = {}
    for name, make_layer, extra in layer_cases():
        model = layer_model(make_layer, extra)
        model.load_weights(os.path.join(folder, f"layer_{name}.weights.h5"))
        inputs = layer_inputs(extra)
        eager = flat_outputs(model(inputs, training=False), "out")
        model.compile(jit_compile=True)
        try:
            jitted = flat_outputs(model.predict(inputs, batch_size=2, verbose=0), "out")
        except ValueError as error:
            report[name] = str(error)
            continue
        same = all(np.allclose(jitted[k], eager[k], rtol=0, atol=1e-5) for k in eager)
        report[name] = "same" if same else "different"
    keras.backend.clear_session()
    return report


# --- a fit() step ---


def check_fit():
    """Two fit() steps of x3d_xs_atfr (SGS and the frame-masked layers inside)
    in the backend's default mode (jit on JAX, so SGS keeps all its bins
    there): finite losses and moved weights. On JAX the default SGS's error
    is returned too."""
    import keras

    import vidzoo.zoo as zoo

    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    # At 32x32, res5 is 1x1: training-mode BatchNorm then normalizes a handful of
    # values per channel, and one SGD(0.1) step on torch's initialization grew
    # weights to 1e4-1e7 (NaN on the next step, depending on float rounding).
    clips = rng.random((4, 4, 64, 64, 3), dtype=np.float32)
    labels = keras.utils.to_categorical(rng.integers(0, 3, 4), 3)
    import tensorflow as tf  # tf.data feeds Keras on every backend

    dataset = tf.data.Dataset.from_tensor_slices((clips, labels)).batch(2)
    static = {"sgs": {"drop_empty_bins": False}} if backend == "jax" else {}
    report = {}
    for label, arguments in (("fit", static), ("default_sgs", {})):
        keras.utils.set_random_seed(0)
        model = zoo.get_model("x3d_xs_atfr", input_shape=(4, 64, 64, 3), classes=3,
                              **arguments)
        model.compile(keras.optimizers.SGD(0.01), "categorical_crossentropy")
        before = [np.array(w) for w in model.get_weights()]
        try:
            history = model.fit(dataset, epochs=1, verbose=0)
        except ValueError as error:
            report[label] = {"error": str(error)}
            continue
        moved = sum(not np.array_equal(a, np.asarray(b))
                    for a, b in zip(before, model.get_weights()))
        report[label] = {"loss": history.history["loss"], "moved": moved,
                         "weights": len(before)}
        keras.backend.clear_session()
        if backend != "jax":
            break
    report["mirrored"] = tensorflow_strategy_error()
    return report


def tensorflow_strategy_error():
    """`vidzoo train`'s error for a tf.distribute strategy off TensorFlow."""
    from vidzoo.training.train import TrainConfig, check_backend

    try:
        check_backend(TrainConfig(model="x3d_xs", train="t.csv", run_dir="r",
                                  strategy="mirrored"))
    except ValueError as error:
        return str(error)
    return None


def check_train(folder):
    """`vidzoo train` on this backend (tf.data, fit(), Keras checkpoints):
    a deterministic 2-epoch ATFR run, then a copy of it cut back to its
    epoch-1 checkpoint (as a kill after epoch 1 leaves it) and resumed by
    the CLI in a new process; the resumed run must end with the
    uninterrupted run's weights."""
    import shutil

    import keras

    from training_checks import cli_args, run_cli, tiny_dataset, tiny_run
    from vidzoo.training.checkpoints import KERAS_INDEX
    from vidzoo.training.run_dir import read_json, write_json

    data = tiny_dataset(os.path.join(folder, "train_data"))
    whole_dir, cut_dir = (os.path.join(folder, name) for name in ("whole", "cut"))
    whole = tiny_run(data, whole_dir, model_options={"sgs": {"drop_empty_bins": False}},
                     deterministic=True)
    weights = [np.asarray(w) for w in keras.saving.load_model(
        os.path.join(whole_dir, "model.keras")).get_weights()]
    shutil.copytree(whole_dir, cut_dir)
    index_path = os.path.join(cut_dir, "checkpoints", KERAS_INDEX)
    index = read_json(index_path)
    write_json(index_path, {"checkpoints": index["checkpoints"][:-1]})
    os.remove(os.path.join(cut_dir, "summary.json"))
    # A new process, as after a kill: tf.data's seeded reshuffles continue
    # from one dataset to the next within a process.
    done = run_cli(*cli_args(data, cut_dir, deterministic=True,
                             model_option="sgs={'drop_empty_bins': False}"))
    if done.returncode:
        return {"error": done.stderr[-3000:]}
    resumed = read_json(os.path.join(cut_dir, "summary.json"))
    resumed_weights = keras.saving.load_model(os.path.join(cut_dir, "model.keras")).get_weights()
    difference = max(float(np.abs(a - np.asarray(b)).max())
                     for a, b in zip(weights, resumed_weights))
    return {"checkpoints": index["checkpoints"], "whole_history": whole["history"],
            "resumed_from": resumed["resumed_from"], "resumed_history": resumed["history"],
            "max_weight_difference": difference}


def check_data_parallel(folder):
    """`vidzoo train --strategy=data_parallel` on the JAX devices XLA_FLAGS
    gives this process, and one Keras train step under the same
    DataParallel against one on a single device (a small conv + BatchNorm
    model: the split batch must give the global batch's update)."""
    import contextlib

    import keras

    from training_checks import cli_args, run_cli, tiny_dataset
    from vidzoo.training.run_dir import read_json
    from vidzoo.training.strategy import keras_data_parallel

    def one_step(scope):
        keras.utils.set_random_seed(0)
        with scope:
            model = keras.Sequential([
                keras.Input((2, 8, 8, 3)), keras.layers.Conv3D(4, 3, padding="same"),
                keras.layers.BatchNormalization(), keras.layers.ReLU(),
                keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(3)])
            model.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(
                from_logits=True))
            clips = np.random.default_rng(0).random((4, 2, 8, 8, 3), dtype="float32")
            model.train_on_batch(clips, np.arange(4) % 3)
            return [np.asarray(w) for w in model.get_weights()]

    single = one_step(contextlib.nullcontext())
    split = one_step(keras_data_parallel(cpu_devices=2).scope())
    step_difference = max(float(np.abs(a - b).max()) for a, b in zip(single, split))
    data = tiny_dataset(os.path.join(folder, "train_data"))
    run_dir = os.path.join(folder, "data_parallel")
    done = run_cli(*cli_args(data, run_dir, strategy="data_parallel", cpu_devices=2,
                             model_option="sgs={'drop_empty_bins': False}"))
    if done.returncode:
        return {"error": done.stderr[-3000:], "step_difference": step_difference}
    summary = read_json(os.path.join(run_dir, "summary.json"))
    return {"step_difference": step_difference, "replicas": summary["replicas"],
            "history": summary["history"], "optimizer_steps": summary["optimizer_steps"]}


def relative_difference(folder, stem, backend):
    """Per output: max |this backend's - TensorFlow's| / max(1, max |TensorFlow's|)."""
    expected = np.load(os.path.join(folder, f"{stem}_tensorflow.npz"))
    actual = np.load(os.path.join(folder, f"{stem}_{backend}.npz"))
    return {key: float(np.max(np.abs(actual[key] - expected[key]))
                       / max(1.0, float(np.max(np.abs(expected[key])))))
            for key in expected.files if key in actual.files}


def check_models(folder):
    """Every model case from TensorFlow's weights: its outputs written beside
    TensorFlow's; name -> seconds and relative differences."""
    import keras

    backend = keras.backend.backend()
    report = {}
    for name, arguments, shape in model_cases():
        start = time.perf_counter()
        model = build(name, arguments, shape)
        model.load_weights(os.path.join(folder, f"{name}.weights.h5"))
        clips = np.load(os.path.join(folder, f"{name}_clips.npy"))
        np.savez(os.path.join(folder, f"{name}_{backend}.npz"),
                 **outputs(model, clips, training_stage(model)))
        report[name] = {"seconds": round(time.perf_counter() - start, 1),
                        "difference": relative_difference(folder, name, backend)}
        keras.backend.clear_session()
    return report


def models_report(folder):
    import keras

    return {"backend": keras.backend.backend(), "models": check_models(folder)}


def main(folder):
    report = models_report(folder)
    backend = report["backend"]
    for name, make_layer, extra in layer_cases():
        model = layer_model(make_layer, extra)
        model.load_weights(os.path.join(folder, f"layer_{name}.weights.h5"))
        np.savez(os.path.join(folder, f"layer_{name}_{backend}.npz"),
                 **layer_outputs(model, layer_inputs(extra)))
    report["jit"] = check_jit(folder) if backend == "jax" else None
    report["fit"] = check_fit()
    if backend == "jax":  # float64 for the finite differences
        import jax

        jax.config.update("jax_enable_x64", True)
    report["gradients"] = check_gradients()
    report["sgs_layer_vs_tensorflow"] = sgs_layer_against_tensorflow(folder)
    print(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1] == "--train":  # its own process, so it runs beside main's
        print(json.dumps(check_train(sys.argv[2])))
    elif sys.argv[1] == "--data_parallel":  # needs XLA_FLAGS set before JAX starts
        print(json.dumps(check_data_parallel(sys.argv[2])))
    elif sys.argv[1] == "--models":  # the models alone (benchmarks/backend_table.py)
        print(json.dumps(models_report(sys.argv[2])))
    else:
        main(sys.argv[1])
