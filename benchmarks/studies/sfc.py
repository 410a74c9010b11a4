"""SFC (seed 001, Tables 2-3): a frozen backbone with one pass of SFC over the
whole video against 30-view dense sampling (10 clips x 3 crops).

Videos are 64 frames long. The backbone (3D ResNet-18, 16-frame clips at
stride 2) is trained from scratch and frozen; SFC goes between its res3 and
res4 and sees all 64 frames at stride 1 in one pass, as the paper feeds the
whole video at full frame rate to a backbone trained on strided clips. Only
SFC is trained, on the same training videos (whole videos, random crops),
with `vidzoo train --sfc_split res3 --sfc_tau TAU --init_from BACKBONE_RUN`
(the library's recipe: SGD, warmup and cosine decay). With settings.seeds > 1,
SFC is trained that many times (seeds 0, 1, ...) in the same frozen backbone;
speed and memory are measured on the seed-0 run.
"""

import os

import keras
import tensorflow as tf

from benchmarks.studies.common import (format_mean_sd, markdown_table, mean_and_sd, merged, over_seeds,
                    peak_memory_per_video, pyplot, repeat_key, save_plot, time_calls)
from benchmarks.studies import common

TITLE = '3. SFC: single pass vs 30-view dense sampling (seed 001, Tables 2-3)'

VIDEO_FRAMES = 64
BACKBONE = "resnet3d_18"
SPLIT = "res3"
TAUS = {"4/3": 4 / 3, "2": 2.0, "4": 4.0}
SFC_EPOCHS = 4


def _videos_per_second(model, views, frames, crop):
    """Videos/s of one video's `views` clips in one batch (compiled predict)."""
    batch = tf.random.normal((views, frames, crop, crop, 3))
    return 1.0 / time_calls(lambda: model.predict_on_batch(batch), repeats=5)


def _dense(bench, data):
    """The frozen backbone alone: 30 views and a single centre view."""
    from vidzoo.training.evaluate import evaluate_run

    s = bench.settings
    run_dir = bench.path("runs", f"{BACKBONE}_long")
    model = keras.saving.load_model(bench.model_path(f"{BACKBONE}_long"))
    rows = {}
    for name, clips, crops in (("30 views (10x3)", 10, 3), ("1 view", 1, 1)):
        result = evaluate_run(run_dir, data["val"], clips, crops, s.batch_size,
                              output=os.path.join(run_dir, f"evaluation_{clips}x{crops}.json"))
        views = clips * crops
        spec = {"model": BACKBONE, "input_shape": [s.frames, s.crop_size, s.crop_size, 3],
                "train": False}
        rows[name] = {
            "video_top1": result["video_top1"], "gflops_per_video": result["gflops_per_video"],
            "videos_per_second": _videos_per_second(model, views, s.frames, s.crop_size),
            "parameters": model.count_params(),
            "inference_mib_per_video": views * peak_memory_per_video(spec, (views, 2 * views)),
        }
    return rows


def _key(label):
    return f"sfc_tau{label.replace('/', '_')}"


def _trained_sfc(bench, data, label, tau, repeat):
    """Train SFC alone in the frozen backbone (training seed `repeat`); top-1
    one pass per video."""
    return bench.train_and_evaluate(
        repeat_key(f"{_key(label)}_run", repeat), BACKBONE, data, frames=VIDEO_FRAMES,
        stride=1, epochs=SFC_EPOCHS, eval_clips=1, eval_crops=1, repeat=repeat,
        init_from=bench.model_path(f"{BACKBONE}_long"), sfc_split=SPLIT, sfc_tau=tau)


def _sfc_row(bench, label, tau, row):
    """The seed-0 SFC run's top-1, cost, speed and memory."""
    s = bench.settings
    model = keras.saving.load_model(bench.model_path(f"{_key(label)}_run"))
    spec = {"model": BACKBONE, "input_shape": [s.frames, s.crop_size, s.crop_size, 3],
            "train": False, "sfc": {"split": SPLIT, "tau": tau,
                                    "input_shape": [VIDEO_FRAMES, s.crop_size, s.crop_size, 3]}}
    return {
        "video_top1": row["video_top1"], "gflops_per_video": row["gflops_per_video"],
        "videos_per_second": _videos_per_second(model, 1, VIDEO_FRAMES, s.crop_size),
        "parameters": row["parameters"],
        "inference_mib_per_video": peak_memory_per_video(spec),
    }


