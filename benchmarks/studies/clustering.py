"""Full-video clustering (seed 004, Table 1): TSM-ResNet-18 trained on 8, 16
or all 32 frames, against temporal clustering of all 32 frames into g = 8 or
16 clusters after res2 (cumulative, slope, and the uniform grouping of evenly
spread segments). One centre clip per video at test, as TSM tests.
"""

from benchmarks.studies.common import (format_mean_sd, markdown_table, mean_and_sd, merged, over_seeds,
                    peak_memory_per_video, pyplot, repeat_key, save_plot)
from benchmarks.studies import common

TITLE = '2. Full-video temporal clustering (seed 004, Table 1)'

VIDEO_FRAMES = 32
EPOCHS = 10
# key -> (method, frames sampled, stride, clusters)
RUNS = {
    "tsm_r18_8f": ("TSM", 8, 4, None),
    "tsm_r18_16f": ("TSM", 16, 2, None),
    "tsm_r18_all": ("TSM", 32, 1, None),
    "tsm_r18_uniform8": ("uniform", 32, 1, 8),
    "tsm_r18_slope8": ("slope", 32, 1, 8),
    "tsm_r18_cumulative8": ("cumulative", 32, 1, 8),
    "tsm_r18_uniform16": ("uniform", 32, 1, 16),
    "tsm_r18_slope16": ("slope", 32, 1, 16),
    "tsm_r18_cumulative16": ("cumulative", 32, 1, 16),
}


def _options(method, clusters):
    if clusters is None:
        return {}
    return {"temporal_clustering": {"num_clusters": clusters, "method": method}}


def run(bench, difficulty="easy"):
    """Results keyed by RUNS; on other than "easy" data the runs' cache keys
    start with the difficulty (training memory does not depend on the data)."""
    data = bench.data(VIDEO_FRAMES, difficulty)
    prefix = "" if difficulty == "easy" else f"{difficulty}_"

    def trained(key, frames, stride, options):
        return lambda r: bench.train_and_evaluate(
            repeat_key(prefix + key, r), "tsm_r18", data, frames=frames, stride=stride,
            epochs=EPOCHS, eval_clips=1, eval_crops=1, repeat=r, model_options=options)

    runs = {key: trained(key, frames, stride, _options(method, clusters))
            for key, (method, frames, stride, clusters) in RUNS.items()}
    results = over_seeds(bench, runs)
    for key, (method, frames, _, clusters) in RUNS.items():
        spec = {"model": "tsm_r18", "options": _options(method, clusters), "train": True,
                "input_shape": [frames, bench.settings.crop_size, bench.settings.crop_size, 3]}
        memory = bench.cached(f"{key}_memory", lambda spec=spec: {
            "train_mib_per_video": peak_memory_per_video(spec)})
        results[key] = merged(results[key], memory)
    return results


def _label(key):
    method, frames, _, clusters = RUNS[key]
    return method, "all (32)" if frames == VIDEO_FRAMES else str(frames), clusters or "-"


def report(results, figures, plot_name="clustering_accuracy_vs_gflops.png"):
    rows = []
    for key in RUNS:
        row = results[key]
        rows.append(list(_label(key)) + [
            f"{row['gflops_per_video']:.2f}", f"{row['train_mib_per_video']:.0f}",
            f"{row['video_top1']:.3f}", format_mean_sd(row), f"{row['train_seconds']:.0f}"])
    plot(results, f"{figures}/{plot_name}")
    return markdown_table(["model", "#frames", "#clusters", "GFLOPs/video:",
                           "train memory MiB/video:", "top-1, seed 0:",
                           "top-1, mean ± sd (seeds):", "train s:"], rows)


