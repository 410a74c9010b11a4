"""vidzoo.training.export: SavedModel with a uint8 serving signature, ONNX and TFLite, ATFR included."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from vidzoo.training.run_dir import load_run
from vidzoo.training.export import export_run, preprocess
from vidzoo.zoo.accounting import with_adaptive_outputs


@pytest.fixture(scope="module")
def exported(atfr_run, tmp_path_factory):
    root, _ = atfr_run  # trained deterministically: B' per clip depends on the run
    return root, export_run(str(root / "run"), str(tmp_path_factory.mktemp("export") /
                                                   "saved_model"))


def _still_and_varied_frames():
    """uint8 (2, 4, 40, 48, 3): a still clip and a clip whose frames all differ."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 120, (40, 48, 3))
    still = np.broadcast_to(base, (4, 40, 48, 3))
    varied = np.stack([base + 40 * t for t in range(4)])
    return np.stack([still, varied]).astype("uint8")


def _candidate_clips():
    """uint8 (5, 4, 40, 48, 3) clips from fully redundant to all-different frames."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 120, (40, 48, 3))
    return np.stack([np.broadcast_to(base, (4, 40, 48, 3)),
                     np.stack([base + 40 * t for t in range(4)]),
                     np.stack([base, base, base + 120, base + 120]),
                     np.stack([base * (t % 2) for t in range(4)]),
                     rng.integers(0, 255, (4, 40, 48, 3))]).astype("uint8")


def _two_redundancies(root):
    """Two candidate clips to which the trained model gives different B'
    (which ones depends on the training run, so they are picked, not fixed)."""
    candidates = _candidate_clips()
    bins = _keras_reference(root, candidates)["sgs"].tolist()
    low, high = bins.index(min(bins)), bins.index(max(bins))
    return candidates[[low, high]]


def _keras_reference(root, frames):
    model, _, _ = load_run(str(root / "run"))
    inputs = preprocess(tf.constant(frames), crop_size=32, eval_scale=37)  # 256 * 32 / 224
    outputs = with_adaptive_outputs(model)(inputs, training=False)
    return {key: np.asarray(value) for key, value in outputs.items()}


def test_saved_model_matches_keras_and_b_prime_varies_per_clip(exported):
    root, path = exported
    frames = _two_redundancies(root)
    loaded = tf.saved_model.load(path)  # keep a reference: it owns the variables
    served = loaded.serve(tf.constant(frames))
    reference = _keras_reference(root, frames)
    assert set(served) == {"predictions", "sgs"}
    np.testing.assert_allclose(served["predictions"].numpy(), reference["predictions"],
                               atol=1e-5)
    np.testing.assert_array_equal(served["sgs"].numpy(), reference["sgs"])
    redundant_bins, varied_bins = served["sgs"].numpy().tolist()
    assert redundant_bins < varied_bins  # different redundancy, different B'


def test_tfsm_layer_loads_the_export(exported):
    root, path = exported
    frames = _still_and_varied_frames()
    layer = keras.layers.TFSMLayer(path, call_endpoint="serve")
    outputs = layer(tf.constant(frames))
    reference = _keras_reference(root, frames)
    np.testing.assert_allclose(np.asarray(outputs["predictions"]), reference["predictions"],
                               atol=1e-5)
    probabilities = np.asarray(outputs["predictions"])
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_serving_signature_takes_uint8_frames_of_any_size(exported):
    _, path = exported
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures["serving_default"]
    spec = signature.structured_input_signature[1]["frames"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 4, None, None, 3]
    big = np.random.default_rng(0).integers(0, 255, (1, 4, 90, 120, 3)).astype("uint8")
    assert loaded.serve(tf.constant(big))["predictions"].shape == (1, 4)
    with pytest.raises((ValueError, TypeError)):
        loaded.serve(tf.constant(big.astype("float32")))


def test_export_of_a_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a finished training run"):
        export_run(str(tmp_path / "nothing"))


def test_a_preset_exports_with_its_own_preprocessing(tmp_path):
    from vidzoo import zoo
    from vidzoo.training.export import export_preset, preprocess
    from vidzoo.zoo import presets

    model = zoo.get_model("r3d_18", classes=3, input_shape=(4, 32, 32, 3))
    preprocessing = {"mean": [0.43216, 0.394666, 0.37645], "std": [0.22803, 0.22145, 0.216989],
                     "frames": 4, "stride": 1, "resize": [36, 48], "crop": 32}
    preset = presets.save_preset(model, str(tmp_path / "preset"), "r3d_18",
                                 {"classes": 3, "input_shape": [4, 32, 32, 3]},
                                 {"source": "test", "preprocessing": preprocessing})
    path = export_preset(preset, str(tmp_path / "saved"))
    frames = np.random.default_rng(0).integers(0, 255, (2, 4, 40, 52, 3), dtype=np.uint8)
    loaded = tf.saved_model.load(path)
    served = loaded.serve(tf.constant(frames))["predictions"].numpy()
    clips = preprocess(tf.constant(frames), 32, 36, preprocessing["mean"], preprocessing["std"])
    np.testing.assert_allclose(served, np.asarray(model(clips)), atol=1e-5)


def _clips_of(root, frames):
    """The normalized float32 clips an ONNX / TFLite export takes."""
    return preprocess(tf.constant(frames), crop_size=32, eval_scale=37).numpy()


def _run_onnx(path, clip):
    import onnxruntime

    session = onnxruntime.InferenceSession(path)
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: clip})))


def _run_tflite(path, clip):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path).get_signature_runner()(clips=clip)


@pytest.mark.parametrize("export_format, runtime", [("onnx", _run_onnx), ("tflite", _run_tflite)])
def test_onnx_and_tflite_exports_give_keras_outputs_and_b_prime(exported, tmp_path,
                                                                export_format, runtime):
    """The ATFR run (SGS's data-dependent length included) in onnxruntime and
    LiteRT, clip by clip (batch 1), against the Keras model."""
    import json

    root, _ = exported
    path = export_run(str(root / "run"), str(tmp_path / export_format), format=export_format)
    with open(f"{path}/preprocessing.json") as file:
        record = json.load(file)
    assert record["input_shape"] == [1, 4, 32, 32, 3] and record["outputs"] == ["predictions",
                                                                                "sgs"]
    assert record["crop_size"] == 32 and record["short_side"] == 37
    frames = _two_redundancies(root)
    reference = _keras_reference(root, frames)
    clips = _clips_of(root, frames)
    for index in range(len(frames)):
        outputs = runtime(f"{path}/{record['file']}", clips[index:index + 1])
        np.testing.assert_allclose(outputs["predictions"], reference["predictions"][index:index + 1],
                                   atol=1e-4)
        np.testing.assert_array_equal(outputs["sgs"], reference["sgs"][index:index + 1])


def _pooling_model(pool):
    inputs = keras.Input((4, 16, 16, 3))
    x = keras.layers.Conv3D(4, 3, padding="same", name="conv")(inputs)
    x = pool(x)
    outputs = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling3D()(x))
    return keras.Model(inputs, outputs, name="pooled")


@keras.saving.register_keras_serializable(package="vidzoo_tests")
class CumulativeProduct(keras.layers.Layer):
    """ops.cumprod: a TF op with no TFLite builtin (but a Select TF op)."""

    def call(self, inputs):
        return keras.ops.cumprod(keras.ops.tanh(inputs), axis=1)


@keras.saving.register_keras_serializable(package="vidzoo_tests")
class InverseErf(keras.layers.Layer):
    """ops.erfinv: neither a TFLite builtin nor a Select TF op."""

    def call(self, inputs):
        return keras.ops.erfinv(keras.ops.tanh(inputs))


def test_tflite_replaces_3d_pools_and_names_ops_without_a_builtin(tmp_path):
    from vidzoo.training.export import ExportError, export_model

    clip = np.random.default_rng(0).normal(size=(1, 4, 16, 16, 3)).astype("float32")
    for name, pool in [("max", keras.layers.MaxPooling3D((3, 3, 3), (2, 2, 2), padding="same")),
                       ("average", keras.layers.AveragePooling3D((2, 3, 3), padding="same"))]:
        model = _pooling_model(pool)
        path = export_model(model, str(tmp_path / name), "tflite", crop_size=16, eval_scale=16)
        outputs = _run_tflite(f"{path}/model.tflite", clip)
        np.testing.assert_allclose(outputs["predictions"], np.asarray(model(clip)), atol=1e-5)
    select_only = _pooling_model(CumulativeProduct())
    with pytest.raises(ExportError, match="no builtin for Cumprod.*select_tf_ops=True"):
        export_model(select_only, str(tmp_path / "cumprod"), "tflite", crop_size=16,
                     eval_scale=16)
    export_model(select_only, str(tmp_path / "cumprod"), "tflite", crop_size=16, eval_scale=16,
                 select_tf_ops=True)  # written; it needs the Flex delegate to run
    assert (tmp_path / "cumprod" / "model.tflite").stat().st_size > 0
    with pytest.raises(ExportError, match="Erfinv is neither a TFLite builtin nor a Select TF"):
        export_model(_pooling_model(InverseErf()), str(tmp_path / "erfinv"), "tflite",
                     crop_size=16, eval_scale=16, select_tf_ops=True)


def test_export_format_and_frames_are_checked(tmp_path):
    from vidzoo.training.export import ExportError, export_model

    model = _pooling_model(keras.layers.MaxPooling3D(2))
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(model, str(tmp_path / "x"), "coreml", crop_size=16, eval_scale=16)
    inputs = keras.Input((None, 16, 16, 3))
    any_length = keras.Model(inputs, keras.layers.GlobalAveragePooling3D()(inputs))
    with pytest.raises(ExportError, match="fixed number of frames"):
        export_model(any_length, str(tmp_path / "y"), "onnx", crop_size=16, eval_scale=16)
