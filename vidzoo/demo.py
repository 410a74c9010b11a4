"""`vidzoo demo`: the main job, end to end on the embedded dataset. An
application on top of the library (like `vidzoo.cli`), not part of it.

1. Writes the synthetic four-class dataset (H.264 files, `tf_data.synthetic`):
   a glyph moving up/down/left/right, with redundant chunks (black frames,
   still background, distractors), so clips differ in temporal redundancy.
2. Trains the ATFR authors' 3D ResNet-18 (no temporal downsampling, so SGS
   after res2 sees all B = T frames) and its ATFR variant. `protocol`
   "scratch" (the default) is the paper's: both from scratch with the same
   schedule (the released configs' warmup fraction, 34 of 196 epochs), the
   gradient that reaches SGS's Delta scaled by `similarity_gradient_scale`
   (the released code's GRAD_SCALE_VAL). "finetune" is a second, labelled
   protocol: the ATFR model initialized from the trained baseline and
   fine-tuned at `finetune_lr`. Both with `train.train` (SGD, cosine
   schedule, checkpoints, TensorBoard logs), deterministically;
   docs/atfr_demo_study.md has why these settings.
3. Evaluates both with multi-view testing (`evaluate.evaluate_run`), then
   times their batch-1 forward passes side by side on the same clips
   (interleaved rounds, so machine load hits both alike).
4. Prints the comparison table, writes `accuracy_vs_gflops.png` and
   `demo_results.json`, and exports the ATFR model as a SavedModel.

Everything lands in `workdir`; rerunning with the same workdir reuses the
dataset and resumes (or skips) finished training.
"""

import functools
import os
import time

import numpy as np

from vidzoo.benchmarking import interleaved_median_ms
from vidzoo.tf_data.synthetic import FLIP_KEEPS_CLASS, make_dataset
from vidzoo.training import data as datasets
from vidzoo.training.evaluate import evaluate_run
from vidzoo.training.export import export_run
from vidzoo.training.run_dir import load_run, write_json
from vidzoo.training.train import TrainConfig, single_inter_op_thread, train
from vidzoo.zoo.accounting import inference_model


