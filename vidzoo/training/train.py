"""`vidzoo train`: a zoo model trained with Keras `fit()` on video files.

    summary = train(TrainConfig(model="resnet3d_18_atfr", train="train.csv",
                                val="val.csv", run_dir="runs/r18_atfr"))

The run directory holds everything about the run (`vidzoo.training.run_dir`
has its layout). The model and its optimizer are built by
`vidzoo.training.modeling`, the data streams by `vidzoo.training.data`; this
module owns the settings and the fit loop.

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
import warnings

import keras
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
from vidzoo.training.modeling import (build_for_multi_worker, build_initialized_model,
                                      compile_model, lr_drop_problems)
from vidzoo.training.run_dir import CHECKPOINTS, LOGS, RunDir
from vidzoo.training.strategy import STRATEGIES, make_strategy
from vidzoo.zoo.accounting import is_adaptive
from vidzoo.zoo.flops import count_flops

# Fields that must match for a rerun to resume an existing run directory.
RESUME_KEYS = ("model", "model_options", "frames", "stride", "crop_size", "batch_size",
               "steps_per_epoch", "lr", "warmup_epochs", "lr_drops", "weight_decay",
               "label_smoothing", "mixed_precision", "flip")


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
    lr_drops: str = setting("", "epochs at which the lr is divided by 10, comma-separated "
                            "(e.g. 8,12, the SFC paper's); empty: half-period cosine decay")
    label_smoothing: float = setting(0.0, "label smoothing")
    flip: bool = setting(True, "random horizontal flips; --noflip where a mirror image is "
                         "another class (left vs right motion, the embedded demo data)")
    mixed_precision: bool = setting(False, "train with the mixed_float16 policy")
    frames: int = setting(8, "frames per clip")
    stride: int = setting(2, "temporal sampling stride of a clip")
    crop_size: int = setting(112, "crop size in pixels (>= 32)")
    strategy: str = setting("default", "tf.distribute strategy (TensorFlow; multi_worker reads "
                            "TF_CONFIG) or data_parallel (keras.distribution, JAX)",
                            choices=STRATEGIES)
    cpu_devices: int = setting(0, "split the CPU into this many logical devices "
                               "(mirrored on a CPU machine; with data_parallel, the JAX "
                               "device count that XLA_FLAGS must give)")
    checkpoint_steps: int = setting(0, "also checkpoint every N steps (0: per epoch only)")
    adaptive_clips: int = setting(16, "validation clips on which adaptive models' B' and "
                                  "GFLOPs are logged each epoch")
    precise_bn_batches: int = setting(0, "at each epoch end, set BatchNorm statistics to their "
                                      "average over this many training batches (0: off)")
    init_from: str = setting(None, "start from the weights of this preset (vidzoo convert), "
                             "run directory or .keras "
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
        return datasets.clip_config(self.frames, self.stride, self.crop_size, flip=self.flip,
                                    normalization=datasets.run_normalization(self.init_from))

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
        problems += lr_drop_problems(self.lr_drops, self.epochs, self.warmup_epochs)
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


TENSORFLOW_ONLY_STRATEGIES = ("mirrored", "multi_worker")


def check_backend(config):
    """`vidzoo train` runs on every Keras backend with one device; the
    tf.distribute strategies are TensorFlow's (docs/training.md, 'Other Keras
    backends')."""
    backend = keras.backend.backend()
    if backend == "tensorflow" or (backend == "jax" and config.strategy == "data_parallel"):
        return
    if config.strategy in TENSORFLOW_ONLY_STRATEGIES or config.cpu_devices > 1:
        raise ValueError(
            f"train: strategy {config.strategy!r} (and cpu_devices) are tf.distribute's, on "
            f"the TensorFlow Keras backend only; KERAS_BACKEND is {backend!r}. Use "
            "strategy 'default' (one device) there, or on JAX strategy 'data_parallel' "
            "(keras.distribution.DataParallel; docs/training.md).")


def _check_resume(config, run):
    saved = run.saved_config()
    if saved is None:
        return
    saved = {"flip": True, "lr_drops": "", **saved}  # runs saved before these fields
    # Compared as config.json stores them: a tuple option comes back a list.
    current = {k: json.loads(json.dumps(getattr(config, k))) for k in RESUME_KEYS}
    changed = {k: (saved.get(k), current[k]) for k in RESUME_KEYS if saved.get(k) != current[k]}
    if changed:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise ValueError(f"train: {run.root} holds a run with other settings ({details}); "
                         "rerun with the same settings to resume, or use a new run_dir.")


def single_inter_op_thread():
    """Make TensorFlow run independent ops one at a time (each op still uses
    every intra-op thread); returns whether this process now does.

    Deterministic kernels are not enough: with TF's default inter-op threads,
    X3D-S's gradient on one batch differed in the last bits in 3 of 15
    identical calls (a whole run then ends elsewhere), with one inter-op
    thread in none, while each kernel alone repeated exactly. The runtime
    takes the setting only before its first op, so deterministic entry
    points (the CLI, the demo, the studies) call this first.
    """
    if (tf.config.threading.get_inter_op_parallelism_threads() == 1
            or os.environ.get("TF_NUM_INTEROP_THREADS") == "1"):
        return True
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime has started
        return False
    return True


