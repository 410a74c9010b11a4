"""Shared machinery of the paper-reproduction studies (`benchmarks/reproduce.py`).

Every study trains with `vidzoo.training.train` and evaluates with
`vidzoo.training.evaluate`, on the embedded synthetic dataset, at a small
scale. Results are cached as JSON under `workdir/results/`, and training runs
resume from their checkpoints, so an interrupted reproduction picks up where
it stopped. Timed measurements go through `Bench.timed`: with `defer_timing`
they are skipped, so training can share the cores with other work and the
timings run later, alone (`reproduce.py --defer_timing`).

A study takes longer than one machine lives, so `store` (reproduce.py's
`--store`, committed under docs/results/data/cache/) keeps every untimed
result across machines: a new work directory starts from it. Trained models
are not stored (tens of MB each); training is deterministic, so a step that
needs a stored run's model (a later fine-tuning, a latency) retrains it and
checks that the retrained run gives the stored top-1. Timed results stay in
the work directory: timings compare only within one machine.
"""

import dataclasses
import json
import os
import shutil
import time

import numpy as np

from benchmarks import machine as machine_info
from benchmarks.fresh_process import ROOT, run_json  # noqa: F401 (ROOT: speed.py)
from vidzoo.benchmarking import median_seconds as time_calls  # noqa: F401 (the studies' name)
from vidzoo.tf_data.synthetic import FLIP_KEEPS_CLASS, make_dataset
from vidzoo.training.run_dir import CHECKPOINTS, MODEL, RunDir, load_run, read_json, write_json


@dataclasses.dataclass
class Settings:
    """The scale every study runs at (the defaults are what docs/results.md reports)."""

    train_per_class: int = 48
    val_per_class: int = 50  # 200 videos: one video is 0.5 points of top-1
    frames: int = 16  # clip length of the 3D CNNs
    stride: int = 2
    crop_size: int = 56
    batch_size: int = 8
    epochs: int = 15  # from-scratch training
    finetune_epochs: int = 8  # SGS / SFC added to a trained model
    lr: float = 0.01
    flip: bool = FLIP_KEEPS_CLASS  # False: a mirrored move_left is a move_right
    eval_clips: int = 3
    eval_crops: int = 1
    seed: int = 0  # the dataset's and the first training run's seed
    seeds: int = 3  # training runs per configuration in the studies that repeat them


