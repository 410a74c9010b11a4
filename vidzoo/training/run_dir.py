"""The run directory `vidzoo train` writes and `evaluate` / `export` read:

    config.json      the TrainConfig (a rerun must match it to resume)
    classes.json     the class mapping (label id -> name)
    checkpoints/     model + optimizer state, every epoch (and every N steps)
    logs/            TensorBoard: train/ and validation/ scalars (loss, top1,
                     top5, learning rate), adaptive/ (B' histograms, GFLOPs/clip)
    model.keras      the trained model
    summary.json     final metrics, per-epoch history, timings
    evaluation.json  `vidzoo evaluate`'s result (by default)
    saved_model/     `vidzoo export`'s SavedModel (by default)
    workers/<i>/     a non-chief worker's own checkpoints and logs

Every JSON file is written atomically (`write_json`), so a kill never leaves
half a file.
"""

import json
import os

import keras

CONFIG, CLASSES, MODEL, SUMMARY = "config.json", "classes.json", "model.keras", "summary.json"
CHECKPOINTS, LOGS, EVALUATION, SAVED_MODEL = "checkpoints", "logs", "evaluation.json", "saved_model"


def write_json(path: str, value, indent=2) -> None:
    """Write `value` as JSON to `path` through a temporary file and a rename."""
    with open(path + ".tmp", "w") as handle:
        json.dump(value, handle, indent=indent)
    os.replace(path + ".tmp", path)


def read_json(path: str, default=None):
    """The JSON in `path`, or `default` when there is no such file."""
    if not os.path.exists(path):
        return default
    with open(path) as handle:
        return json.load(handle)


class RunDir:
    """Paths and records of one run directory (which need not exist yet).

    Args:
      root: the run directory.
    """

    def __init__(self, root: str):
        self.root = str(root)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def worker(self, index: int) -> "RunDir":
        """The directory of non-chief worker `index`."""
        return RunDir(self.path("workers", str(index)))

    def saved_step(self) -> int:
        """The optimizer step of the latest checkpoint (checkpoints are numbered
        by it), 0 without one; read before building anything."""
        latest = self.latest_checkpoint()
        return int(latest.rsplit("-", 1)[1]) if latest else 0

    def latest_checkpoint(self):
        # checkpoints.py writes its index with this module's write_json
        from vidzoo.training.checkpoints import latest_checkpoint

        return latest_checkpoint(self.path(CHECKPOINTS))

    def finished_summary(self, total_steps: int):
        """The saved summary if the last checkpoint is the run's final step, else None."""
        if self.saved_step() < total_steps:
            return None
        return read_json(self.path(SUMMARY))

    def saved_config(self):
        """The TrainConfig fields of an earlier start of this run, or None."""
        return read_json(self.path(CONFIG))

    def write_start(self, config: dict, class_names) -> None:
        """config.json and classes.json, written when a run starts."""
        os.makedirs(self.root, exist_ok=True)
        write_json(self.path(CONFIG), config)
        write_json(self.path(CLASSES), list(class_names))

    def write_end(self, model: keras.Model, summary: dict) -> None:
        """model.keras and summary.json, written when a run ends (summary last:
        its presence marks the run finished)."""
        model.save(self.path(MODEL))
        write_json(self.path(SUMMARY), summary)

    def load(self):
        """(model, config dict, class names) of a finished run."""
        paths = [self.path(name) for name in (MODEL, CONFIG, CLASSES)]
        missing = [path for path in paths if not os.path.exists(path)]
        if missing:
            raise ValueError(f"{self.root!r} is not a finished training run; missing "
                             f"{missing} (`vidzoo train` writes them).")
        return (keras.saving.load_model(paths[0]), read_json(paths[1]), read_json(paths[2]))


def load_run(run_dir: str):
    """(model, config dict, class names) of a finished `vidzoo train` run."""
    if not run_dir:
        raise ValueError(f"{run_dir!r} is not a finished training run: no directory given.")
    return RunDir(run_dir).load()
