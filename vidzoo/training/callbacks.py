"""Keras callbacks of `vidzoo train`: checkpoints for resuming, the
statistics of adaptive models (B' histograms, GFLOPs per clip), precise
BatchNorm statistics, and moving-statistics sync across workers."""

import os
import time

import keras
import numpy as np
import tensorflow as tf

from vidzoo.training.checkpoints import checkpoint_step, checkpoint_store
from vidzoo.training.run_dir import read_json, write_json
from vidzoo.zoo.accounting import clip_lengths, flops_per_clip, split_outputs, with_adaptive_outputs
from vidzoo.zoo.flops import all_layers


def optimizer_step(model):
    """The optimizer's iteration count as a Python int (any strategy)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class Checkpointer(keras.callbacks.Callback):
    """Saves model, optimizer and seed-generator state at the end of every
    epoch and, if `every_n_steps`, every N optimizer steps, in the backend's
    store (`vidzoo.training.checkpoints`: tf.train on TensorFlow, Keras files
    on JAX and PyTorch), which a `kill -9` while saving cannot corrupt. The
    optimizer's `iterations` is saved with it: that gives the epoch and step
    to resume at (`vidzoo.training.train`).

    The states of the model's random seed generators (dropout) are saved
    too, so a resumed deterministic run draws the masks the uninterrupted run
    draws; checkpoints written without them still restore.

    `progress.json` beside the checkpoints holds each finished epoch's logs
    and the training seconds up to each checkpoint, written before the
    checkpoint itself, so a resumed run reports its whole history and
    training time (`history_before`, `total_seconds`). It is a side file, not
    part of the checkpoint, so checkpoints written without it still restore.
    """

    PROGRESS = "progress.json"

    def __init__(self, model, directory, every_n_steps=0, max_to_keep=3):
        super().__init__()
        self.store = checkpoint_store(model, directory, max_to_keep)
        self.every_n_steps = every_n_steps
        self._last_saved = None
        self._progress_path = os.path.join(directory, self.PROGRESS)
        self._progress = _read_progress(self._progress_path)
        self._seconds_before = 0.0
        self._segment_start = time.perf_counter()

    def restore(self):
        """Restore the latest checkpoint if there is one; returns its path or None."""
        path = self.store.latest
        if path:
            self.store.restore(path)
        return path

    def total_seconds(self):
        """Training seconds of the run: this process's since fit() began plus
        those recorded with the restored checkpoint (0 for a run without
        `progress.json`); time after that checkpoint died with its process."""
        return self._seconds_before + time.perf_counter() - self._segment_start

    def history_before(self, epoch):
        """{metric: [value per epoch]} of the recorded epochs before `epoch`."""
        epochs = self._progress["epochs"]
        history = {}
        for index in sorted(int(key) for key in epochs if int(key) < epoch):
            for key, value in epochs[str(index)].items():
                history.setdefault(key, []).append(value)
        return history

    def on_train_begin(self, logs=None):
        step = str(optimizer_step(self.model))
        self._seconds_before = self._progress["seconds"].get(step, self._seconds_before)
        self._segment_start = time.perf_counter()

    def save(self):
        step = optimizer_step(self.model)
        if step != self._last_saved:
            # Only the checkpoints the manager keeps can be restored: drop the rest.
            kept = {str(checkpoint_step(path)) for path in self.store.checkpoints}
            seconds = {key: value for key, value in self._progress["seconds"].items()
                       if key in kept}
            self._progress["seconds"] = dict(seconds, **{str(step): self.total_seconds()})
            self._write_progress()
            self.store.save(step)
            self._last_saved = step

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_steps and optimizer_step(self.model) % self.every_n_steps == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        # A kill before the checkpoint redoes the epoch; history_before() then
        # drops this entry, and the redone epoch overwrites it.
        self._progress["epochs"][str(epoch)] = {
            key: float(value) for key, value in (logs or {}).items()}
        self._write_progress()
        self.save()

    def _write_progress(self):
        os.makedirs(os.path.dirname(self._progress_path), exist_ok=True)
        write_json(self._progress_path, self._progress, indent=None)


def _read_progress(path):
    return read_json(path, default={"epochs": {}, "seconds": {}})


class AdaptiveStats(keras.callbacks.Callback):
    """At each epoch end, runs the model on fixed `clips` and logs, for every
    SGS layer, the histogram and mean of B' (for temporal clustering, of the
    cluster sizes) and the mean GFLOPs per clip, to TensorBoard (`log_dir`)
    and into the epoch logs (so History and the summary keep them).

    Put it before the TensorBoard callback so its values reach TensorBoard's
    epoch scalars too.
    """

    def __init__(self, clips, log_dir=None):
        super().__init__()
        self.clips = np.asarray(clips)
        self.log_dir = log_dir
        self._writer = None
        self._flops_cache = {}
        self._runner = None

    def measure(self):
        """{"<layer>_mean": ..., "gflops_per_clip": ...} and the raw counts."""
        if self._runner is None:
            self._runner = with_adaptive_outputs(self.model)
        _, counts = split_outputs(self._runner.predict(self.clips, verbose=0))
        flops = flops_per_clip(self.model, self.clips, counts=counts, cache=self._flops_cache)
        stats = {f"{name}_mean": float(lengths.mean())
                 for name, lengths in clip_lengths(counts).items()}
        stats["gflops_per_clip"] = float(flops.mean() / 1e9)
        return stats, counts

    def on_epoch_end(self, epoch, logs=None):
        stats, counts = self.measure()
        if logs is not None:
            logs.update(stats)
        if self.log_dir is None:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default(step=epoch):
            for name, value in counts.items():
                tf.summary.histogram(f"{name}/counts", value.astype("float32"))
            tf.summary.scalar("gflops_per_clip", stats["gflops_per_clip"])
        self._writer.flush()


def recompute_batch_norm_statistics(model, batches):
    """Precise BN (PySlowFast's PRECISE_BN): set every BatchNorm's moving mean
    and variance to the average of its batch statistics over `batches` (clips,
    or (clips, labels) pairs), taken with the model's current weights.

    Each batch runs with momentum 0, so the moving statistics hold exactly that
    batch's; they are averaged here. Frozen BatchNorms (trainable False, e.g.
    the backbone around SFC) are left alone. Returns the number of batches used.
    """
    norms = [layer for layer in all_layers(model)
             if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    if not norms:
        return 0
    momenta = [norm.momentum for norm in norms]
    sums = [[np.zeros(norm.moving_mean.shape), np.zeros(norm.moving_variance.shape)]
            for norm in norms]
    count = 0
    try:
        for norm in norms:
            norm.momentum = 0.0
        forward = lambda clips: model(clips, training=True)  # noqa: E731
        if keras.backend.backend() == "tensorflow":
            forward = tf.function(forward)
        for batch in batches:
            forward(batch[0] if isinstance(batch, (tuple, list)) else batch)
            for total, norm in zip(sums, norms):
                total[0] += np.asarray(norm.moving_mean.numpy(), "float64")
                total[1] += np.asarray(norm.moving_variance.numpy(), "float64")
            count += 1
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
    if count == 0:
        raise ValueError("recompute_batch_norm_statistics: `batches` yielded no batch.")
    for (mean, variance), norm in zip(sums, norms):
        norm.moving_mean.assign(mean / count)
        norm.moving_variance.assign(variance / count)
    return count


class PreciseBatchNorm(keras.callbacks.Callback):
    """Recompute BatchNorm statistics at each epoch end over `num_batches`
    training batches (`recompute_batch_norm_statistics`), before checkpoints
    are written. Moving averages lag behind the weights, badly so with TF-slim's
    decay of 0.999 on short runs; PySlowFast does this before every evaluation.
    The epoch's own validation metrics still use the moving averages (Keras
    validates before `on_epoch_end`)."""

    def __init__(self, dataset, num_batches):
        super().__init__()
        self.dataset = dataset
        self.num_batches = int(num_batches)

    def on_epoch_end(self, epoch, logs=None):
        recompute_batch_norm_statistics(self.model, self.dataset.take(self.num_batches))


class SyncMovingStatistics(keras.callbacks.Callback):
    """Averages the non-trainable variables (BatchNorm moving statistics)
    over all replicas at each epoch end, so every worker of a
    MultiWorkerMirroredStrategy run holds the same model (as PyTorch DDP's
    buffer broadcast does). Keras 3 updates moving statistics per replica;
    gradients, and so trainable weights, are already all-reduced.
    """

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy
        self._sync = None

    def _make_sync(self):
        variables = [v for v in self.model.non_trainable_variables
                     if v.dtype in ("float32", "float16")]

        def replica_mean():
            context = tf.distribute.get_replica_context()
            return context.all_reduce("MEAN", [tf.identity(v.value) for v in variables])

        @tf.function
        def sync():
            means = self.strategy.run(replica_mean)
            for variable, mean in zip(variables, means):
                variable.assign(self.strategy.experimental_local_results(mean)[0])

        return sync

    def on_epoch_end(self, epoch, logs=None):
        if self._sync is None:
            self._sync = self._make_sync()
        self._sync()
