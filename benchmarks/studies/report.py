"""Render docs/results.md (and its PNGs) from the cached study results."""

import json
import os

import common

RUNS_FILE = "runs.json"

TITLES = {
    "atfr": "1. ATFR: Similarity Guided Sampling (seed 000)",
    "clustering": "2. Full-video temporal clustering (seed 004, Table 1)",
    "clustering_hard": "2b. Full-video temporal clustering on harder data (seed 004, Table 1)",
    "sfc": "3. SFC: single pass vs 30-view dense sampling (seed 001, Tables 2-3)",
    "inception": "4. Inception family and the frame-reversal test (seed 002, Table 1)",
    "mtconv": "5. MTConv: channel ratio r (seed 003, Table VI a)",
    "speed": "6. Speed of the zoo on CPU, with the PyTorch reference",
}


def data_dir(out):
    """Where the page keeps each study's results and run record (committed with
    it), so the page can be rewritten without the work directory."""
    return os.path.join(os.path.dirname(os.path.abspath(out)), "results", "data")


def read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def write_json(path, value):
    with open(path + ".tmp", "w") as handle:
        json.dump(value, handle, indent=1)
    os.replace(path + ".tmp", path)


def load_study(bench, out, name):
    """Study `name`'s results: the work directory's, else the page's stored copy."""
    results = read_json(bench.path("results", f"study_{name}.json"))
    if results is None:
        results = read_json(os.path.join(data_dir(out), f"study_{name}.json"))
    return results


def load_runs(out, runs):
    """The page's stored run records, updated by the work directory's `runs`."""
    return dict(read_json(os.path.join(data_dir(out), RUNS_FILE)) or {}, **runs)


def kept_sections(out):
    """{heading: body} of the sections on the current page, kept for studies
    whose results are in neither the work directory nor the page's data."""
    if not os.path.exists(out):
        return {}
    with open(out) as handle:
        text = handle.read()
    sections = {}
    for block in text.split("\n## ")[1:]:
        heading, _, body = block.partition("\n")
        sections[heading.strip()] = body.strip("\n")
    return sections


def compute_seconds(value):
    """Sum of the `seconds` every cached result records (nested dicts)."""
    if not isinstance(value, dict):
        return 0.0
    own = value.get("seconds", 0.0) if isinstance(value.get("seconds"), (int, float)) else 0.0
    return own + sum(compute_seconds(v) for k, v in value.items() if k != "seconds")


def _pct(value):
    return f"{100 * value:.1f}%"


def atfr_section(results, figures):
    import atfr

    main, ablation = atfr.report(results, figures)
    r18 = results["3D ResNet-18"]
    x3d = results["X3D-S"]
    lines = [main, "", "![B' histograms](results/atfr_bins_histogram.png)", "", ablation, ""]
    for label, rows in (("3D ResNet-18", r18), ("X3D-S", x3d)):
        base, sgs = rows["baseline"], rows["sgs"]
        lines.append(
            f"- **{label}**: SGS keeps {sgs['adaptive']['sgs']['mean']:.2f} of "
            f"{sgs['adaptive']['sgs']['frames_in']} bins on average and saves "
            f"{_pct(1 - sgs['gflops_per_clip'] / base['gflops_per_clip'])} of the GFLOPs per "
            f"clip; top-1 {base['video_top1']:.3f} -> {sgs['video_top1']:.3f} one clip per "
            f"pass, {sgs['batched_video_top1']:.3f} in batches of 8. Batch-1 latency "
            f"{base['latency_ms']:.1f} -> {sgs['latency_ms']:.1f} ms.")
    lines += [
        "",
        _atfr_cost(results),
        "",
        _atfr_accuracy(results),
    ]
    return "\n".join(lines)


def _atfr_cost(results):
    """Data-driven prose on what SGS saves: GFLOPs, placement, latency."""
    ablation = results["ablations"]
    placement = [ablation[f"x3d_s_{suffix}"]["gflops_per_clip"]
                 for suffix in ("sgs_after_stem", "sgs", "sgs_after_res3")]
    ordered = placement[0] < placement[1] < placement[2]
    latency = "; ".join(
        f"{label} {rows['baseline']['latency_ms']:.1f} -> {rows['sgs']['latency_ms']:.1f} ms"
        for label, rows in ((k, results[k]) for k in ("3D ResNet-18", "X3D-S")))
    return (
        "**What reproduces.** B' varies per clip with the content (the histograms, the "
        "paper's Fig. 3) and GFLOPs per clip fall with it. Placement (X3D-S, after stem / "
        "res2 / res3): " + " / ".join(f"{g:.3f}" for g in placement) + " GFLOPs, "
        + ("so the earlier SGS sits the more it saves (Table 6's trend; the paper: "
           "-52.6% after the first stage, -42.1% after the second)." if ordered else
           "not the paper's monotone trend (Table 6).")
        + f" Batch-1 latency on CPU, without -> with SGS: {latency}; SGS's own ops "
        "(f_s, the kernel weights, the einsum) are paid on every clip, so a small GFLOPs "
        "saving need not show as time."
    )


def _atfr_accuracy(results):
    """Data-driven prose on batch independence and the accuracy claims."""
    r18, x3d = results["3D ResNet-18"], results["X3D-S"]
    rows = [r18["sgs"], x3d["sgs"]] + list(results["ablations"].values())
    runs = [run for row in {row["key"]: row for row in rows}.values()
            for run in row.get("repeats", [row])]
    same = sum(abs(run["video_top1"] - run["batched_video_top1"]) < 1e-9 for run in runs)
    ablation = results["ablations"]
    top1 = common.format_mean_sd
    _, _, seeds = common.mean_and_sd(r18["baseline"])
    by_l = ", ".join(f"L={dim}: {top1(ablation[key])}" for dim, key in (
        (1, "resnet3d_18_sgs_l1"), (4, "resnet3d_18_sgs_l4"), (8, "resnet3d_18_sgs"),
        (16, "resnet3d_18_sgs_l16")))
    runs_text = ("single fine-tuning runs" if seeds == 1 else
                 f"means ± standard deviations over {seeds} training seeds (in brackets) of "
                 "fine-tuning runs")
    return (
        "**Batch independence.** SGS pads each clip to its batch's largest B' with zero "
        "frames; the zoo's BatchNorm and global pooling after SGS ignore them "
        "(docs/layers.md), so a clip's prediction does not depend on its batch: the two "
        f"top-1 columns (same views, one clip per pass vs 8 per batch) agree in {same} of "
        f"{len(runs)} SGS runs. With plain BatchNorm and pooling the padding leaks into "
        "every clip's output (tests/test_adaptive.py measures it).\n\n"
        "**What does not reproduce, and why.** The paper keeps accuracy while cutting "
        f"GFLOPs. Here top-1 goes {top1(r18['baseline'])} -> {top1(r18['sgs'])} (3D ResNet-18) "
        f"and {top1(x3d['baseline'])} -> {top1(x3d['sgs'])} (X3D-S). "
        f"Kernel: linear {top1(ablation['resnet3d_18_sgs'])}, Kronecker "
        f"{top1(ablation['resnet3d_18_sgs_kronecker'])} (paper: linear better). "
        f"Embedding size: {by_l} (paper: L=8 best). Magnitude vs distance-to-mean: "
        f"{top1(ablation['resnet3d_18_sgs'])} vs {top1(ablation['resnet3d_18_sgs_distance'])}. "
        f"These are {runs_text} of 8 epochs on 96 videos, scored on 48 (one video is 2.1 "
        "points), against the paper's 144k Mini-Kinetics clips; differences within a "
        "standard deviation or two are noise. The baselines are trained 15 epochs from "
        f"scratch: X3D-S reaches {top1(x3d['baseline'])}, 3D ResNet-18 "
        f"{top1(r18['baseline'])}." + _embedding_training(results)
    )


def _embedding_training(results):
    """With repeated seeds: the R18 SGS variant nearest the baseline and the
    most seed-sensitive one. The Kronecker kernel passes no gradient to f_s."""
    ablation = {key: row for key, row in results["ablations"].items()
                if key.startswith("resnet3d_18")}
    baseline, sd, seeds = common.mean_and_sd(results["3D ResNet-18"]["baseline"])
    if seeds < 2:
        return ""
    stats = {key: common.mean_and_sd(row) for key, row in ablation.items()}
    nearest = min(stats, key=lambda key: abs(stats[key][0] - baseline))
    widest = max(stats, key=lambda key: stats[key][1])
    text = (f" Over {seeds} seeds, the SGS variant nearest the baseline ({baseline:.3f}) is "
            f"{nearest} ({stats[nearest][0]:.3f}); the most seed-sensitive is {widest} "
            f"(sd {stats[widest][1]:.3f}, baseline sd {sd:.3f}).")
    if nearest == "resnet3d_18_sgs_kronecker":
        text += (" Under the Kronecker kernel f_s gets no gradient and keeps its "
                 "initialization, so this suggests that training the embedding through "
                 "eqs. 7-8 is what costs accuracy at this scale (a reading, not tested "
                 "further).")
    return text