class Bench:
    """Datasets, cached training runs and measurements under one `workdir`."""

    def __init__(self, workdir, settings=None, verbose=0, defer_timing=False, store=None):
        self.workdir = os.path.abspath(workdir)
        self.settings = settings or Settings()
        self.verbose = verbose
        self.defer_timing = defer_timing
        self.deferred = []  # keys of the timed measurements skipped so far
        self.store = _checked_store(store, self.settings)
        self._retrain = {}  # key: how to train its run again (train_and_evaluate's)
        os.makedirs(self.path("results"), exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    def data(self, video_frames=32, difficulty="easy"):
        """The synthetic dataset with videos of `video_frames` frames at 64x64
        (`difficulty`: a preset of `vidzoo.tf_data.synthetic.DIFFICULTIES`)."""
        s = self.settings
        folder = f"data{video_frames}" + ("" if difficulty == "easy" else f"_{difficulty}")
        defaults = Settings()
        if (s.train_per_class, s.val_per_class) != (defaults.train_per_class,
                                                     defaults.val_per_class):
            # Other counts get their own folder: make_dataset would rewrite a shared one.
            folder += f"_train{s.train_per_class}_val{s.val_per_class}"
        return make_dataset(self.path(folder), s.train_per_class, s.val_per_class,
                            frames=video_frames, size=64, seed=s.seed, difficulty=difficulty)

    def cached(self, key, compute, stored=True):
        """`compute()`'s JSON result, stored as results/<key>.json and reused;
        also kept in (and taken from) `store` when `stored`."""
        saved = self._saved(key, stored)
        if saved is not None:
            return saved
        return self._computed(key, compute, stored)

    def _saved(self, key, stored):
        """The cached result of `key`: the work directory's, else (when
        `stored`) the store's, copied into the work directory; or None."""
        saved = read_json(self.path("results", f"{key}.json"))
        if saved is None and stored and self.store:
            saved = read_json(self._store_path(key))
            if saved is not None:
                write_json(self.path("results", f"{key}.json"), saved)
        return saved

    def _computed(self, key, compute, stored):
        start = time.perf_counter()
        value = compute()
        value["seconds"] = round(time.perf_counter() - start, 1)
        self._write_result(key, value, stored)
        print(f"[{time.strftime('%H:%M:%S')}] {key}: {value['seconds']} s", flush=True)
        return value

    def _write_result(self, key, value, stored):
        write_json(self.path("results", f"{key}.json"), value)
        if stored and self.store:
            write_json(self._store_path(key), value, indent=1)

    def _store_path(self, key):
        return os.path.join(self.store, f"{key}.json")

    def timed(self, key, compute):
        """`cached(key, compute)` for a measurement that needs a quiet machine
        (latency, throughput), kept in the work directory only; with
        `defer_timing`, an uncached one is skipped (recorded in `deferred`)
        and comes back as {}."""
        saved = self._saved(key, stored=False)
        if saved is not None:
            return saved
        if self.defer_timing:
            if key not in self.deferred:
                self.deferred.append(key)
            return {}
        return self._computed(key, compute, stored=False)

    def train_and_evaluate(self, key, model, data, *, frames=None, stride=None, epochs=None,
                           eval_clips=None, eval_crops=None, repeat=0, **train_options):
        """Train `model` (a registry name) on `data` and evaluate it multi-view,
        one clip per pass; returns a row of the figures the studies report.
        `repeat` i > 0 trains with seed settings.seed + i (same data).
        Training is deterministic unless train_options say otherwise, so a
        seed names one run."""
        from vidzoo.training.evaluate import evaluate_run
        from vidzoo.training.train import TrainConfig, train

        s = self.settings
        run_dir = self.path("runs", key)

        def compute():
            self._ensure_model_file(train_options.get("init_from"))
            settings = dict(
                model=model, train=data["train"], val=data["val"], run_dir=run_dir,
                epochs=epochs or s.epochs, batch_size=s.batch_size, lr=s.lr,
                frames=frames or s.frames, stride=stride or s.stride, crop_size=s.crop_size,
                flip=s.flip, seed=s.seed + repeat, verbose=self.verbose, deterministic=True)
            config = TrainConfig(**dict(settings, **train_options))
            summary = train(config)
            evaluation = evaluate_run(run_dir, data["val"], eval_clips or s.eval_clips,
                                      eval_crops or s.eval_crops, s.batch_size,
                                      one_clip_per_pass=True)
            # Keep model.keras (later studies start from it); drop the checkpoints.
            shutil.rmtree(RunDir(run_dir).path(CHECKPOINTS), ignore_errors=True)
            return row_of(key, summary, evaluation)

        self._retrain[key] = compute
        return self.cached(key, compute)

    def with_latency(self, row, data, repeat=0):
        """`row` with `latency_ms` measured on its saved run (cached as
        <key>_latency): batch-1 forward passes over the centre clip of every
        validation video, each input shape traced once before the timing. The
        tables report seed 0's latency, so later seeds' rows come back as is."""
        from vidzoo.training.evaluate import evaluate

        if repeat > 0:
            return row

        def measure():
            model, config, source = self.saved_run(row["key"], data)
            result = evaluate(model, source, config["frames"], config["stride"],
                              config["crop_size"], 1, 1, one_clip_per_pass=True)
            return {"latency_ms": 1000.0 / result["clips_per_second"],
                    "latency_clips": result["clips"]}

        return merged(row, self.timed(f"{row['key']}_latency", measure))

    def saved_run(self, key, data):
        """(model, config dict, validation Source) of the finished run `key`."""
        from vidzoo.training.data import load_source

        model, config, classes = load_run(self.run_dir(key))
        return model, config, load_source(data["val"], classes)

    def model_path(self, key):
        """Where run `key` saves its model (it need not exist yet)."""
        return RunDir(self.path("runs", key)).path(MODEL)

    def run_dir(self, key):
        """The folder of run `key` with its trained model, which is retrained
        first when its result came from `store` without it."""
        if not os.path.exists(self.model_path(key)):
            self._retrain_run(key)
        return self.path("runs", key)

    def trained_model_path(self, key):
        """`model_path(key)`, retrained first if missing (`run_dir`)."""
        self.run_dir(key)
        return self.model_path(key)

    def _ensure_model_file(self, path):
        for key in list(self._retrain):
            if path is not None and self.model_path(key) == path:
                self.run_dir(key)

    def _retrain_run(self, key):
        """Train run `key` again (deterministic: the stored run's model) and
        check its top-1 against the stored result; a mismatch (training that
        is not deterministic across machines) is reported and the retrained
        run's result replaces the stored one, so every figure of it comes
        from one model."""
        if key not in self._retrain:
            raise FileNotFoundError(
                f"run {key!r} has no model in {self.path('runs', key)} and this process "
                "has not trained it (train_and_evaluate registers how to)")
        print(f"[{time.strftime('%H:%M:%S')}] {key}: retraining its model", flush=True)
        stored = read_json(self.path("results", f"{key}.json"))
        start = time.perf_counter()
        row = self._retrain[key]()
        row["seconds"] = round(time.perf_counter() - start, 1)
        if stored is not None and stored.get("video_top1") != row["video_top1"]:
            print(f"WARNING: retrained {key} gives video top-1 {row['video_top1']}, the "
                  f"stored run {stored.get('video_top1')}; keeping the retrained run",
                  flush=True)
            self._write_result(key, row, stored=True)


def _checked_store(store, settings):
    """The store folder (created), which holds results at the default
    Settings only: its keys do not name the settings (seeds aside)."""
    if store is None:
        return None
    if dataclasses.replace(settings, seeds=Settings.seeds) != Settings():
        raise ValueError(f"a store holds results at the default Settings only; got {settings}")
    os.makedirs(store, exist_ok=True)
    return os.path.abspath(store)


def repeat_key(key, repeat):
    """The cache key of training repeat `repeat` (0 keeps the plain key)."""
    return key if repeat == 0 else f"{key}_seed{repeat}"


def with_repeats(rows, fields=("video_top1", "batched_video_top1", "gflops_per_clip")):
    """rows[0] (the first seed's run, which the tables show in full) with
    `repeats`: each run's `fields`; compute seconds of all runs add up."""
    repeats = [{field: row[field] for field in fields if field in row} for row in rows]
    result = dict(rows[0], repeats=repeats)
    result["seconds"] = sum(row.get("seconds", 0.0) for row in rows)
    return result


def over_seeds(bench, runs, fields=("video_top1", "batched_video_top1", "gflops_per_clip"),
               seeds=None):
    """{key: with_repeats of runs[key](repeat) over `seeds` (default
    settings.seeds) training seeds}.

    Seed-major: every configuration's seed-0 run comes first, then seed 1, and
    so on, so an interrupted reproduction has complete earlier seeds; a
    configuration may use another's run of the same seed (runs are cached)."""
    rows = {key: [] for key in runs}
    for repeat in range(seeds or bench.settings.seeds):
        for key, train_one in runs.items():
            rows[key].append(train_one(repeat))
    return {key: with_repeats(key_rows, fields) for key, key_rows in rows.items()}


def repeat_values(row, field="video_top1"):
    """`field` of each training repeat of a row (the row itself without repeats)."""
    return [run[field] for run in row.get("repeats", [row]) if field in run]


def mean_and_sd(row, field="video_top1"):
    """(mean, sample sd or None, n) of `field` over a row's training repeats."""
    values = repeat_values(row, field)
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return float(np.mean(values)), sd, len(values)


def format_mean_sd(row, field="video_top1"):
    mean, sd, n = mean_and_sd(row, field)
    return f"{mean:.3f}" if sd is None else f"{mean:.3f} ± {sd:.3f} ({n})"


def merged(row, extra):
    """`row` with the figures of a follow-up measurement; their compute seconds add up."""
    result = dict(row, **extra)
    result["seconds"] = row.get("seconds", 0.0) + extra.get("seconds", 0.0)
    return result


def row_of(key, summary, evaluation):
    """The figures a study table needs from a training summary and its evaluation."""
    adaptive = evaluation["adaptive"]
    return {
        "key": key,
        "model": summary["model"],
        "parameters": summary["parameters"],
        "train_seconds": summary["train_seconds"],
        "final_train_top1": summary["final"].get("top1"),
        "video_top1": evaluation["video_top1"],
        "clip_top1": evaluation["clip_top1"],
        "videos": evaluation["videos"],
        "views_per_video": evaluation["views_per_video"],
        "gflops_per_clip": evaluation["gflops_per_clip"],
        "gflops_per_video": evaluation["gflops_per_video"],
        "adaptive": adaptive,
        "bad_videos": evaluation["bad_videos"],
    }


def peak_memory_per_video(spec, batches=(1, 3)):
    """Marginal peak resident memory (MiB) per video of one training step or
    forward pass, (peak(b2) - peak(b1)) / (b2 - b1) over fresh processes
    (`probe_memory`), which cancels the fixed cost of TensorFlow, the weights
    and the traced graph."""
    low, high = (probe_memory(spec, batch)["peak_mib"] for batch in batches)
    return (high - low) / (batches[1] - batches[0])


def probe_memory(spec, batch):
    """`memory_probe`'s {"peak_mib", "tf_peak_mib"} of one step at `batch`, in
    a fresh process.

    The allocator's peak counts exactly the tensors TF holds; the resident
    peak also counts what the C allocator keeps. The probe runs TF's ops one
    at a time (one inter-op thread) and glibc's malloc gets a fixed mmap
    threshold (its default moves up after large frees and keeps freed
    activations in the heap): without them, two runs of one 32x224² probe
    gave 726 and 1070 MiB per video."""
    return run_json("benchmarks.studies.memory_probe", json.dumps(spec), batch,
                    env={"MALLOC_MMAP_THRESHOLD_": "131072", "TF_NUM_INTEROP_THREADS": "1"})


def machine():
    """A one-line description of the machine the figures were measured on."""
    return machine_info.describe()


def percent(value):
    """A fraction as a percentage with one decimal: 0.1234 -> '12.3%'."""
    return f"{100 * value:.1f}%"


def markdown_table(header, rows):
    """A markdown table; `header` cells ending in ':' are right-aligned."""
    names = [cell.rstrip(":") for cell in header]
    aligns = ["---:" if cell.endswith(":") else "---" for cell in header]
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def save_plot(figure, axis, path, xlabel, ylabel, title):
    """Label, grid and write a study's figure, then close it."""
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot().close(figure)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt
