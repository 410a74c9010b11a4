"""MTConv (seed 003, Table VI a): MTNet-S with channel ratio r in {1, 0.875, 0.75, 0.5}
(RATIOS). r = 1 keeps only the local branch, a standard 3D convolution in
the same backbone (the paper's reference point); X3D-S, whose blocks MTNet-S
replaces, is trained alongside. 8-frame clips at stride 4 keep MTNet's cost
(its GRUs and full 3x3x3 convs) within minutes per run on CPU.
"""

from common import (format_mean_sd, markdown_table, mean_and_sd, over_seeds, pyplot, repeat_key,
                    save_plot)

FRAMES, STRIDE, EPOCHS = 8, 4, 8
RATIOS = (1.0, 0.875, 0.75, 0.5)


def run(bench):
    data = bench.data(32)

    def trained(key, model, **options):
        def train_one(repeat):
            row = bench.train_and_evaluate(
                repeat_key(key, repeat), model, data, frames=FRAMES, stride=STRIDE,
                epochs=EPOCHS, eval_clips=1, repeat=repeat, **options)
            return bench.with_latency(row, data, repeat)

        return train_one

    runs = {"X3D-S": trained("x3d_s_8f", "x3d_s")}
    for ratio in RATIOS:
        runs[f"r={ratio:g}"] = trained(f"mtnet_s_r{ratio:g}", "mtnet_s",
                                       model_options={"ratio": ratio})
    return over_seeds(bench, runs)


def _name(label):
    if label == "X3D-S":
        return "X3D-S (channelwise 3x3x3 bottlenecks)"
    if label == "r=1":
        return "MTNet-S, r = 1 (local branch only: standard 3D conv)"
    return f"MTNet-S, r = {label[2:]}"


def report(results, figures):
    reference = results["r=1"]
    rows = []
    for label, row in results.items():
        rows.append([_name(label), f"{row['parameters'] / 1e6:.2f}M",
                     f"{100 * (row['parameters'] / reference['parameters'] - 1):+.0f}%",
                     f"{row['gflops_per_clip']:.3f}",
                     f"{100 * (row['gflops_per_clip'] / reference['gflops_per_clip'] - 1):+.0f}%",
                     f"{row['video_top1']:.3f}", format_mean_sd(row), f"{row['latency_ms']:.0f}",
                     f"{row['train_seconds']:.0f}"])
    plot(results, f"{figures}/mtconv_ratio.png")
    return markdown_table(["model", "params:", "params vs r=1:", "GFLOPs/clip:",
                           "GFLOPs vs r=1:", "top-1, seed 0:", "top-1, mean ± sd (seeds):",
                           "batch-1 latency ms:", "train s:"], rows)


def plot(results, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for label, row in results.items():
        colour = "tab:gray" if label == "X3D-S" else "tab:blue"
        top1 = 100 * mean_and_sd(row)[0]
        axis.scatter(row["gflops_per_clip"], top1, color=colour)
        axis.annotate(label, (row["gflops_per_clip"], top1), fontsize=7,
                      textcoords="offset points", xytext=(4, 3))
    save_plot(figure, axis, path, "GFLOPs per clip (8x56x56)", "top-1 (%), mean over seeds",
              "MTNet-S channel ratio r")
