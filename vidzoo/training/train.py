"""`vidzoo train`: a zoo model trained with Keras `fit()` on video files.

    summary = train(TrainConfig(model="resnet3d_18_atfr", train="train.csv",
                                val="val.csv", run_dir="runs/r18_atfr"))

The run directory holds everything about the run:

    config.json      the TrainConfig (a rerun must match it to resume)
    classes.json     the class mapping (label id -> name)
    checkpoints/     model + optimizer state, every epoch (and every N steps)
    logs/            TensorBoard: train/ and validation/ scalars (loss, top1,
                     top5, learning rate), adaptive/ (B' histograms, GFLOPs/clip)
    model.keras      the trained model
    summary.json     final metrics, per-epoch history, timings

Optimization follows the video-recognition recipes (PySlowFast, ATFR): SGD
with momentum 0.9 and weight decay 1e-4 (Keras' decoupled form, scaled by
the learning rate, not applied to BatchNorm and biases), a half-period cosine
schedule after a linear warmup (Keras `CosineDecay` with `warmup_steps`),
optional label smoothing and mixed precision.

Resuming: run the same command again. The latest checkpoint's optimizer step
gives the epoch and the step inside it; training goes on from there with
the same schedule and optimizer state and stops at the same final epoch. An
epoch is a fixed number of steps (videos // global batch, or `steps_per_epoch`)
over a repeated, reshuffled dataset, so a resumed epoch runs exactly its
remaining steps.
"""

import contextlib
import dataclasses
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from vidzoo import zoo
from vidzoo.tf_data.decode import BadVideoLog
from vidzoo.training import data as datasets
from vidzoo.training.callbacks import (
    AdaptiveStats,
    Checkpointer,
    PreciseBatchNorm,
    SyncMovingStatistics,
    optimizer_step,
)
from vidzoo.training.strategy import make_strategy
from vidzoo.zoo.accounting import is_adaptive
from vidzoo.zoo.flops import count_flops

# Fields that must match for a rerun to resume an existing run directory.
RESUME_KEYS = ("model", "model_options", "frames", "stride", "crop_size", "batch_size",
               "steps_per_epoch", "lr", "warmup_epochs", "weight_decay", "label_smoothing",
               "mixed_precision", "flip")


