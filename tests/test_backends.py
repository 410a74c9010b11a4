"""Keras 3 backends: every registered zoo model (the adaptive models among
them, and SFC inserted into R3D-18) and every vidzoo layer, built on JAX and
on PyTorch with weights saved on TensorFlow, give TensorFlow's outputs in
inference and training mode; the
custom gradients match finite differences on each backend (the whole SGS
layer: TensorFlow's float64 autodiff, see backend_checks); every layer runs
under jax.jit or says it needs static shapes; fit() steps run.
(`backend_checks.py` runs each backend in a subprocess: Keras picks its
backend once per process.)

`pytest -m backends` selects these tests alone; `VIDZOO_BACKENDS=jax` runs one
backend."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import backend_checks

HERE = os.path.dirname(os.path.abspath(__file__))
BACKENDS = [name for name in os.environ.get("VIDZOO_BACKENDS", "jax,torch").split(",") if name]

pytestmark = pytest.mark.backends


@pytest.fixture(scope="session")
def reference(tmp_path_factory, worker_id):
    """TensorFlow's weights and outputs, written once for every backend's
    worker (pytest-xdist): the folder beside the workers' own, under a lock."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    folder = root / "backends_reference"
    with FileLock(str(folder) + ".lock"):
        if not (folder / "done").exists():
            folder.mkdir(exist_ok=True)
            backend_checks.write_reference(str(folder))
            (folder / "done").write_text("")
    return folder


