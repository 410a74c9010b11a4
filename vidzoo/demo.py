"""`vidzoo demo`: the main job, end to end on the embedded dataset. An
application on top of the library (like `vidzoo.cli`), not part of it.

1. Writes the synthetic four-class dataset (H.264 files, `tf_data.synthetic`):
   a glyph moving up/down/left/right, with redundant chunks (black frames,
   still background, distractors), so clips differ in temporal redundancy.
2. Trains a baseline backbone from scratch, then its ATFR variant (SGS after
   res2) initialized from the trained baseline and fine-tuned for as many
   epochs, as the ATFR paper plugs SGS into trained 3D CNNs. Both with
   `train.train` (SGD, cosine schedule, checkpoints, TensorBoard logs).
3. Evaluates both with multi-view testing (`evaluate.evaluate_run`), one clip
   per forward pass for both, so clips/s compare batch-1 inference.
4. Prints the comparison table, writes `accuracy_vs_gflops.png` and
   `demo_results.json`, and exports the ATFR model as a SavedModel.

Everything lands in `workdir`; rerunning with the same workdir reuses the
dataset and resumes (or skips) finished training.
"""

import os
import time

from vidzoo.tf_data.synthetic import FLIP_KEEPS_CLASS, make_dataset
from vidzoo.training.evaluate import evaluate_run
from vidzoo.training.export import export_run
from vidzoo.training.run_dir import write_json
from vidzoo.training.train import TrainConfig, train


def comparison_table(rows):
    """Markdown table of the demo's models."""
    lines = ["| model | params | video top-1 | clip top-1 | mean GFLOPs/clip | mean B' | "
             "clips/s | train s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        bins = row["mean_active_bins"]
        bins = "-" if bins is None else f"{bins:.2f} of {row['bins']}"
        lines.append(
            f"| {row['model']} | {row['parameters'] / 1e6:.1f}M | {row['video_top1']:.3f} | "
            f"{row['clip_top1']:.3f} | {row['gflops_per_clip']:.3f} | "
            f"{bins} | "
            f"{row['clips_per_second']:.1f} | {row['train_seconds']:.0f} |")
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
        "clips_per_second": evaluation["clips_per_second"],
        "train_seconds": summary["train_seconds"],
    }


def run_demo(workdir, model="resnet3d_18", epochs=15, frames=16, crop_size=56,
             train_per_class=24, val_per_class=6, num_clips=3, num_crops=3, batch_size=8,
             lr=0.01, seed=0, verbose=2):
    """Run the demo in `workdir`; returns {"rows": [...], "table": str, ...}."""
    start = time.perf_counter()
    data = make_dataset(os.path.join(workdir, "data"), train_per_class, val_per_class,
                        frames=32, size=64, seed=seed)
    rows = []
    baseline_dir = os.path.join(workdir, "runs", model)
    for name in (model, f"{model}_atfr"):
        run_dir = os.path.join(workdir, "runs", name)
        config = TrainConfig(model=name, train=data["train"], val=data["val"], run_dir=run_dir,
                             epochs=epochs, frames=frames, crop_size=crop_size, lr=lr,
                             batch_size=batch_size, seed=seed, deterministic=True,
                             verbose=verbose,
                             flip=FLIP_KEEPS_CLASS,
                             init_from=None if name == model else baseline_dir)
        summary = train(config)
        evaluation = evaluate_run(run_dir, data["val"], num_clips, num_crops, batch_size,
                                  one_clip_per_pass=True)
        rows.append(_row(name, summary, evaluation))
    export_dir = export_run(os.path.join(workdir, "runs", f"{model}_atfr"),
                            os.path.join(workdir, "export", f"{model}_atfr"))
    plot = os.path.join(workdir, "accuracy_vs_gflops.png")
    plot_accuracy_vs_gflops(rows, plot)
    result = {"rows": rows, "table": comparison_table(rows), "plot": plot,
              "saved_model": export_dir, "tensorboard": os.path.join(workdir, "runs"),
              "seconds": round(time.perf_counter() - start, 1),
              "settings": dict(model=model, epochs=epochs, frames=frames, crop_size=crop_size,
                               train_per_class=train_per_class, val_per_class=val_per_class,
                               num_clips=num_clips, num_crops=num_crops, lr=lr, seed=seed)}
    write_json(os.path.join(workdir, "demo_results.json"), result)
    return result