def plot(results, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    colours = {"TSM": "tab:gray", "uniform": "tab:orange", "slope": "tab:green",
               "cumulative": "tab:blue"}
    labelled = set()  # one legend entry per method
    for key in RUNS:
        method, frames, clusters = _label(key)
        row = results[key]
        top1 = 100 * mean_and_sd(row)[0]
        axis.scatter(row["gflops_per_video"], top1, color=colours[method],
                     label=None if method in labelled else method)
        labelled.add(method)
        axis.annotate(f"{frames}f" if method == "TSM" else f"g={clusters}",
                      (row["gflops_per_video"], top1), fontsize=7,
                      textcoords="offset points", xytext=(4, 3))
    axis.legend(fontsize=7)
    save_plot(figure, axis, path, "GFLOPs per video", "top-1 (%), mean over seeds",
              "TSM-R18: sub-sampling vs full-video clustering")


def section(results, figures):
    table = report(results, figures)
    best = best_run(results)
    lines = [
        table, "", "![accuracy vs GFLOPs](results/clustering_accuracy_vs_gflops.png)", "",
        *summary(results, best),
        "- GFLOPs reproduce the paper's ordering (stem and res2 see all frames, the rest "
        "g). Training memory per video falls less than in the paper (1.56 vs 3.15 GB at "
        "g = 8): at 56x56 the early, full-length stages hold most of the activations.",
        accuracy_prose(results, best),
        "- Memory is the marginal peak resident memory of a training step per video: "
        "(peak at batch 3 - peak at batch 1) / 2, each in a fresh process.",
    ]
    return "\n".join(lines)


def best_run(results):
    return max((k for k in RUNS if RUNS[k][3]),
               key=lambda k: common.mean_and_sd(results[k])[0])


def summary(results, best):
    top1 = common.format_mean_sd
    tsm8, tsm_all = results["tsm_r18_8f"], results["tsm_r18_all"]
    method, _, _, clusters = RUNS[best]
    return [
        f"- TSM on all 32 frames: top-1 {top1(tsm_all)} at "
        f"{tsm_all['gflops_per_video']:.2f} GFLOPs and {tsm_all['train_mib_per_video']:.0f} "
        f"MiB per video; on 8 sub-sampled frames {top1(tsm8)} at "
        f"{tsm8['gflops_per_video']:.2f} GFLOPs.",
        f"- Best clustering configuration: {method} into {clusters} clusters, top-1 "
        f"{top1(results[best])} at {results[best]['gflops_per_video']:.2f} GFLOPs "
        f"and {results[best]['train_mib_per_video']:.0f} MiB per video.",
    ]


def accuracy_prose(results, best):
    """Data-driven prose: does the paper's accuracy ordering hold, and how noisy."""
    mean = {key: common.mean_and_sd(row)[0] for key, row in results.items()}
    _, _, seeds = common.mean_and_sd(results["tsm_r18_all"])
    holds = mean["tsm_r18_all"] > mean[best] > max(mean["tsm_r18_8f"], mean["tsm_r18_16f"])
    spreads = {key: common.mean_and_sd(row)[1] for key, row in results.items()}
    runs = ("one run" if seeds == 1 else f"the mean of {seeds} runs (training seeds)")
    text = ("- Accuracy " + ("reproduces" if holds else "does not reproduce") +
            " the paper's ordering (all frames > clustering > sub-sampling): all frames "
            f"{mean['tsm_r18_all']:.3f}, best clustering {mean[best]:.3f}, 8 / 16 frames "
            f"{mean['tsm_r18_8f']:.3f} / {mean['tsm_r18_16f']:.3f}. Each figure is {runs} "
            "from scratch, 10 epochs, 48 validation videos (one video is 2.1 points); the "
            "paper fine-tunes ImageNet weights.")
    if seeds > 1:
        widest = max(spreads, key=lambda key: spreads[key])
        text += (f" Standard deviations over seeds reach {spreads[widest]:.3f} "
                 f"({widest}): from scratch at lr 0.01 some runs are unstable, so "
                 "differences within that say little about the methods.")
    return text