def setting(default, help, **metadata):
    """A TrainConfig field: its default and the help text `vidzoo train` shows
    (the command's flags are derived from these fields). `metadata` may add
    `choices` and `flag` (the flag's name when it differs from the field's)."""
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=dict(metadata, help=help))
    return dataclasses.field(default=default, metadata=dict(metadata, help=help))


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run (`vidzoo train --FIELD=VALUE`)."""

    model: str = setting(None, "registry name of the model (vidzoo.zoo.list_models()); required")
    train: str = setting(None, "training dataset: CSV manifest, folder of class folders or "
                         "TFRecord pattern such as records/train-*; required")
    run_dir: str = setting(None, "the run directory; rerun the same command to resume; required")
    val: str = setting(None, "validation dataset (one centre clip per video per epoch)")
    model_options: dict = setting({}, "model constructor option KEY=VALUE (a Python literal), "
                                  "e.g. sgs=res3; repeatable", flag="model_option")
    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(8, "global batch size, over all replicas and workers")
    steps_per_epoch: int = setting(0, "steps per epoch (0: training videos // batch_size)")
    lr: float = setting(0.1, "peak learning rate, after the warmup")
    momentum: float = setting(0.9, "SGD momentum")
    weight_decay: float = setting(1e-4, "SGD weight decay (decoupled; not on BatchNorm and "
                                  "biases)")
    warmup_epochs: float = setting(1.0, "linear warmup length in epochs")
    label_smoothing: float = setting(0.0, "label smoothing")
    flip: bool = setting(True, "random horizontal flips; --noflip where a mirror image is "
                         "another class (left vs right motion, the embedded demo data)")
    mixed_precision: bool = setting(False, "train with the mixed_float16 policy")
    frames: int = setting(8, "frames per clip")
    stride: int = setting(2, "temporal sampling stride of a clip")
    crop_size: int = setting(112, "crop size in pixels (>= 32)")
    strategy: str = setting("default", "tf.distribute strategy; multi_worker reads TF_CONFIG",
                            choices=("default", "mirrored", "multi_worker"))
    cpu_devices: int = setting(0, "split the CPU into this many logical devices "
                               "(MirroredStrategy on a CPU machine)")
    checkpoint_steps: int = setting(0, "also checkpoint every N steps (0: per epoch only)")
    adaptive_clips: int = setting(16, "validation clips on which adaptive models' B' and "
                                  "GFLOPs are logged each epoch")
    precise_bn_batches: int = setting(0, "at each epoch end, set BatchNorm statistics to their "
                                      "average over this many training batches (0: off)")
    init_from: str = setting(None, "start from the weights of this run directory or .keras "
                             "file (layers matched by name and shape)")
    sfc_split: str = setting(None, "train only Selective Feature Compression, inserted at this "
                             "stage (e.g. res3) of the frozen --init_from model")
    sfc_tau: float = setting(2.0, "SFC's compression ratio (frames in / frames out)")
    sfc_options: dict = setting({}, "SelectiveFeatureCompression option KEY=VALUE (a Python "
                                "literal), e.g. topk='frame'; repeatable", flag="sfc_option")
    seed: int = setting(0, "random seed")
    deterministic: bool = setting(False, "the same seed gives the same run (seeded "
                                  "deterministic tf.data, TF's deterministic ops)")
    verbose: int = setting(1, "fit() verbosity: 0 silent, 1 progress bar, 2 a line per epoch",
                           choices=(0, 1, 2))

    def clip_config(self):
        """The tf_data ClipConfig of this run's clips (one centre view in eval mode)."""
        return datasets.clip_config(self.frames, self.stride, self.crop_size, flip=self.flip)

    def check(self):
        """Raise a ValueError naming each bad field."""
        problems = []
        if self.model not in zoo.list_models():
            problems.append(f"model {self.model!r} is not in the zoo (vidzoo.zoo.list_models())")
        for name in ("epochs", "batch_size", "frames", "stride", "crop_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1; got {getattr(self, name)}")
        for name in ("steps_per_epoch", "checkpoint_steps", "adaptive_clips", "cpu_devices",
                     "precise_bn_batches"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0; got {getattr(self, name)}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0; got {self.lr}")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must be in [0, 1); got {self.label_smoothing}")
        if self.weight_decay < 0 or self.warmup_epochs < 0 or not 0 <= self.momentum < 1:
            problems.append("weight_decay and warmup_epochs must be >= 0, momentum in [0, 1)")
        if self.crop_size < 32:
            problems.append(f"crop_size must be >= 32 pixels; got {self.crop_size}")
        if not self.run_dir:
            problems.append("run_dir is required")
        if self.sfc_split and not self.init_from:
            problems.append("sfc_split needs init_from: SFC is trained on a trained backbone, "
                            "which stays frozen")
        if self.sfc_options and not self.sfc_split:
            problems.append("sfc_options need sfc_split (they configure the inserted SFC)")
        if self.sfc_split and self.sfc_tau <= 1:
            problems.append(f"sfc_tau must be > 1 (frames in / frames out); got {self.sfc_tau}")
        if problems:
            raise ValueError("train: " + "; ".join(problems) + ".")


def _check_resume(config, run_dir):
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as handle:
        saved = {"flip": True, **json.load(handle)}  # runs saved before `flip` flipped
    changed = {k: (saved.get(k), getattr(config, k)) for k in RESUME_KEYS
               if saved.get(k) != getattr(config, k)}
    if changed:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise ValueError(f"train: {run_dir} holds a run with other settings ({details}); "
                         "rerun with the same settings to resume, or use a new run_dir.")


def build_model(config, num_classes):
    """The zoo model named in `config` for clips of its frames and crop size."""
    shape = (config.frames, config.crop_size, config.crop_size, 3)
    return zoo.get_model(config.model, classes=num_classes, input_shape=shape,
                         **config.model_options)