def clustering_section(results, figures):
    import clustering

    table = clustering.report(results, figures)
    best = _best_clustering(results)
    lines = [
        table, "", "![accuracy vs GFLOPs](results/clustering_accuracy_vs_gflops.png)", "",
        *_clustering_summary(results, best),
        "- GFLOPs reproduce the paper's ordering (stem and res2 see all frames, the rest "
        "g). Training memory per video falls less than in the paper (1.56 vs 3.15 GB at "
        "g = 8): at 56x56 the early, full-length stages hold most of the activations.",
        _clustering_accuracy(results, best),
        "- Memory is the marginal peak resident memory of a training step per video: "
        "(peak at batch 3 - peak at batch 1) / 2, each in a fresh process.",
    ]
    return "\n".join(lines)


def clustering_hard_section(results, figures):
    import clustering_hard

    table = clustering_hard.report(results, figures)
    best = _best_clustering(results)
    lines = [
        "Section 2's runs on the `hard` synthetic data: a 10-pixel glyph instead of 15, "
        "distractor chunks of 40-60% of the video instead of 15-35%, a background panning "
        "1 pixel per frame in a random direction, and Gaussian pixel noise (sd 12). "
        "GFLOPs and training memory do not depend on the data: GFLOPs equal section 2's, "
        "and where the memory figures differ from section 2's, that is the probe's "
        "spread between runs (the two sections may come from different runs and "
        "machines).", "",
        table, "", f"![accuracy vs GFLOPs](results/{clustering_hard.PLOT})", "",
        *_clustering_summary(results, best),
        _clustering_accuracy(results, best),
    ]
    return "\n".join(lines)


def _best_clustering(results):
    import clustering

    return max((k for k in clustering.RUNS if clustering.RUNS[k][3]),
               key=lambda k: common.mean_and_sd(results[k])[0])


def _clustering_summary(results, best):
    import clustering

    top1 = common.format_mean_sd
    tsm8, tsm_all = results["tsm_r18_8f"], results["tsm_r18_all"]
    method, _, _, clusters = clustering.RUNS[best]
    return [
        f"- TSM on all 32 frames: top-1 {top1(tsm_all)} at "
        f"{tsm_all['gflops_per_video']:.2f} GFLOPs and {tsm_all['train_mib_per_video']:.0f} "
        f"MiB per video; on 8 sub-sampled frames {top1(tsm8)} at "
        f"{tsm8['gflops_per_video']:.2f} GFLOPs.",
        f"- Best clustering configuration: {method} into {clusters} clusters, top-1 "
        f"{top1(results[best])} at {results[best]['gflops_per_video']:.2f} GFLOPs "
        f"and {results[best]['train_mib_per_video']:.0f} MiB per video.",
    ]


def _clustering_accuracy(results, best):
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


def sfc_section(results, figures):
    import sfc

    table = sfc.report(results, figures)
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


def inception_section(results, figures):
    import inception

    table = inception.report(results, figures)
    top1 = common.format_mean_sd
    i3d, i2d = results["I3D"], results["I2D"]
    lines = [
        table, "", "![Inception family](results/inception_accuracy_vs_gflops.png)", "",
        "- With the moving BatchNorm statistics as trained, the best model's mean top-1 is "
        f"{max(common.mean_and_sd(row)[0] for row in results.values()):.3f} (chance: 0.250): "
        "the references' TF-slim decay of 0.999 leaves them mostly at their initial values "
        "after 120 steps. 'Precise BN' recomputes them over one epoch of training clips "
        "(as PySlowFast does) without changing any weight; the other columns use it.",
        f"- Reversal (precise BN): I3D {top1(i3d, 'precise_bn_video_top1')} -> "
        f"{top1(i3d, 'precise_bn_reversed_video_top1')}, I2D "
        f"{top1(i2d, 'precise_bn_video_top1')} -> {top1(i2d, 'precise_bn_reversed_video_top1')}"
        ". The paper's "
        "Table 1 shows I3D dropping sharply on reversed Something-Something clips and I2D "
        "not at all. Our four classes are two pairs of opposite motions (up/down, "
        "left/right): reversed, a clip shows the opposite class, so a model that has "
        "learnt the direction of motion falls towards 0, while an order-blind model like "
        "I2D (2D convolutions, temporal pooling only) can tell the axis of motion but not "
        "its direction and is unaffected.",
        "- All five are trained from scratch with the same recipe at 16x56x56; the paper "
        "compares them on Kinetics and Something-Something at 64x224x224. Top-1 columns "
        "are means ± sd over training seeds (in brackets); 'change' is reversed minus "
        "forward, per seed.",
    ]
    return "\n".join(lines)


