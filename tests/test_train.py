"""vidzoo.training.train: fit() runs, artifacts, resume after kill -9, schedule, errors."""

import dataclasses
import glob
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from training_checks import cli_args, run_cli, start_cli, tiny_config, tiny_dataset, tiny_run
from vidzoo.training.callbacks import Checkpointer, PreciseBatchNorm
from vidzoo.training.checkpoints import seed_states
from vidzoo.training.modeling import build_model, compile_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    paths = tiny_dataset(root)
    with open(paths["train"], "a") as handle:  # one bad file among the good ones
        (root / "broken.mp4").write_bytes(b"not a video" * 50)
        handle.write("broken.mp4,move_up\n")
    return paths


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    return run_dir, tiny_run(data, run_dir, deterministic=True)


def _event_tags(folder):
    tags = set()
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_run_directory_holds_config_classes_model_summary_and_logs(run, data):
    run_dir, summary = run
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "x3d_xs_atfr" and config["frames"] == 4
    from vidzoo.tf_data.manifest import from_csv

    classes = from_csv(data["train"], on_missing="skip").class_names
    assert json.loads((run_dir / "classes.json").read_text()) == classes
    assert summary == json.loads((run_dir / "summary.json").read_text())
    assert summary["optimizer_steps"] == 2 * summary["steps_per_epoch"]
    assert len(summary["history"]["loss"]) == 2
    assert np.isfinite(summary["final"]["loss"])
    assert 1 <= summary["final"]["sgs_mean"] <= 4  # X3D keeps T = 4 frames up to SGS
    assert summary["final"]["gflops_per_clip"] > 0
    assert any("broken.mp4" in path for path in summary["bad_videos"])
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.count_params() == summary["parameters"]


def test_tensorboard_logs_losses_accuracies_learning_rate_and_adaptive_stats(run):
    run_dir, _ = run
    logs = run_dir / "logs"
    train_tags = _event_tags(logs / "train")
    assert {"epoch_loss", "epoch_top1", "epoch_top5", "epoch_learning_rate",
            "epoch_gflops_per_clip", "epoch_sgs_mean"} <= train_tags
    assert {"epoch_loss", "epoch_top1"} <= _event_tags(logs / "validation")
    assert {"sgs/counts", "gflops_per_clip"} <= _event_tags(logs / "adaptive")


def test_checkpoint_restores_weights_and_optimizer_state(run, data):
    run_dir, summary = run
    trained = keras.saving.load_model(run_dir / "model.keras")
    config = tiny_config(data, run_dir)
    model = build_model(config, 4)
    compile_model(model, config, total_steps=4, steps_per_epoch=2)
    assert Checkpointer(model, str(run_dir / "checkpoints")).restore()
    assert int(model.optimizer.iterations) == summary["optimizer_steps"]
    momentums = [v for v in model.optimizer.variables if "momentum" in v.path]
    assert momentums and any(np.abs(v.numpy()).sum() > 0 for v in momentums)
    for restored, saved in zip(model.weights, trained.weights):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())