def _warn_unless_single_inter_op_thread():
    if not single_inter_op_thread():
        warnings.warn(
            "deterministic=True: TensorFlow's runtime started before this run with more than "
            "one inter-op thread, so ops that run side by side can round differently from run "
            "to run (measured on X3D-S's gradient). For runs that repeat bit for bit, set "
            "TF_NUM_INTEROP_THREADS=1 or call "
            "vidzoo.training.train.single_inter_op_thread() before any TensorFlow op.",
            stacklevel=3)


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


def _worker_dir(config, worker):
    run = RunDir(config.run_dir)
    return run if worker.is_chief else run.worker(worker.index)


def _callbacks(model, config, run, worker, probe, train_data):
    """In order: precise BN, then the cross-worker sync of its statistics, then
    the checkpoint that saves them."""
    callbacks = []
    if config.precise_bn_batches:
        callbacks.append(PreciseBatchNorm(train_data, config.precise_bn_batches))
    if worker.num_workers > 1:
        callbacks.append(SyncMovingStatistics(worker.strategy))
    callbacks.append(Checkpointer(model, run.path(CHECKPOINTS), config.checkpoint_steps))
    logs = run.path(LOGS)
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


def _compiled_model(config, worker, run, classes, total_steps, steps_per_epoch):
    """(model, copied layer names): built and compiled in the strategy's scope,
    under the mixed-precision policy if asked (restored after)."""
    policy = keras.config.dtype_policy()
    if config.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        with worker.strategy.scope():
            model, copied = build_initialized_model(config, classes, run.latest_checkpoint())
            compile_model(model, config, total_steps, steps_per_epoch)
            if worker.num_workers > 1:
                build_for_multi_worker(model, config, classes)
    finally:
        keras.config.set_dtype_policy(policy)
    return model, copied


def _summary(config, model, worker, classes, copied, steps_per_epoch, resume, seconds, history,
             bad_videos):
    """summary.json's record of a finished run."""
    checkpoint, start_epoch, start_step = resume
    summary = {
        "model": config.model,
        "classes": classes,
        "parameters": int(model.count_params()),
        "replicas": worker.replicas,
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
    if not is_adaptive(model):
        summary["gflops_per_clip"] = count_flops(model) / 1e9
    return summary


def train(config: TrainConfig) -> dict:
    """Train (or resume) the run described by `config`; returns the summary dict."""
    config.check()
    if config.deterministic:  # before the strategy starts TF's runtime
        _warn_unless_single_inter_op_thread()
    check_backend(config)
    worker = make_strategy(config.strategy, config.cpu_devices)
    if config.batch_size % worker.replicas or config.batch_size % worker.num_workers:
        raise ValueError(f"train: batch_size {config.batch_size} must divide evenly among "
                         f"{worker.replicas} replicas.")
    with op_determinism(config.deterministic), worker.distribution_scope():
        return _train(config, worker)


def _train(config, worker):
    _check_resume(config, RunDir(config.run_dir))
    source = datasets.load_source(config.train, what="train")
    val_source = (datasets.load_source(config.val, source.class_names, what="val")
                  if config.val else None)
    classes = len(source.class_names)
    steps_per_epoch = config.steps_per_epoch or max(1, source.num_videos // config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    run = _worker_dir(config, worker)
    finished = run.finished_summary(total_steps)
    if finished is not None:
        return finished
    os.makedirs(run.root, exist_ok=True)
    if worker.is_chief:
        run.write_start(dataclasses.asdict(config), source.class_names)

    keras.utils.set_random_seed(config.seed)
    model, copied = _compiled_model(config, worker, run, classes, total_steps, steps_per_epoch)

    bad_videos = BadVideoLog()

    def train_data_at(step):
        # With several workers the steps before a resume are not skipped: each
        # worker's share of a step is tf.distribute's to decide.
        step = step if worker.num_workers == 1 else 0
        return datasets.train_dataset(source, config, worker, classes, bad_videos, step)

    precise_bn_data = train_data_at(0) if config.precise_bn_batches else None
    val = (None, None)
    if val_source is not None:
        val = (datasets.val_dataset(val_source, config, classes, bad_videos),
               math.ceil(val_source.num_videos / config.batch_size))
    probe = None
    if is_adaptive(model) and config.adaptive_clips and worker.is_chief:
        probe = datasets.probe_clips(val_source or source, config, config.adaptive_clips)
    callbacks = _callbacks(model, config, run, worker, probe, precise_bn_data)
    checkpointer = next(c for c in callbacks if isinstance(c, Checkpointer))
    checkpoint, start_epoch, start_step = _resume_point(checkpointer, model, steps_per_epoch)
    if checkpoint and config.verbose:
        print(f"resuming from {checkpoint}: epoch {start_epoch + 1}, step {start_step}")

    history = _fit(model, train_data_at, val, callbacks, config, steps_per_epoch,
                   start_epoch, start_step, checkpointer.history_before(start_epoch))
    summary = _summary(config, model, worker, classes, copied, steps_per_epoch,
                       (checkpoint, start_epoch, start_step), checkpointer.total_seconds(),
                       history, bad_videos)
    run.write_end(model, summary)
    return summary