def mtconv_section(results, figures):
    import mtconv

    table = mtconv.report(results, figures)
    reference = results["r=1"]
    lines = [table, "", "![MTNet ratio](results/mtconv_ratio.png)", ""]
    for label, row in results.items():
        if label.startswith("r=") and label != "r=1":
            lines.append(
                f"- {label}: {_pct(row['gflops_per_clip'] / reference['gflops_per_clip'] - 1)}"
                f" GFLOPs and {_pct(row['parameters'] / reference['parameters'] - 1)} "
                f"parameters against r = 1; top-1 {common.format_mean_sd(row)} vs "
                f"{common.format_mean_sd(reference)}.")
    chance = [label for label, row in results.items() if common.mean_and_sd(row)[0] <= 0.26]
    if chance:
        lines.append(f"- At chance (4 classes) on average after {mtconv.EPOCHS} epochs from "
                     f"scratch: {', '.join(chance)}; their accuracy comparison says nothing.")
    _, _, seeds = common.mean_and_sd(reference)
    runs = "single runs" if seeds == 1 else f"means ± sd over {seeds} training seeds"
    lines += [
        "- MTConv's BatchNorms use PyTorch's momentum (Keras 0.9), like the X3D skeleton. "
        "With Keras' default 0.99 (before 2026-11-22) every MTNet run ended at chance on "
        "validation while its training accuracy rose: after 96 steps the moving statistics "
        "were still 38% their initial values (precise BN lifted the r = 1 run from 0.250 to "
        "0.438).",
        "- The paper reports 25-37% fewer GFLOPs for r in [0.75, 0.875] against r = 1 and "
        "-66% GFLOPs / -37% parameters at r = 0.5, with the best accuracy at 0.75-0.875. "
        "Cost ratios are architecture arithmetic and are compared directly; accuracies "
        f"here are {runs} from scratch, 8 epochs on 96 videos. MTNet-S here is 45-58M "
        "parameters (X3D-S's skeleton with full 3x3x3 MTConvs) and trains slowly on CPU.",
        _mtconv_latency(results),
    ]
    return "\n".join(lines)


def _mtconv_latency(results):
    """Fewer GFLOPs but more time at batch 1: say so, and where it is profiled."""
    reference = results["r=1"]
    slower = [f"{label} {row['latency_ms']:.0f} ms" for label, row in results.items()
              if label.startswith("r=") and label != "r=1"
              and row["latency_ms"] > reference["latency_ms"]]
    if not slower:
        return "- Every r < 1 is faster than r = 1 at batch 1, as its GFLOPs predict."
    return (f"- Batch-1 latency on CPU: r = 1 {reference['latency_ms']:.0f} ms against "
            f"{', '.join(slower)}, although r < 1 computes fewer GFLOPs. Each of MTNet-S's "
            "78 prolonged branches adds two small Conv3D + BN, SoftPool, frame selection "
            "and a resize; `benchmarks/mtconv_profile.py` times these pieces "
            "(docs/mtconv_profile.md), including what gathering the selected frames with "
            "`take_along_axis` (MTConv before 2026-11-22) cost.")


def speed_section(results, figures):
    import speed

    table = speed.report(results, figures)
    lines = [table, "", "![forward speed](results/speed_forward.png)", ""]
    if results["torch_unavailable"]:
        lines.append(f"- PyTorch reference not measured: {results['torch_unavailable']}")
    else:
        lines.append(
            "- PyTorch reference: torchvision 0.28.0's video model definitions on torch "
            "2.13.0 (CPU wheel), same input and batch, timed in the same process and run "
            "(each model in a fresh process). A ratio above 1 means vidzoo (TensorFlow "
            "backend) is faster.")
    lines.append("- Every zoo model except the adaptive variants (their cost depends on the "
                 "clip; see the ATFR and clustering sections). Batch 1, default (standard) "
                 f"input of each model, 400 classes; medians of {speed.REPEATS} calls after a "
                 "warm-up call.")
    lines.append(_step_cost(results["models"]))
    return "\n".join(lines)


def _step_cost(models):
    """Training step time / forward time, X3D (channelwise convs) vs the rest."""
    ratio = {name: row["forward_clips_per_s"] / row["train_clips_per_s"]
             for name, row in models.items()}
    x3d = sorted(ratio[name] for name in ratio if name.startswith("x3d"))
    others = sorted(value for name, value in ratio.items() if not name.startswith("x3d"))
    return (f"- Training step / forward time: X3D {x3d[0]:.1f}-{x3d[-1]:.1f}x, the other "
            f"models {others[0]:.1f}-{others[-1]:.1f}x (median "
            f"{others[len(others) // 2]:.1f}x). X3D's channelwise 3x3x3 convs use "
            "DepthwiseConv3D's explicit gradient; TF's own gradient of the depthwise conv "
            "made the step ~10x the forward pass (docs/depthwise_benchmark.md).")


