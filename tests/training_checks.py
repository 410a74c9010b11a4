"""Shared helpers of the training tests: a tiny dataset and a tiny run."""

import os
import subprocess
import sys

from vidzoo.tf_data import synthetic
from vidzoo.training.train import TrainConfig, train

TINY = dict(model="x3d_xs_atfr", epochs=2, frames=4, crop_size=32, batch_size=4, lr=0.01,
            adaptive_clips=4, verbose=0)


def tiny_dataset(root):
    """8 training and 4 validation videos of 8 frames, 32 px (4 classes)."""
    return synthetic.make_dataset(str(root), train_per_class=2, val_per_class=1, frames=8,
                                  size=32)


def tiny_config(data, run_dir, **overrides):
    settings = dict(TINY, train=data["train"], val=data["val"], run_dir=str(run_dir))
    settings.update(overrides)
    return TrainConfig(**settings)


def tiny_run(data, run_dir, **overrides):
    return train(tiny_config(data, run_dir, **overrides))


def cli_args(data, run_dir, **overrides):
    """`vidzoo train` flags equal to `tiny_config`."""
    settings = dict(TINY, train=data["train"], val=data["val"], run_dir=str(run_dir))
    settings.update(overrides)
    return ["train"] + [f"--{key}={value}" for key, value in settings.items()]


def run_cli(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-c", "from vidzoo.cli import run; run()", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def start_cli(*args, env=None):
    return subprocess.Popen([sys.executable, "-c", "from vidzoo.cli import run; run()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, **(env or {})))
