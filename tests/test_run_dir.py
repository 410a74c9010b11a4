"""vidzoo.training.run_dir: the run directory's files, atomic JSON, loading."""

import json
import os

import keras
import numpy as np
import pytest

from vidzoo.training.run_dir import RunDir, load_run, read_json, write_json


def test_write_json_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "record.json")
    write_json(path, {"a": 1})
    write_json(path, {"a": [1, 2]})
    assert read_json(path) == {"a": [1, 2]}
    assert os.listdir(tmp_path) == ["record.json"]
    assert read_json(str(tmp_path / "absent.json"), default={"empty": True}) == {"empty": True}


def test_a_killed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / "record.json")
    write_json(path, {"step": 1})

    def killed(value, handle, **kwargs):
        handle.write('{"step": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", killed)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"step": 2})
    monkeypatch.undo()
    assert read_json(path) == {"step": 1}


def _tiny_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2, name="logits")(inputs))


def test_a_run_is_finished_only_with_its_summary_and_final_checkpoint(tmp_path):
    run = RunDir(str(tmp_path / "run"))
    assert run.saved_step() == 0 and run.saved_config() is None
    run.write_start({"model": "x3d_xs"}, ["a", "b"])
    assert run.saved_config() == {"model": "x3d_xs"}
    model = _tiny_model()
    import tensorflow as tf

    step = tf.Variable(0, dtype="int64")
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), run.path("checkpoints"),
                                         max_to_keep=1)
    manager.save(checkpoint_number=6)
    assert run.saved_step() == 6
    assert run.finished_summary(total_steps=6) is None  # no summary yet
    run.write_end(model, {"final": {"top1": 1.0}})
    assert run.finished_summary(total_steps=6) == {"final": {"top1": 1.0}}
    assert run.finished_summary(total_steps=8) is None  # stopped before its last step
    loaded, config, classes = load_run(run.root)
    assert (config, classes) == ({"model": "x3d_xs"}, ["a", "b"])
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(loaded(x), model(x))


def test_loading_an_unfinished_run_names_the_missing_files(tmp_path):
    run = RunDir(str(tmp_path / "run"))
    run.write_start({"model": "x3d_xs"}, ["a"])
    with pytest.raises(ValueError, match=r"not a finished training run; missing .*model\.keras"):
        load_run(run.root)
    with pytest.raises(ValueError, match="no directory given"):
        load_run("")


def test_worker_directories_nest_under_the_run():
    assert RunDir("runs/r").worker(2).root == os.path.join("runs/r", "workers", "2")
