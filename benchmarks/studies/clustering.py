"""Full-video clustering (seed 004, Table 1): TSM-ResNet-18 trained on 8, 16
or all 32 frames, against temporal clustering of all 32 frames into g = 8 or
16 clusters after res2 (cumulative, slope, and the uniform grouping of evenly
spread segments). One centre clip per video at test, as TSM tests.
"""

from common import (format_mean_sd, markdown_table, mean_and_sd, merged, over_seeds,
                    peak_memory_per_video, pyplot, repeat_key, save_plot)

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