def build_initialized_model(config, num_classes, resuming):
    """build_model with init_from's weights (unless resuming, when the
    checkpoint restores everything), then SFC inserted into the frozen model
    when config.sfc_split is set. Returns (model, names of the copied layers)."""
    model = build_model(config, num_classes)
    copied = []
    if config.init_from and not resuming:
        copied = transfer_weights(model, config.init_from)
    if config.sfc_split:
        model = zoo.insert_sfc(model, config.sfc_split, config.sfc_tau, **config.sfc_options)
    return model, copied


def transfer_weights(model, source):
    """Copy weights from `source` (a run directory or a .keras file) into the
    layers of `model` with the same name and weight shapes, e.g. a baseline
    into its ATFR variant (whose SGS layer is new). Returns the names copied."""
    path = os.path.join(source, "model.keras") if os.path.isdir(source) else source
    if not os.path.isfile(path):
        raise ValueError(f"train: init_from {source!r} is neither a run directory with "
                         "model.keras nor a .keras file.")
    donor = {layer.name: layer for layer in keras.saving.load_model(path).layers}
    copied = []
    for layer in model.layers:
        weights = donor[layer.name].get_weights() if layer.name in donor else None
        mine = layer.get_weights()
        if mine and weights and [w.shape for w in weights] == [w.shape for w in mine]:
            layer.set_weights(weights)
            copied.append(layer.name)
    if not copied:
        raise ValueError(f"train: no layer of {path} matches {model.name} by name and shape.")
    return copied


def make_optimizer(config, total_steps, steps_per_epoch):
    warmup = min(int(round(config.warmup_epochs * steps_per_epoch)), total_steps - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.lr, decay_steps=total_steps - warmup,
        warmup_target=config.lr if warmup else None, warmup_steps=warmup)
    optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum,
                                     weight_decay=config.weight_decay or None)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


def compile_model(model, config, total_steps, steps_per_epoch):
    classes = model.outputs[0].shape[-1]
    model.compile(
        optimizer=make_optimizer(config, total_steps, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="top1"),
                 keras.metrics.TopKCategoricalAccuracy(k=min(5, classes), name="top5")],
    )
    model.optimizer.build(model.trainable_variables)


def _one_hot(classes):
    return lambda clip, label: (clip, tf.one_hot(label, classes))


def train_dataset(source, config, worker, classes, bad_videos, start_step=0):
    """The endless training stream of one worker from optimizer step
    `start_step` on: a resumed run skips the clips the steps before it read
    (before decoding them), so it sees what the uninterrupted run would have."""
    clips = config.clip_config()
    # Every worker batches by the global size; tf.distribute rebatches it to
    # the per-replica size, so a step takes batch_size clips in all.
    part = datasets.shard_source(source, worker.num_workers, worker.index)
    data = datasets.dataset(part, "train", config.batch_size, clips, seed=config.seed + worker.index,
                            deterministic=config.deterministic, bad_videos=bad_videos,
                            drop_remainder=True, repeat=True,
                            skip=start_step * config.batch_size)
    data = data.map(_one_hot(classes))
    if worker.num_workers > 1:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        data = data.with_options(options)
    return data


def val_dataset(source, config, classes, bad_videos):
    data = datasets.dataset(source, "eval", config.batch_size, config.clip_config(),
                            seed=config.seed, deterministic=config.deterministic,
                            bad_videos=bad_videos)
    data = data.map(lambda batch: (batch["video"], tf.one_hot(batch["label"], classes)))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.repeat().with_options(options)


def probe_clips(source, config, count):
    """`count` fixed centre clips (the first videos of `source`) for adaptive stats."""
    data = datasets.dataset(source, "eval", count, config.clip_config())
    return next(iter(data))["video"].numpy()