def test_keras_file_reloads_with_the_trained_models_outputs(run, data):
    run_dir, _ = run
    config = tiny_config(data, run_dir)
    trained = build_model(config, 4)  # the training state, from the last checkpoint
    compile_model(trained, config, total_steps=4, steps_per_epoch=2)
    Checkpointer(trained, str(run_dir / "checkpoints")).restore()
    loaded = keras.saving.load_model(run_dir / "model.keras")
    clip = np.random.default_rng(0).random((1, 4, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(loaded(clip), trained(clip), atol=1e-6)


def test_rerunning_a_finished_run_returns_its_summary(run, data):
    run_dir, summary = run
    assert tiny_run(data, run_dir) == summary  # no retraining, nothing overwritten
    assert json.loads((run_dir / "summary.json").read_text()) == summary


def _weights(run_dir):
    return keras.saving.load_model(os.path.join(run_dir, "model.keras")).get_weights()


def _same_weights(first, second):
    return all(np.array_equal(a, b) for a, b in zip(first, second))


def test_deterministic_runs_with_one_seed_are_identical_and_other_seeds_differ(run, data,
                                                                              tmp_path):
    """x3d_xs_atfr (SGS inside), a bad video in the data, validation each epoch."""
    run_dir, summary = run
    again = tiny_run(data, tmp_path / "again", deterministic=True)
    assert again["history"] == summary["history"]
    assert _same_weights(_weights(tmp_path / "again"), _weights(run_dir))
    other = tiny_run(data, tmp_path / "other", deterministic=True, seed=1)
    assert other["history"]["loss"] != summary["history"]["loss"]
    assert not _same_weights(_weights(tmp_path / "other"), _weights(run_dir))
    from tensorflow.python.framework import config as tf_framework_config

    assert not tf_framework_config.is_op_determinism_enabled()  # restored after the run


def test_resumes_after_kill_9_at_the_right_epoch_and_step(run, data, tmp_path):
    """Deterministic, so the resumed run must end with the uninterrupted run's
    weights (the module's `run`, same settings): it reads the clips the
    uninterrupted run reads from its step on."""
    run_dir, uninterrupted = run
    steps = uninterrupted["steps_per_epoch"]
    args = cli_args(data, tmp_path / "run", checkpoint_steps=1, verbose=2, deterministic="true")
    process = start_cli(*args)
    index = tmp_path / "run" / "checkpoints" / "checkpoint"
    deadline = time.time() + 400
    while time.time() < deadline and process.poll() is None:
        if index.exists() and "ckpt-1" in index.read_text():
            break
        time.sleep(0.05)
    assert process.poll() is None, process.stdout.read()[-3000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "run" / "summary.json").exists()
    latest = tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints"))
    saved_step = int(latest.rsplit("-", 1)[1])
    assert 1 <= saved_step < 2 * steps
    progress = json.loads((tmp_path / "run" / "checkpoints" / "progress.json").read_text())
    seconds_saved = progress["seconds"][str(saved_step)]

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "inter-op thread" not in result.stderr  # the CLI gets one before TF starts
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    resumed = summary["resumed_from"]
    assert (resumed["epoch"], resumed["step"]) == divmod(saved_step, steps)
    assert f"epoch {resumed['epoch'] + 1}, step {resumed['step']}" in result.stdout
    assert summary["optimizer_steps"] == 2 * steps  # none repeated or lost
    # History and training time cover the whole run, not just the resumed part.
    assert len(summary["history"]["loss"]) == 2
    assert len(summary["history"]["val_top1"]) == 2
    assert 0 < seconds_saved < summary["train_seconds"]
    assert _same_weights(_weights(tmp_path / "run"), _weights(run_dir))
    assert summary["history"]["val_loss"][-1] == uninterrupted["history"]["val_loss"][-1]


def test_history_before_a_resumed_epoch_keeps_only_the_finished_epochs(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    checkpointer = Checkpointer(model, str(tmp_path))
    checkpointer.set_model(model)
    for epoch, loss in enumerate((3.0, 2.0, 1.0)):  # epoch 2's checkpoint was lost
        checkpointer.on_epoch_end(epoch, {"loss": loss, "top1": 0.5 + epoch / 10})
    assert checkpointer.history_before(2) == {"loss": [3.0, 2.0], "top1": [0.5, 0.6]}
    assert checkpointer.history_before(0) == {}


def test_checkpoints_keep_the_dropout_seed_state_and_older_ones_still_restore(tmp_path):
    def dropout_model():
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dropout(0.5)(keras.layers.Dense(8)(inputs)))
        model.compile(optimizer="sgd", loss="mse")
        return model

    model = dropout_model()
    (state,) = seed_states(model)
    checkpointer = Checkpointer(model, str(tmp_path / "new"))
    checkpointer.set_model(model)
    state.assign(np.array([7, 11], state.dtype))
    checkpointer.save()
    state.assign(np.array([0, 0], state.dtype))
    assert checkpointer.restore()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(state), [7, 11])

    older = dropout_model()  # a checkpoint from before the seed states were saved
    tf.train.Checkpoint(model=older, optimizer=older.optimizer).save(str(tmp_path / "old" / "ckpt"))
    assert Checkpointer(dropout_model(), str(tmp_path / "old")).restore()


def test_keras_checkpoints_round_trip_keep_the_newest_and_survive_a_half_written_one(tmp_path):
    # The store of the JAX and PyTorch backends; Keras files, so it runs here too.
    from vidzoo.training.checkpoints import KerasCheckpoints, latest_checkpoint

    def dropout_model(units=8):
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dropout(0.5)(keras.layers.Dense(units)(inputs)))
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
        model.optimizer.build(model.trainable_variables)
        return model

    model = dropout_model()
    store = KerasCheckpoints(model, str(tmp_path), max_to_keep=2)
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 8), "float32")
    for _ in range(3):
        model.fit(x, y, verbose=0)
        store.save(int(model.optimizer.iterations))
    assert [os.path.basename(p) for p in store.checkpoints] == ["ckpt-2", "ckpt-3"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-2", "ckpt-3", "keras_checkpoints.json"]
    os.makedirs(tmp_path / "ckpt-4.tmp")  # a save killed before its rename
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-3")

    fresh = dropout_model()
    KerasCheckpoints(fresh, str(tmp_path)).restore(store.latest)
    for restored, saved in zip(fresh.variables + fresh.optimizer.variables,
                               model.variables + model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(restored), np.asarray(saved))
    assert int(fresh.optimizer.iterations) == 3
    with pytest.raises(ValueError, match="does not match this model"):
        other = dropout_model(units=5)
        other.load_weights = lambda path: None  # reach the optimizer state check
        KerasCheckpoints(other, str(tmp_path)).restore(store.latest)


def test_bad_settings_and_paths_raise_clear_errors(data, tmp_path):
    with pytest.raises(ValueError, match="not in the zoo"):
        tiny_run(data, tmp_path / "a", model="resnet_999")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        tiny_run(data, tmp_path / "b", label_smoothing=1.5)
    with pytest.raises(ValueError, match="does not exist"):
        tiny_run(dict(data, train=str(tmp_path / "missing.csv")), tmp_path / "c")
    with pytest.raises(ValueError, match="no TFRecord files match"):
        tiny_run(dict(data, train=str(tmp_path / "records-*")), tmp_path / "d")


def test_rerun_with_other_settings_refuses_to_resume(run, data):
    run_dir, _ = run
    with pytest.raises(ValueError, match="other settings.*frames: 4 -> 8"):
        tiny_run(data, run_dir, frames=8)


def test_a_tuple_model_option_resumes_its_own_run(data, tmp_path):
    # config.json stores the tuple as a list; the rerun must still match it.
    from vidzoo.training.run_dir import RunDir
    from vidzoo.training.train import _check_resume

    config = tiny_config(data, tmp_path, model="tsm_r18",
                         model_options={"unshifted": ("res2", "res3")})
    run = RunDir(str(tmp_path))
    run.write_start(dataclasses.asdict(config), ["a", "b"])
    _check_resume(config, run)
    other = tiny_config(data, tmp_path, model="tsm_r18", model_options={"unshifted": ("res2",)})
    with pytest.raises(ValueError, match="other settings.*model_options"):
        _check_resume(other, run)


def test_flip_setting_reaches_the_clips_and_the_run_record(run, data, tmp_path):
    assert tiny_config(data, tmp_path).clip_config().flip
    assert not tiny_config(data, tmp_path, flip=False).clip_config().flip
    run_dir, _ = run
    assert json.loads((run_dir / "config.json").read_text())["flip"] is True
    with pytest.raises(ValueError, match="other settings.*flip: True -> False"):
        tiny_run(data, run_dir, flip=False)


def test_trains_from_tfrecords_with_mixed_precision_and_label_smoothing(data, tmp_path):
    from vidzoo.tf_data import manifest
    from vidzoo.tf_data.records import write_records

    videos = manifest.from_csv(data["train"], on_missing="skip")
    write_records(videos, str(tmp_path / "records" / "train"), num_shards=2, progress=False)
    summary = tiny_run(dict(data, train=str(tmp_path / "records" / "train-*")),
                       tmp_path / "run", model="x3d_xs", epochs=1, mixed_precision=True,
                       label_smoothing=0.1, precise_bn_batches=2)
    assert summary["steps_per_epoch"] == 2  # 8 decodable videos / batch 4
    assert np.isfinite(summary["final"]["loss"])
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    policies = {layer.dtype_policy.name for layer in model.layers}
    assert "mixed_float16" in policies and model.outputs[0].dtype == "float32"


def test_init_from_copies_matching_layers_into_a_new_model(run, data):
    run_dir, _ = run
    config = tiny_config(data, run_dir, model="x3d_xs")
    model = build_model(config, 4)
    from vidzoo.training.modeling import transfer_weights

    copied = transfer_weights(model, str(run_dir))
    donor = keras.saving.load_model(run_dir / "model.keras")
    with_weights = [layer.name for layer in model.layers if layer.weights]
    assert copied == with_weights  # the ATFR donor has every baseline layer, plus SGS
    for name in (copied[0], copied[-1]):
        for mine, theirs in zip(model.get_layer(name).get_weights(),
                                donor.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="neither a preset, a run directory"):
        transfer_weights(model, str(run_dir / "nothing"))


def test_precise_batch_norm_averages_the_batch_statistics():
    """Moving statistics become the mean over batches of each batch's mean and
    (biased) variance, computed by hand here; momentum is restored."""
    inputs = keras.Input((2, 3, 3, 1))
    norm = keras.layers.BatchNormalization(momentum=0.999, name="bn")
    model = keras.Model(inputs, norm(inputs))
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc, scale, (2, 2, 3, 3, 1)).astype("float32")
               for loc, scale in ((0.0, 1.0), (3.0, 2.0), (-1.0, 0.5))]
    dataset = tf.data.Dataset.from_tensor_slices(np.stack(batches)).map(lambda x: (x, 0))
    callback = PreciseBatchNorm(dataset, num_batches=2)
    callback.set_model(model)
    callback.on_epoch_end(0)
    np.testing.assert_allclose(norm.moving_mean.numpy(),
                               [np.mean([b.mean() for b in batches[:2]])], rtol=1e-5)
    np.testing.assert_allclose(norm.moving_variance.numpy(),
                               [np.mean([b.var() for b in batches[:2]])], rtol=1e-5)
    assert norm.momentum == 0.999


