"""Data-parallel training by name: default, mirrored, multi_worker, data_parallel.

* `default`: one device.
* `mirrored`: `MirroredStrategy` over the local GPUs, or over `cpu_devices`
  logical CPU devices (to test data parallelism on a CPU machine).
* `multi_worker`: `MultiWorkerMirroredStrategy`; the cluster comes from the
  `TF_CONFIG` environment variable, set on every worker (docs/training.md):

      TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                  "task": {"type": "worker", "index": 0}}'

  Worker 0 is the chief: it writes checkpoints, logs and the final model;
  the other workers write theirs under `<run_dir>/workers/<index>`.
* `data_parallel`: Keras 3's `keras.distribution.DataParallel` over all of
  JAX's local devices (the JAX backend's counterpart of `mirrored`): weights
  replicated, each global batch split along its first axis. On a CPU machine
  JAX shows N devices with
  `XLA_FLAGS=--xla_force_host_platform_device_count=N`, set before it starts.
"""

import contextlib
import dataclasses
import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "data_parallel")


@dataclasses.dataclass
class Worker:
    """This process's place in the cluster."""

    strategy: tf.distribute.Strategy
    num_workers: int = 1
    index: int = 0
    keras_distribution: object = None  # keras.distribution.DataParallel, or None

    @property
    def is_chief(self):
        return self.index == 0

    @property
    def replicas(self):
        """Model copies a global batch is split among."""
        if self.keras_distribution is not None:
            return len(self.keras_distribution.device_mesh.devices.flat)
        return int(self.strategy.num_replicas_in_sync)

    def distribution_scope(self):
        """The Keras distribution's scope (building, fit, saving all need it), or nothing."""
        if self.keras_distribution is None:
            return contextlib.nullcontext()
        return self.keras_distribution.scope()


def split_cpu(count):
    """Expose `count` logical CPU devices; must run before TF starts its runtime."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        current = len(tf.config.list_logical_devices("CPU"))
        if current != count:
            raise ValueError(f"cpu_devices={count}: TensorFlow already started with {current} "
                             "CPU device(s); split the CPU before anything else runs.") from error


def _cluster_from_env():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("strategy multi_worker needs the TF_CONFIG environment variable "
                         "(cluster and task); see docs/training.md.")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError("TF_CONFIG must be JSON with cluster.worker (a list of host:port) "
                         f"and task (type, index); got {raw!r}.") from error
    if task.get("type") != "worker" or not 0 <= int(task.get("index", -1)) < len(workers):
        raise ValueError(f"TF_CONFIG task must be a worker with index < {len(workers)}; "
                         f"got {task}.")
    return len(workers), int(task["index"])


def keras_data_parallel(cpu_devices=0):
    """DataParallel over every JAX device; `cpu_devices` > 1 checks their count
    (JAX fixes it at start-up from XLA_FLAGS, so it cannot be split here)."""
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError("strategy data_parallel is keras.distribution.DataParallel, which "
                         f"vidzoo runs on the JAX backend; KERAS_BACKEND is "
                         f"{keras.backend.backend()!r}. On TensorFlow use strategy mirrored.")
    devices = keras.distribution.list_devices()
    if cpu_devices > 1 and len(devices) != cpu_devices:
        raise ValueError(
            f"strategy data_parallel with cpu_devices={cpu_devices}: JAX started with "
            f"{len(devices)} device(s). Set XLA_FLAGS=--xla_force_host_platform_device_count="
            f"{cpu_devices} in the environment before the run starts.")
    return keras.distribution.DataParallel(devices=devices)


def make_strategy(name="default", cpu_devices=0):
    """The strategy called `name` and this process's `Worker` record."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {name!r}.")
    if name == "data_parallel":
        return Worker(tf.distribute.get_strategy(),
                      keras_distribution=keras_data_parallel(cpu_devices))
    if cpu_devices > 1:
        split_cpu(cpu_devices)
    if name == "default":
        return Worker(tf.distribute.get_strategy())
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return Worker(tf.distribute.MirroredStrategy([d.name for d in devices]))
    num_workers, index = _cluster_from_env()
    return Worker(tf.distribute.MultiWorkerMirroredStrategy(), num_workers, index)