def _build_for_multi_worker(model, config, classes):
    """Work around two Keras 3.15 bugs of fit() under MultiWorkerMirroredStrategy.

    1. fit() builds the metric variables from the first distributed batch with
       `strategy.reduce`, which fails on the workers' PerReplica inputs
       ("Attempt to convert a value (PerReplica...)"). Building them first
       from a local batch of the same shapes and skipping that step is
       equivalent.
    2. Each step then reduces its scalar logs with `strategy.reduce(axis=0)`,
       which fails on scalars ("Invalid reduction dimension 0"). Treating the
       strategy as local there makes each worker log its own replicas' mean.
       Gradients are still all-reduced across workers by the optimizer
       (tests/test_strategy.py checks that the workers end with equal weights).
    """
    from keras.src.backend.tensorflow import trainer

    clip = np.zeros((1, config.frames, config.crop_size, config.crop_size, 3), "float32")
    model._symbolic_build(data_batch=(clip, np.zeros((1, classes), "float32")))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    trainer._collective_all_reduce_multi_worker = lambda strategy: False


def _saved_step(run_dir):
    """The optimizer step of the latest checkpoint (checkpoints are numbered by
    it), 0 without one; read before building anything."""
    latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


@contextlib.contextmanager
def op_determinism(enabled):
    """TF's deterministic kernels inside the block when `enabled`, restored after
    (so one deterministic run does not slow the rest of the process)."""
    # tf.config has no public switch back; the private one restores the state.
    from tensorflow.python.framework import config as tf_framework_config

    before = tf_framework_config.is_op_determinism_enabled()
    if enabled:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not before:
            tf_framework_config.disable_op_determinism()


def _resume_point(checkpointer, model, steps_per_epoch):
    path = checkpointer.restore()
    step = optimizer_step(model) if path else 0
    return path, step // steps_per_epoch, step % steps_per_epoch


def _finished_summary(run_dir, total_steps):
    """The saved summary of a run whose last checkpoint is its final step, or None."""
    summary = os.path.join(run_dir, "summary.json")
    if _saved_step(run_dir) < total_steps or not os.path.exists(summary):
        return None
    with open(summary) as handle:
        return json.load(handle)


def _write_json(path, value):
    with open(path + ".tmp", "w") as handle:
        json.dump(value, handle, indent=2)
    os.replace(path + ".tmp", path)


def _worker_dir(config, worker):
    if worker.is_chief:
        return config.run_dir
    return os.path.join(config.run_dir, "workers", str(worker.index))


def _callbacks(model, config, run_dir, worker, probe, train_data):
    """In order: precise BN, then the cross-worker sync of its statistics, then
    the checkpoint that saves them."""
    callbacks = []
    if config.precise_bn_batches:
        callbacks.append(PreciseBatchNorm(train_data, config.precise_bn_batches))
    if worker.num_workers > 1:
        callbacks.append(SyncMovingStatistics(worker.strategy))
    callbacks.append(Checkpointer(model, os.path.join(run_dir, "checkpoints"),
                                  config.checkpoint_steps))
    logs = os.path.join(run_dir, "logs")
    if probe is not None:
        callbacks.append(AdaptiveStats(probe, os.path.join(logs, "adaptive")))
    callbacks.append(keras.callbacks.TensorBoard(logs, update_freq="epoch"))
    return callbacks


def _fit(model, train_data_at, val, callbacks, config, steps_per_epoch, start_epoch, start_step,
         history):
    """fit() from (start_epoch, start_step) to config.epochs; returns `history`
    (the epochs before start_epoch) extended by those it runs. Each fit() call
    reads a fresh iterator, so each gets the stream from its own first step
    (`train_data_at(step)`)."""
    val_data, val_steps = val
    pieces = []
    if start_step:
        pieces.append((start_epoch, steps_per_epoch - start_step))
        start_epoch += 1
    if start_epoch < config.epochs:
        pieces.append((start_epoch, steps_per_epoch))
    for epoch, steps in pieces:
        last = epoch + 1 if steps != steps_per_epoch else config.epochs
        first_step = (epoch + 1) * steps_per_epoch - steps
        result = model.fit(train_data_at(first_step), epochs=last, initial_epoch=epoch,
                           steps_per_epoch=steps, validation_data=val_data,
                           validation_steps=val_steps, callbacks=callbacks,
                           verbose=config.verbose)
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    return history


