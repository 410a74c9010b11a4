"""Keras 3 backends: every family (and the adaptive models) built on JAX with
weights saved on TensorFlow gives TensorFlow's outputs, in inference and in
training mode (`backend_checks.py` runs the other backend in a subprocess)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import backend_checks

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    backend_checks.write_reference(str(folder))
    return folder


def _run_backend(backend, folder):
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run([sys.executable, os.path.join(HERE, "backend_checks.py"), str(folder)],
                          capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["backend"] == backend


def test_jax_gives_tensorflows_outputs_from_tensorflows_weights(reference):
    _run_backend("jax", reference)
    for name, _, _, stage in backend_checks.CASES:
        expected = np.load(reference / f"{name}_tensorflow.npz")
        actual = np.load(reference / f"{name}_jax.npz")
        assert sorted(actual.files) == sorted(expected.files), name
        for key in expected.files:  # within 1e-4 of the values' scale
            scale = max(1.0, float(np.abs(expected[key]).max()))
            np.testing.assert_allclose(actual[key], expected[key], rtol=0, atol=1e-4 * scale,
                                       err_msg=f"{name} {key}")
        if name.endswith(("_atfr", "_clustering")):  # B' / cluster sizes, equal too
            assert any(key.startswith(("inference_sgs", "inference_temporal")) for key in
                       expected.files), name