@pytest.fixture(scope="module", params=BACKENDS)
def backend_run(request, reference):
    """(backend, folder, report) after backend_checks.py ran on that backend."""
    env = dict(os.environ, KERAS_BACKEND=request.param)
    done = subprocess.run([sys.executable, os.path.join(HERE, "backend_checks.py"),
                           str(reference)], capture_output=True, text=True, env=env,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == request.param
    return request.param, reference, report


def _assert_same_outputs(folder, stem, backend):
    expected = np.load(folder / f"{stem}_tensorflow.npz")
    actual = np.load(folder / f"{stem}_{backend}.npz")
    assert sorted(actual.files) == sorted(expected.files), stem
    for key in expected.files:  # within TOLERANCE of the values' scale
        scale = max(1.0, float(np.abs(expected[key]).max()))
        np.testing.assert_allclose(actual[key], expected[key], rtol=0,
                                   atol=backend_checks.TOLERANCE * scale,
                                   err_msg=f"{backend}: {stem} {key}")
    return expected.files


def test_every_zoo_model_gives_tensorflows_outputs_from_tensorflows_weights(backend_run):
    backend, folder, report = backend_run
    import vidzoo.zoo as zoo

    cases = backend_checks.model_cases()
    assert set(zoo.list_models()) <= {name for name, _, _ in cases}  # none left out
    assert set(report["models"]) == {name for name, _, _ in cases}
    for name, _, _ in cases:
        keys = _assert_same_outputs(folder, name, backend)
        if name.endswith(("_atfr", "_clustering")):  # B' / cluster sizes, equal too
            assert any(key.startswith(("inference_sgs", "inference_temporal")) for key in keys)
        if not name.endswith("_sfc"):  # training mode, up to res3 or its like
            assert "training_features" in keys, name


def test_every_layer_gives_tensorflows_outputs_in_both_modes(backend_run):
    backend, folder, _ = backend_run
    import vidzoo.layers

    names = {name for name, _, _ in backend_checks.layer_cases()}
    classes = {name for name in vidzoo.layers.__all__ if name[0].isupper()}
    assert classes <= {name.split("_")[0] for name in names}  # none left out
    for name in names:
        keys = _assert_same_outputs(folder, f"layer_{name}", backend)
        assert any(k.startswith("training") for k in keys), name


def _mismatches(label, pairs, against):
    return [f"{label}: autodiff {analytic} vs {against} {expected}"
            for analytic, expected in pairs
            if abs(analytic - expected) > 1e-5 * max(1.0, abs(expected))]


def test_custom_gradients_match_finite_differences(backend_run):
    backend, _, report = backend_run
    names = set(report["gradients"])
    assert {name.split("_")[0] for name in names} == {"depthwise", "sgs"}
    mismatches = [m for name in sorted(names) for m in _mismatches(
        f"{backend}: {name}", report["gradients"][name], "finite difference")]
    assert not mismatches


def test_sgs_layer_gradient_matches_tensorflows(backend_run):
    # The whole SGS layer, f_s included: TensorFlow's float64 autodiff equals
    # its finite differences, and this backend's autodiff equals TensorFlow's
    # (its own finite differences are float32 inside: backend_checks says why).
    backend, folder, report = backend_run
    with open(folder / "sgs_layer_tensorflow.json") as file:
        tensorflow = json.load(file)
    assert not _mismatches("tensorflow: sgs layer", tensorflow, "finite difference")
    pairs = report["sgs_layer_vs_tensorflow"]
    assert len(pairs) == len(tensorflow) == 3
    assert not _mismatches(f"{backend}: sgs layer", pairs, "TensorFlow's autodiff")


def test_fit_steps_run(backend_run):
    backend, _, report = backend_run
    fit = report["fit"]["fit"]
    assert "error" not in fit, fit
    assert all(np.isfinite(fit["loss"])), fit
    # vidzoo train runs here, but tf.distribute's strategies are TensorFlow's: it says so.
    assert "keras.distribution.DataParallel" in report["fit"]["mirrored"]


def test_fit_step_moves_every_layers_weights(backend_run):
    # On JAX this runs SGS with all bins kept (jit), whose empty bins once sat
    # where the frame-masked layers look for real frames: no gradient passed.
    backend, _, report = backend_run
    fit = report["fit"]["fit"]
    assert fit["moved"] >= fit["weights"] * 0.9, fit


@pytest.mark.parametrize("backend_run", [b for b in BACKENDS if b == "jax"], indirect=True)
def test_layers_under_jax_jit_match_eager_or_say_they_need_static_shapes(backend_run):
    backend, _, report = backend_run
    for name, outcome in report["jit"].items():
        if name in backend_checks.STATIC_SHAPE_LAYERS:
            assert "drop_empty_bins=False" in outcome and "jax.jit" in outcome, outcome
        else:
            assert outcome == "same", f"{name}: {outcome}"
    # The zoo's ATFR model in fit() (jit) says the same; with all bins kept it trains.
    assert "drop_empty_bins=False" in report["fit"]["default_sgs"]["error"]


@pytest.mark.skipif("jax" not in BACKENDS, reason="VIDZOO_BACKENDS leaves JAX out")
def test_vidzoo_train_runs_checkpoints_and_resumes_on_jax(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(HERE, "backend_checks.py"), "--train",
                           str(tmp_path)], capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, KERAS_BACKEND="jax"))
    assert done.returncode == 0, done.stderr[-4000:]
    train = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in train, train
    assert [name.split("-")[0] for name in train["checkpoints"]] == ["ckpt", "ckpt"]  # Keras files
    assert all(np.isfinite(train["whole_history"]["loss"])), train
    assert train["resumed_from"]["epoch"] == 1 and train["resumed_from"]["step"] == 0, train
    assert train["resumed_history"]["loss"] == pytest.approx(train["whole_history"]["loss"],
                                                             rel=1e-5)
    assert train["max_weight_difference"] < 1e-5, train  # deterministic: the same run


@pytest.mark.skipif("jax" not in BACKENDS, reason="VIDZOO_BACKENDS leaves JAX out")
def test_vidzoo_train_data_parallel_on_two_jax_devices(tmp_path):
    flags = "--xla_force_host_platform_device_count=2"
    done = subprocess.run([sys.executable, os.path.join(HERE, "backend_checks.py"),
                           "--data_parallel", str(tmp_path)], capture_output=True, text=True,
                          timeout=1800, env=dict(os.environ, KERAS_BACKEND="jax",
                                                 XLA_FLAGS=flags))
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in report, report
    assert report["step_difference"] < 1e-5, report  # split batch, the global batch's step
    assert report["replicas"] == 2, report
    assert report["optimizer_steps"] == 4, report  # 2 epochs of 8 videos at batch 4
    assert all(np.isfinite(report["history"]["loss"])), report


def test_data_parallel_is_named_for_jax_only():
    from vidzoo.training.strategy import make_strategy

    with pytest.raises(ValueError, match="JAX backend.*mirrored"):
        make_strategy("data_parallel")