SECTIONS = {"atfr": atfr_section, "clustering": clustering_section,
            "clustering_hard": clustering_hard_section, "sfc": sfc_section,
            "inception": inception_section, "mtconv": mtconv_section, "speed": speed_section}


def write(bench, out, runs):
    """Write `out` (docs/results.md) and its figures from every finished study,
    and store each study's results and run record (`runs`: study -> command,
    date, machine) in data_dir(out). A study with no results anywhere keeps
    its section of the current page as it is."""
    figures = os.path.join(os.path.dirname(os.path.abspath(out)), "results")
    os.makedirs(data_dir(out), exist_ok=True)
    runs = load_runs(out, runs)
    kept = kept_sections(out)
    parts = _preamble(bench.settings)
    missing = []
    for name, title in TITLES.items():
        results = load_study(bench, out, name)
        if results is not None:
            write_json(os.path.join(data_dir(out), f"study_{name}.json"), results)
            parts += [f"## {title}", "", _provenance(runs.get(name, {}), results), "",
                      SECTIONS[name](results, figures), ""]
        elif title in kept:
            parts += [f"## {title}", "", kept[title], ""]
        else:
            missing.append(name)
    if missing:
        parts += ["## Not yet run", "", "Studies without results in the work directory: "
                  + ", ".join(missing) + ".", ""]
    write_json(os.path.join(data_dir(out), RUNS_FILE), runs)
    with open(out, "w") as handle:
        handle.write("\n".join(parts))
    print(f"wrote {out}")


def _provenance(run, results):
    """The line under a section's heading: date, machine, command and compute."""
    return (f"Measured {run.get('date', 'unrecorded')} on "
            f"{run.get('machine', 'an unrecorded machine')}, no GPU, with "
            f"`{run.get('command', 'an unrecorded command')}`; compute "
            f"{compute_seconds(results) / 60:.1f} min.")


def _preamble(s):
    """The page's title and the settings every study shares."""
    return [
        "# Reproducing the papers' claims at small scale",
        "",
        "Each section names the date, the machine and the command (run from the "
        "repository root) that produced it; rerunning a command resumes from the cached "
        "results in its work directory and rewrites this page. Each study's results are "
        "also stored in `docs/results/data/`, so `python benchmarks/reproduce.py "
        "--report_only` rewrites the page without its work directory; a rerun of one "
        "study leaves the other sections as they are.",
        "",
        f"Data: the embedded synthetic dataset (`vidzoo.tf_data.synthetic`), 4 classes "
        f"(a glyph moving up/down/left/right, with inserted black, still and distractor "
        f"chunks), {4 * s.train_per_class} training and {4 * s.val_per_class} validation "
        f"videos of 32 frames (64 for SFC) at 64x64, H.264; the default `easy` preset "
        "everywhere except section 2b (`hard`, described there). 3D CNNs see "
        f"{s.frames}-frame clips at stride {s.stride}, {s.crop_size}x{s.crop_size} crops, "
        f"{'random flips' if s.flip else 'no flips (a mirrored move_left is a move_right)'}; "
        f"SGD with momentum 0.9, lr {s.lr}, cosine schedule, batch {s.batch_size}, "
        f"{s.epochs} epochs from scratch or {s.finetune_epochs} when fine-tuning. "
        "Top-1 is video-level accuracy on the validation videos; GFLOPs are multiply-adds "
        "(the papers' convention), per clip from each clip's own B' for adaptive models. "
        "Columns marked 'mean ± sd (seeds)' average training runs with seeds 0, 1, ... on "
        "the same data (the count in brackets); every other figure is from the seed-0 run. "
        "Batch-1 latency is the mean time of one forward pass over the centre clip of each "
        "validation video, one clip per pass, the graph traced beforehand (before "
        "2026-11-22 the evaluation's timing included tracing, which inflated MTNet's "
        "figures up to 7x). Until 2026-11-22 every study also trained with random "
        "horizontal flips, which gave half the left/right clips the wrong label and capped "
        "top-1 near 0.75; all figures below are from runs without them. Times and speeds "
        "compare within a section (one machine, one run), not across sections measured "
        "on different machines.",
        "",
    ]