def test_trains_only_sfc_inside_the_frozen_init_from_model(run, data, tmp_path):
    """`vidzoo train --sfc_split`: SFC goes into the init_from model (frozen,
    BatchNorm statistics included) and is the only thing that trains; the run
    evaluates like any other."""
    from vidzoo.layers import SelectiveFeatureCompression
    from vidzoo.training.evaluate import evaluate_run

    run_dir, _ = run
    donor = keras.saving.load_model(run_dir / "model.keras")
    sfc_dir = tmp_path / "sfc"
    done = run_cli(*cli_args(data, sfc_dir, model="x3d_xs", frames=8, stride=1, epochs=1,
                             init_from=run_dir, sfc_split="res3", sfc_tau=2.0,
                             sfc_option="topk='frame'", precise_bn_batches=1))
    assert done.returncode == 0, done.stderr[-2000:]
    with open(sfc_dir / "summary.json") as handle:
        assert json.load(handle)["initialized_from"]["layers"] > 10
    model = keras.saving.load_model(sfc_dir / "model.keras")
    sfc = model.get_layer("sfc")
    assert isinstance(sfc, SelectiveFeatureCompression)
    assert sfc.topk == "frame" and sfc.scaled  # --sfc_option reaches the layer
    assert [w.name for w in model.trainable_weights] == [w.name for w in sfc.trainable_weights]
    # Frozen backbone: kernels and BatchNorm moving statistics equal the donor's.
    head, tail = model.layers[1], model.layers[3]
    for part, name in ((head, "stem_spatial_conv"), (head, "res2_block1_a_bn"),
                       (tail, "res5_block1_a_bn")):
        for have, want in zip(part.get_layer(name).get_weights(),
                              donor.get_layer(name).get_weights()):
            np.testing.assert_array_equal(have, want)
    result = evaluate_run(str(sfc_dir), data["val"], 1, 1, 4)
    assert result["videos"] == 4 and 0.0 <= result["video_top1"] <= 1.0
    with pytest.raises(ValueError, match="sfc_split needs init_from"):
        tiny_run(data, tmp_path / "no_init", model="x3d_xs", sfc_split="res3")


SINGLE_INTER_OP_THREAD = """
import tensorflow as tf
from vidzoo.training.train import single_inter_op_thread
{before}
print(single_inter_op_thread(), tf.config.threading.get_inter_op_parallelism_threads())
"""


@pytest.mark.parametrize("before, expected", [("", "True 1"),
                                              ("tf.constant(1.0) + 1", "False 0")])
def test_one_inter_op_thread_is_set_only_before_tensorflow_starts(before, expected):
    code = SINGLE_INTER_OP_THREAD.format(before=before)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split("\n")[-2] == expected, result.stderr[-2000:]


def test_a_deterministic_run_after_tensorflow_started_warns():
    """In a fresh process (a deterministic run sets one inter-op thread for
    the rest of its process, as this module's runs do for pytest's)."""
    code = ("import warnings, tensorflow as tf\n"
            "from vidzoo.training import train\n"
            "tf.constant(1.0) + 1\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    train._warn_unless_single_inter_op_thread()\n"
            "print([str(w.message) for w in caught])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert "TF_NUM_INTEROP_THREADS=1" in result.stdout, result.stderr[-2000:]
