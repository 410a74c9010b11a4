"""Checkpoint stores of `vidzoo train`: model, optimizer and seed-generator
state, numbered by the optimizer step (`ckpt-<step>`), the newest few kept.

* `TFCheckpoints` (the TensorFlow backend): `tf.train.CheckpointManager`,
  which works under every tf.distribute strategy.
* `KerasCheckpoints` (JAX, PyTorch): Keras' own files, any backend:
  `ckpt-<step>/` holds `model.weights.h5`, `optimizer.npz` and `seeds.npz`.

Both write a checkpoint's files first and the index naming it last, so a
process killed while saving (even `kill -9`) leaves the previous checkpoint
usable.
"""

import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from vidzoo.training.run_dir import read_json, write_json

KERAS_INDEX = "keras_checkpoints.json"


def seed_states(model):
    """The model's seed-generator state variables: in `variables`, not in `weights`."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def _keras_checkpoints(directory):
    """The names KerasCheckpoints' index keeps, oldest first ([] without one)."""
    return read_json(os.path.join(directory, KERAS_INDEX), {"checkpoints": []})["checkpoints"]


def latest_checkpoint(directory):
    """The newest checkpoint in `directory` of either store, or None."""
    names = _keras_checkpoints(directory)
    return os.path.join(directory, names[-1]) if names else tf.train.latest_checkpoint(directory)


def checkpoint_step(path):
    """The optimizer step a checkpoint path is numbered by."""
    return int(path.rstrip("/").rsplit("-", 1)[1])


class TFCheckpoints:
    """tf.train checkpoints of model, optimizer and seed states."""

    def __init__(self, model, directory, max_to_keep=3):
        self._seeds = tf.train.Checkpoint(seeds=seed_states(model))
        self._state = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer,
                                         seeds=self._seeds.seeds)
        self._manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep)

    @property
    def checkpoints(self):
        return list(self._manager.checkpoints)

    @property
    def latest(self):
        return self._manager.latest_checkpoint

    def save(self, step):
        self._manager.save(checkpoint_number=step)

    def restore(self, path):
        self._state.restore(path).assert_existing_objects_matched()
        self._seeds.restore(path).expect_partial()  # absent from older checkpoints


class KerasCheckpoints:
    """Backend-neutral checkpoints in Keras' weight files and NumPy arrays.

    A checkpoint is written to `ckpt-<step>.tmp/` and renamed; the index
    `keras_checkpoints.json` (written atomically) then names it, and the
    checkpoints it no longer keeps are deleted."""

    def __init__(self, model, directory, max_to_keep=3):
        self.model = model
        self.directory = directory
        self.max_to_keep = max_to_keep

    @property
    def checkpoints(self):
        return [os.path.join(self.directory, name)
                for name in _keras_checkpoints(self.directory)]

    @property
    def latest(self):
        checkpoints = self.checkpoints
        return checkpoints[-1] if checkpoints else None

    def save(self, step):
        name = f"ckpt-{step}"
        final = os.path.join(self.directory, name)
        partial = final + ".tmp"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        self.model.save_weights(os.path.join(partial, "model.weights.h5"))
        _save_arrays(os.path.join(partial, "optimizer.npz"), self.model.optimizer.variables)
        _save_arrays(os.path.join(partial, "seeds.npz"), seed_states(self.model))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        kept = [n for n in _keras_checkpoints(self.directory) if n != name] + [name]
        dropped, kept = kept[:-self.max_to_keep], kept[-self.max_to_keep:]
        write_json(os.path.join(self.directory, KERAS_INDEX), {"checkpoints": kept})
        for old in dropped:
            shutil.rmtree(os.path.join(self.directory, old), ignore_errors=True)

    def restore(self, path):
        self.model.load_weights(os.path.join(path, "model.weights.h5"))
        _load_arrays(os.path.join(path, "optimizer.npz"), self.model.optimizer.variables,
                     "optimizer")
        _load_arrays(os.path.join(path, "seeds.npz"), seed_states(self.model), "seed")


def _save_arrays(path, variables):
    np.savez(path, *[keras.ops.convert_to_numpy(v) for v in variables])


def _load_arrays(path, variables, what):
    with np.load(path) as stored:
        arrays = [stored[f"arr_{index}"] for index in range(len(stored.files))]
    if [a.shape for a in arrays] != [tuple(v.shape) for v in variables]:
        raise ValueError(f"checkpoint {os.path.dirname(path)}: its {what} state does not "
                         "match this model's (another model or optimizer wrote it).")
    for variable, array in zip(variables, arrays):
        variable.assign(array)


def checkpoint_store(model, directory, max_to_keep=3):
    """TFCheckpoints on the TensorFlow backend, KerasCheckpoints on the others."""
    store = TFCheckpoints if keras.backend.backend() == "tensorflow" else KerasCheckpoints
    return store(model, directory, max_to_keep)