def comparison_table(rows):
    """Markdown table of the demo's models."""
    lines = ["| model | params | video top-1 | clip top-1 | mean GFLOPs/clip | mean B' | "
             "batch-1 ms | train s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        bins = row["mean_active_bins"]
        bins = "-" if bins is None else f"{bins:.2f} of {row['bins']}"
        lines.append(
            f"| {row['model']} | {row['parameters'] / 1e6:.1f}M | {row['video_top1']:.3f} | "
            f"{row['clip_top1']:.3f} | {row['gflops_per_clip']:.3f} | "
            f"{bins} | "
            f"{row['batch1_ms']:.1f} | {row['train_seconds']:.0f} |")
    baseline, atfr = rows[0], rows[-1]
    lines.append(
        f"\nATFR / baseline: {atfr['gflops_per_clip'] / baseline['gflops_per_clip']:.2f}x "
        f"GFLOPs per clip, {atfr['batch1_ms'] / baseline['batch1_ms']:.2f}x batch-1 latency, "
        f"{round((atfr['video_top1'] - baseline['video_top1']) * baseline['videos']):+d} "
        f"of {baseline['videos']} validation videos")
    return "\n".join(lines)


def plot_accuracy_vs_gflops(rows, path):
    """Scatter of video top-1 against mean GFLOPs per clip."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(5, 3.5))
    for row in rows:
        axis.scatter(row["gflops_per_clip"], row["video_top1"] * 100, s=40)
        axis.annotate(row["model"], (row["gflops_per_clip"], row["video_top1"] * 100),
                      textcoords="offset points", xytext=(5, 5), fontsize=8)
    axis.set_xlabel("mean GFLOPs per clip (multiply-adds)")
    axis.set_ylabel("video top-1 (%)")
    axis.set_title("vidzoo demo: accuracy vs compute")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def _row(name, summary, evaluation):
    sgs = evaluation["adaptive"].get("sgs")
    return {
        "model": name,
        "parameters": summary["parameters"],
        "video_top1": evaluation["video_top1"],
        "clip_top1": evaluation["clip_top1"],
        "mean_class_accuracy": evaluation["mean_class_accuracy"],
        "gflops_per_clip": evaluation["gflops_per_clip"],
        "mean_active_bins": sgs["mean"] if sgs else None,
        "bins": sgs["frames_in"] if sgs else None,
        "videos": evaluation["videos"],
        "train_seconds": summary["train_seconds"],
    }


def validation_clips(run_dir, data_path, count):
    """Up to `count` validation clips (two per video, centre crops), as the run sees them."""
    _, config, classes = load_run(run_dir)
    source = datasets.load_source(data_path, classes, what="evaluate")
    clip_config = datasets.clip_config(
        config["frames"], config["stride"], config["crop_size"], num_clips=2,
        normalization=datasets.run_normalization(config.get("init_from")))
    clips = [batch["video"].numpy() for batch in datasets.dataset(source, "eval", 8, clip_config)]
    return np.concatenate(clips)[:count]


def side_by_side_latency(run_dirs, clips, rounds=5):
    """Median batch-1 forward milliseconds per clip of each run, timed in
    interleaved rounds (each round runs every model over all `clips`, one
    clip per `predict_on_batch`, after an untimed warm-up pass)."""
    runners = [inference_model(load_run(run_dir)[0]) for run_dir in run_dirs]
    for runner in runners:
        for clip in clips[:2]:
            runner.predict_on_batch(clip[None])

    def all_clips(runner):
        for clip in clips:
            runner.predict_on_batch(clip[None])

    milliseconds = interleaved_median_ms(
        {index: functools.partial(all_clips, runner) for index, runner in enumerate(runners)},
        rounds, repeats=1, warmup=0)
    return [milliseconds[index] / len(clips) for index in range(len(runners))]


PROTOCOLS = ("scratch", "finetune")
# The released Mini-Kinetics / Kinetics configs warm up 34 of 196 epochs.
WARMUP_FRACTION = 34 / 196


def training_plans(model, protocol, epochs, finetune_epochs, lr, finetune_lr,
                   similarity_gradient_scale, baseline_dir):
    """[(run name, TrainConfig settings)] of the baseline and its ATFR variant."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"demo: protocol must be one of {PROTOCOLS}; got {protocol!r}.")
    baseline = dict(epochs=epochs, lr=lr, warmup_epochs=round(WARMUP_FRACTION * epochs, 2))
    atfr = dict(baseline, model_options={
        "sgs": {"similarity_gradient_scale": similarity_gradient_scale}})
    if protocol == "finetune":
        atfr.update(epochs=finetune_epochs, lr=finetune_lr, init_from=baseline_dir)
        del atfr["warmup_epochs"]  # TrainConfig's default warmup, as the fine-tuning had
    return [(model, baseline), (f"{model}_atfr", atfr)]


def run_demo(workdir, model="sgs_resnet3d_18", protocol="scratch", epochs=15,
             finetune_epochs=12, frames=16, crop_size=56, train_per_class=48, val_per_class=6,
             num_clips=3, num_crops=3, batch_size=8, lr=0.003, finetune_lr=0.0003,
             similarity_gradient_scale=0.1, latency_rounds=5, seed=0, verbose=2):
    """Run the demo in `workdir`; returns {"rows": [...], "table": str, ...}."""
    settings = {name: value for name, value in locals().items() if name != "workdir"}
    single_inter_op_thread()  # before any TF op: the trainings repeat bit for bit
    start = time.perf_counter()
    baseline_dir = os.path.join(workdir, "runs", model)
    plans = training_plans(model, protocol, epochs, finetune_epochs, lr, finetune_lr,
                           similarity_gradient_scale, baseline_dir)
    data = make_dataset(os.path.join(workdir, "data"), train_per_class, val_per_class,
                        frames=32, size=64, seed=seed)
    rows, run_dirs = [], []
    for name, plan in plans:
        run_dir = os.path.join(workdir, "runs", name)
        config = TrainConfig(model=name, train=data["train"], val=data["val"], run_dir=run_dir,
                             frames=frames, crop_size=crop_size, batch_size=batch_size,
                             seed=seed, deterministic=True, verbose=verbose,
                             flip=FLIP_KEEPS_CLASS, **plan)
        summary = train(config)
        evaluation = evaluate_run(run_dir, data["val"], num_clips, num_crops, batch_size,
                                  one_clip_per_pass=True)
        rows.append(_row(name, summary, evaluation))
        run_dirs.append(run_dir)
    clips = validation_clips(baseline_dir, data["val"], count=48)
    for row, ms in zip(rows, side_by_side_latency(run_dirs, clips, latency_rounds)):
        row["batch1_ms"] = ms
    export_dir = export_run(run_dirs[-1], os.path.join(workdir, "export", f"{model}_atfr"))
    plot = os.path.join(workdir, "accuracy_vs_gflops.png")
    plot_accuracy_vs_gflops(rows, plot)
    result = {"rows": rows, "table": comparison_table(rows), "plot": plot,
              "saved_model": export_dir, "tensorboard": os.path.join(workdir, "runs"),
              "seconds": round(time.perf_counter() - start, 1),
              "settings": settings}
    write_json(os.path.join(workdir, "demo_results.json"), result)
    return result