def run(bench):
    data = bench.data(VIDEO_FRAMES)
    backbone = bench.train_and_evaluate(f"{BACKBONE}_long", BACKBONE, data)
    results = {"backbone": backbone}
    results["dense"] = bench.cached("sfc_dense", lambda: _dense(bench, data))
    trained = over_seeds(bench, {label: lambda r, label=label, tau=tau: _trained_sfc(
        bench, data, label, tau, r) for label, tau in TAUS.items()}, ("video_top1",))
    for label, tau in TAUS.items():
        row = bench.cached(_key(label), lambda label=label, tau=tau: _sfc_row(
            bench, label, tau, trained[label]))
        results[f"sfc_{label}"] = merged(row, {key: trained[label][key]
                                                for key in ("repeats", "seconds")})
    return results


def _rows(results):
    rows = [(name, row) for name, row in results["dense"].items() if isinstance(row, dict)]
    rows += [(f"SFC, tau = {label}, 64 frames x 1", results[f"sfc_{label}"]) for label in TAUS]
    return rows


def report(results, figures):
    dense = results["dense"]["30 views (10x3)"]
    lines = []
    for name, row in _rows(results):
        lines.append([name, f"{row['parameters'] / 1e6:.2f}M", format_mean_sd(row),
                      f"{row['gflops_per_video']:.2f}",
                      f"{row['gflops_per_video'] / dense['gflops_per_video']:.3f}",
                      f"{row['videos_per_second']:.2f}",
                      f"{row['videos_per_second'] / dense['videos_per_second']:.1f}x",
                      f"{row['inference_mib_per_video']:.0f}"])
    plot(results, f"{figures}/sfc_accuracy_vs_gflops.png")
    return markdown_table(["inference", "params:", "video top-1 (mean ± sd, seeds):",
                           "GFLOPs/video:", "GFLOPs vs 30 views:", "videos/s:", "speed-up:",
                           "peak MiB/video:"], lines)


def plot(results, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for name, row in _rows(results):
        colour = "tab:blue" if name.startswith("SFC") else "tab:gray"
        top1 = 100 * mean_and_sd(row)[0]
        axis.scatter(row["gflops_per_video"], top1, color=colour)
        axis.annotate(name.split(",")[1].strip() if name.startswith("SFC") else name,
                      (row["gflops_per_video"], top1), fontsize=7,
                      textcoords="offset points", xytext=(4, 3))
    axis.set_xscale("log")
    save_plot(figure, axis, path, "GFLOPs per video (log)", "video top-1 (%)",
              "Frozen 3D ResNet-18: SFC single pass vs dense views")


def section(results, figures):
    table = report(results, figures)
    dense = results["dense"]["30 views (10x3)"]
    two = results["sfc_2"]
    lines = [
        table, "", "![SFC vs dense views](results/sfc_accuracy_vs_gflops.png)", "",
        f"- SFC with tau = 2 in one pass over the 64-frame video: top-1 "
        f"{common.format_mean_sd(two)} vs {dense['video_top1']:.3f} for 30 views, at "
        f"{two['gflops_per_video'] / dense['gflops_per_video']:.3f}x the GFLOPs and "
        f"{two['videos_per_second'] / dense['videos_per_second']:.1f}x the videos/s "
        "(paper: 6x the throughput of 30 crops at equal accuracy).",
        "- The backbone is trained on 16-frame clips at stride 2 and frozen; SFC sees "
        "all 64 frames at stride 1, as the paper feeds whole videos to backbones trained "
        "on strided clips. GFLOPs count SFC's attention products as well as its convs. "
        "SFC's top-1 is the mean over its training seeds (in brackets) in the same frozen "
        "backbone, whose dense-view figures are deterministic; speed and memory are "
        "measured on the seed-0 run.",
        "- Memory is the marginal peak resident memory of inference per video "
        "(two batch sizes in fresh processes); videos/s time one video's views in one "
        "batch (30 clips for dense sampling).",
    ]
    return "\n".join(lines)
