"""ATFR (seed 000): backbones with and without Similarity Guided Sampling.

Baselines are trained from scratch; SGS variants are initialized from their
trained baseline and fine-tuned (the paper plugs SGS into 3D CNNs; trained
from scratch on this small dataset they were fragile). Ablations on the
3D ResNet-18-like model: sampling kernel (Table 2), embedding dimension L
(Table 3), similarity measure (Table 1's magnitude vs our distance-to-mean
option) and placement (Table 6). With settings.seeds > 1
every configuration is trained that many times (training seeds 0, 1, ...,
same data; each SGS run starts from the baseline of its seed), and the tables
add the mean and standard deviation of top-1.
"""

from common import format_mean_sd, markdown_table, merged, over_seeds, pyplot, repeat_key

BACKBONES = {"3D ResNet-18": "resnet3d_18", "X3D-S": "x3d_s"}

# (backbone, key suffix, what it ablates, SGS options on top of the defaults);
# the "sgs" rows are the fine-tuned defaults of the main table.
ABLATIONS = [
    ("resnet3d_18", "sgs", "default: linear kernel, L=8, magnitude, after res2", {}),
    ("resnet3d_18", "sgs_kronecker", "Kronecker kernel (Table 2)", {"kernel": "kronecker"}),
    ("resnet3d_18", "sgs_l1", "L=1 (Table 3)", {"embedding_dim": 1}),
    ("resnet3d_18", "sgs_l4", "L=4 (Table 3)", {"embedding_dim": 4}),
    ("resnet3d_18", "sgs_l16", "L=16 (Table 3)", {"embedding_dim": 16}),
    ("resnet3d_18", "sgs_distance", "distance-to-mean similarity (Table 1: magnitude)",
     {"similarity": "distance_to_mean"}),
    ("x3d_s", "sgs_after_stem", "after the stem (Table 6)", {"after": "stem"}),
    ("x3d_s", "sgs", "after res2, the default (Table 6)", {}),
    ("x3d_s", "sgs_after_res3", "after res3 (Table 6)", {"after": "res3"}),
]


def batched_top1(bench, data, key):
    """Video top-1 with the main column's views (settings.eval_clips x
    eval_crops) evaluated 8 clips to a batch, where SGS pads each clip to the
    batch's largest B'. The zoo's layers after SGS ignore padded frames, so this
    should equal the one-clip-per-pass top-1: a check kept in the table."""
    from vidzoo.training.evaluate import evaluate

    s = bench.settings
    model, config, source = bench.saved_run(key, data)
    result = evaluate(model, source, config["frames"], config["stride"], config["crop_size"],
                      s.eval_clips, s.eval_crops, s.batch_size, one_clip_per_pass=False)
    return {"batched_video_top1": result["video_top1"]}


def _with_batched(bench, data, row):
    extra = bench.cached(f"{row['key']}_batched", lambda: batched_top1(bench, data, row["key"]))
    return merged(row, extra)


def _baseline(bench, data, model, repeat):
    row = bench.train_and_evaluate(repeat_key(model, repeat), model, data, repeat=repeat)
    return bench.with_latency(row, data, repeat)


def _fine_tuned(bench, data, model, suffix, options, repeat):
    """SGS added to the trained baseline of the same seed and fine-tuned."""
    key = repeat_key(f"{model}_{suffix}", repeat)
    row = bench.train_and_evaluate(
        key, f"{model}_atfr", data, epochs=bench.settings.finetune_epochs,
        init_from=bench.model_path(repeat_key(model, repeat)), repeat=repeat,
        model_options={"sgs": dict(options)} if options else {})
    row = _with_batched(bench, data, row)
    return bench.with_latency(row, data, repeat)


def run(bench):
    data = bench.data(32)
    runs = {}
    for model in BACKBONES.values():
        runs[model] = lambda r, model=model: _baseline(bench, data, model, r)
    for model, suffix, _, options in ABLATIONS:
        runs[f"{model}_{suffix}"] = lambda r, model=model, suffix=suffix, options=options: (
            _fine_tuned(bench, data, model, suffix, options, r))
    rows = over_seeds(bench, runs)
    results = {label: {"baseline": rows[model], "sgs": rows[f"{model}_sgs"]}
               for label, model in BACKBONES.items()}
    results["ablations"] = {f"{model}_{suffix}": rows[f"{model}_{suffix}"]
                            for model, suffix, _, _ in ABLATIONS}
    return results


def _bins(row):
    sgs = row["adaptive"].get("sgs")
    return (sgs["mean"], sgs["frames_in"], sgs["histogram"]) if sgs else (None, None, None)


def _batched(row):
    return f"{row['batched_video_top1']:.3f}" if "batched_video_top1" in row else "-"


def _main_rows(results):
    rows = []
    for label in BACKBONES:
        for variant, name in (("baseline", label), ("sgs", f"{label} + SGS (fine-tuned)")):
            row = results[label][variant]
            mean, frames_in, _ = _bins(row)
            base = results[label]["baseline"]["gflops_per_clip"]
            rows.append([name, f"{row['parameters'] / 1e6:.2f}M", f"{row['video_top1']:.3f}",
                         format_mean_sd(row), _batched(row), f"{row['gflops_per_clip']:.3f}",
                         f"{100 * (1 - row['gflops_per_clip'] / base):.1f}%",
                         "-" if mean is None else f"{mean:.2f} of {frames_in}",
                         f"{row['latency_ms']:.1f}"])
    return rows


def _ablation_rows(results):
    rows = []
    for model, suffix, what, _ in ABLATIONS:
        row = results["ablations"][f"{model}_{suffix}"]
        mean, frames_in, _ = _bins(row)
        label = "3D ResNet-18" if model == "resnet3d_18" else "X3D-S"
        rows.append([label, what, f"{row['video_top1']:.3f}", format_mean_sd(row), _batched(row),
                     f"{row['gflops_per_clip']:.3f}", f"{mean:.2f} of {frames_in}",
                     f"{row['latency_ms']:.1f}"])
    return rows


def plot_histograms(results, path):
    """The paper's Fig. 3: how many clips end with each B'."""
    plt = pyplot()
    labels = [label for label in BACKBONES if _bins(results[label]["sgs"])[0] is not None]
    figure, axes = plt.subplots(1, len(labels), figsize=(4.5 * len(labels), 3.2), squeeze=False)
    for axis, label in zip(axes[0], labels):
        mean, frames_in, histogram = _bins(results[label]["sgs"])
        values = [int(k) for k in histogram]
        axis.bar(values, [histogram[str(v)] for v in values], color="tab:blue")
        axis.set_xlim(0.5, frames_in + 0.5)
        axis.set_xlabel(f"active bins B' (of B = {frames_in})")
        axis.set_ylabel("validation clips")
        axis.set_title(f"{label} + SGS: mean B' = {mean:.2f}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report(results, figures):
    """Markdown section; writes the B' histogram PNG into `figures`."""
    plot_histograms(results, f"{figures}/atfr_bins_histogram.png")
    main = markdown_table(
        ["model", "params:", "top-1, seed 0:", "top-1, mean ± sd (seeds):", "top-1, batches of 8:",
         "GFLOPs/clip:", "GFLOPs saved:", "mean B':", "batch-1 latency ms:"], _main_rows(results))
    ablation = markdown_table(
        ["backbone + SGS, fine-tuned", "variant", "top-1, seed 0:", "top-1, mean ± sd (seeds):",
         "top-1, batches of 8:", "GFLOPs/clip:", "mean B':", "batch-1 latency ms:"],
        _ablation_rows(results))
    return main, ablation