def train(config):
    """Train (or resume) the run described by `config`; returns the summary dict."""
    config.check()
    with op_determinism(config.deterministic):
        return _train(config)


def _train(config):
    worker = make_strategy(config.strategy, config.cpu_devices)
    if config.batch_size % (worker.strategy.num_replicas_in_sync) or \
            config.batch_size % worker.num_workers:
        raise ValueError(f"train: batch_size {config.batch_size} must divide evenly among "
                         f"{worker.strategy.num_replicas_in_sync} replicas.")
    _check_resume(config, config.run_dir)
    source = datasets.load_source(config.train, what="train")
    val_source = (datasets.load_source(config.val, source.class_names, what="val")
                  if config.val else None)
    classes = len(source.class_names)
    steps_per_epoch = config.steps_per_epoch or max(1, source.num_videos // config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    run_dir = _worker_dir(config, worker)
    finished = _finished_summary(run_dir, total_steps)
    if finished is not None:
        return finished
    os.makedirs(run_dir, exist_ok=True)
    if worker.is_chief:
        _write_json(os.path.join(run_dir, "config.json"), dataclasses.asdict(config))
        _write_json(os.path.join(run_dir, "classes.json"), source.class_names)

    keras.utils.set_random_seed(config.seed)
    policy = keras.config.dtype_policy()
    if config.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        with worker.strategy.scope():
            resuming = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
            model, copied = build_initialized_model(config, classes, resuming)
            compile_model(model, config, total_steps, steps_per_epoch)
            if worker.num_workers > 1:
                _build_for_multi_worker(model, config, classes)
    finally:
        keras.config.set_dtype_policy(policy)

    bad_videos = BadVideoLog()

    def train_data_at(step):
        # With several workers the steps before a resume are not skipped: each
        # worker's share of a step is tf.distribute's to decide.
        step = step if worker.num_workers == 1 else 0
        return train_dataset(source, config, worker, classes, bad_videos, step)

    precise_bn_data = train_data_at(0) if config.precise_bn_batches else None
    val = (None, None)
    if val_source is not None:
        val = (val_dataset(val_source, config, classes, bad_videos),
               math.ceil(val_source.num_videos / config.batch_size))
    adaptive = is_adaptive(model)
    probe = None
    if adaptive and config.adaptive_clips and worker.is_chief:
        probe = probe_clips(val_source or source, config, config.adaptive_clips)
    callbacks = _callbacks(model, config, run_dir, worker, probe, precise_bn_data)
    checkpointer = next(c for c in callbacks if isinstance(c, Checkpointer))
    checkpoint, start_epoch, start_step = _resume_point(checkpointer, model, steps_per_epoch)
    if checkpoint and config.verbose:
        print(f"resuming from {checkpoint}: epoch {start_epoch + 1}, step {start_step}")

    history = _fit(model, train_data_at, val, callbacks, config, steps_per_epoch,
                   start_epoch, start_step, checkpointer.history_before(start_epoch))
    seconds = checkpointer.total_seconds()
    summary = {
        "model": config.model,
        "classes": classes,
        "parameters": int(model.count_params()),
        "replicas": int(worker.strategy.num_replicas_in_sync),
        "workers": worker.num_workers,
        "initialized_from": ({"source": config.init_from, "layers": len(copied)}
                             if copied else None),
        "epochs": config.epochs,
        "steps_per_epoch": steps_per_epoch,
        "optimizer_steps": optimizer_step(model),
        "resumed_from": ({"checkpoint": checkpoint, "epoch": start_epoch, "step": start_step}
                         if checkpoint else None),
        "train_seconds": round(seconds, 2),
        "final": {key: values[-1] for key, values in history.items()},
        "history": history,
        "bad_videos": dict(bad_videos.failures),
    }
    if not adaptive:
        summary["gflops_per_clip"] = count_flops(model) / 1e9
    model.save(os.path.join(run_dir, "model.keras"))
    _write_json(os.path.join(run_dir, "summary.json"), summary)
    return summary
