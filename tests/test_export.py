"""vidzoo.training.export: SavedModel with a uint8 serving signature, ATFR included."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from training_checks import tiny_dataset, tiny_run
from vidzoo.training.run_dir import load_run
from vidzoo.training.export import export_run, preprocess
from vidzoo.zoo.accounting import with_adaptive_outputs


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = tiny_dataset(root / "data")
    tiny_run(data, root / "run", epochs=1, deterministic=True)  # B' per clip depends on the run
    return root, export_run(str(root / "run"), str(root / "saved_model"))


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
