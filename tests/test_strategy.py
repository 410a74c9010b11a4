"""vidzoo.training.strategy: MirroredStrategy on 2 logical CPUs and
MultiWorkerMirroredStrategy with 2 local worker processes."""

import json
import socket

import keras
import numpy as np
import pytest

from training_checks import cli_args, run_cli, start_cli, tiny_dataset
from vidzoo.training.strategy import make_strategy


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_dataset(tmp_path_factory.mktemp("data"))


def test_unknown_strategy_and_bad_tf_config_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="strategy must be one of"):
        make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}))
    with pytest.raises(ValueError, match="index < 1"):
        make_strategy("multi_worker")


def test_mirrored_strategy_on_two_logical_cpus(data, tmp_path):
    result = run_cli(*cli_args(data, tmp_path / "run", model="x3d_xs", epochs=1,
                               strategy="mirrored", cpu_devices=2))
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["optimizer_steps"] == 2
    assert np.isfinite(summary["final"]["loss"])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_training_ends_with_identical_weights(data, tmp_path):
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    args = cli_args(data, tmp_path / "run", model="x3d_xs", epochs=1, strategy="multi_worker")
    processes = [start_cli(*args, env={"TF_CONFIG": json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})})
        for index in range(2)]
    try:
        outputs = [process.communicate(timeout=600)[0] for process in processes]
    finally:  # a crashed worker leaves the other waiting for it
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief = json.loads((tmp_path / "run" / "summary.json").read_text())
    other = json.loads((tmp_path / "run" / "workers" / "1" / "summary.json").read_text())
    assert chief["workers"] == other["workers"] == 2 and chief["replicas"] == 2
    assert chief["optimizer_steps"] == other["optimizer_steps"] == 2
    first = keras.saving.load_model(tmp_path / "run" / "model.keras")
    second = keras.saving.load_model(tmp_path / "run" / "workers" / "1" / "model.keras")
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
