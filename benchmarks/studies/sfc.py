"""SFC (seed 001, Tables 2-3): a frozen backbone with one pass of SFC over the
whole video against dense sampling (1 view, and 30 = 10 clips x 3 crops).

The paper's protocol (section 4): a backbone trained on clips at stride s is
frozen, split after res3, and SFC between head and tail sees the whole video
at the same stride s (Table 2: 288 frames in, at the backbone's 8, 4 or 2).
Only SFC trains, with the paper's schedule: 15 epochs, lr 0.01 divided by 10
at epochs 8 and 12, weight decay 1e-5, SGD momentum 0.9, no warmup.

Videos are 64 frames; every backbone's clips and SFC's input use stride 2, so
SFC sees 32 frames. Two backbones, each trained from scratch on the study's
usual schedule:
- Hara's 3D ResNet-18 on 16-frame clips, whose head halves time twice: res3
  gives 8 frames from the whole video, 4 from a clip, so tau = 2 hands the
  tail the frames it was trained on.
- TSM-ResNet-18 on 16-frame clips with res2 and res3 unshifted, so its head
  (stem, res2, res3) is a 2D ResNet on every frame, as the paper's Slow-only
  I3D-50 head (1x1 temporal kernels up to res3), and time mixes only in res4
  and res5: res3 keeps the whole video's 32 frames, so tau = 2 matches its 16.
Both backbones train at lr 0.003 with the ATFR study's warmup fraction: at
the settings' 0.01 (warmup 1 epoch) the ATFR study's 3D ResNet-18 was
unstable. Why not the Slow-only R50 itself (measured 2026-12-07, seed 0, this
study's data and schedule, 8x2 clips): it diverged at lr 0.01 and 0.003
(initial gradient norm 944); with PySlowFast's ZERO_INIT_FINAL_BN
(`zero_init_final_bn=True`, gradient norm 12) it stayed at chance (validation
0.245 at lr 0.003; training loss 2.8 by epoch 4 at lr 0.01). TSM-R18 with the
same per-frame head reached 0.470 on 8x2 clips and 0.585 on 16x2 clips
(validation top-1, one clip per video, still rising at epoch 15), so the
per-frame backbone is TSM-R18 16x2; the motion classes of this data are
decided by the frames' order, which a per-frame head sees only through its
last two stages. Table 3's taus (4/3, 2, 4) are trained on the 3D ResNet-18;
the per-frame backbone gets its matched tau only, as Table 2 gives each
backbone one tau. Each backbone is trained with settings.seeds seeds, and SFC seed i
trains in backbone seed i, so dense and SFC figures pair by seed.
Speed and memory are measured on the seed-0 runs.
"""

import dataclasses
import os

import keras
import tensorflow as tf

from benchmarks.studies import atfr, common
from benchmarks.studies.common import (format_mean_sd, markdown_table, mean_and_sd, merged,
                                       over_seeds, peak_memory_per_video, pyplot, repeat_key,
                                       save_plot, time_calls)

TITLE = '3. SFC: single pass vs 30-view dense sampling (seed 001, Tables 2-3)'

VIDEO_FRAMES = 64
STRIDE = 2  # of every backbone's clips and of SFC's whole-video input
SFC_FRAMES = VIDEO_FRAMES // STRIDE
SPLIT = "res3"
TAUS = {"4/3": 4 / 3, "2": 2.0, "4": 4.0}
# The paper's SFC schedule (section 4, implementation details).
SFC_TRAINING = dict(epochs=15, lr=0.01, lr_drops="8,12", weight_decay=1e-5, warmup_epochs=0)
DENSE_VIEWS = {"30 views (10x3)": (10, 3), "1 view": (1, 1)}


@dataclasses.dataclass(frozen=True)
class Backbone:
    name: str  # registry name
    clip_frames: int
    title: str
    matched_tau: str  # the TAUS key that gives the tail its training frames
    taus: tuple  # the TAUS keys SFC is trained with
    model_options: dict = dataclasses.field(default_factory=dict)  # of its training


BACKBONES = (
    Backbone("resnet3d_18", 16, "3D ResNet-18 (Hara), 16x2, head halves time twice", "2",
             tuple(TAUS)),
    Backbone("tsm_r18", 16, "TSM-R18, res2-res3 unshifted (per-frame head), 16x2", "2", ("2",),
             {"unshifted": ("res2", "res3")}),
)


def _videos_per_second(model, views, frames, crop):
    """Videos/s of one video's `views` clips in one batch (compiled predict)."""
    batch = tf.random.normal((views, frames, crop, crop, 3))
    return 1.0 / time_calls(lambda: model.predict_on_batch(batch), repeats=5)


def head_time_stride(backbone, crop):
    """How many input frames make one frame at the split (res3's output)."""
    from vidzoo import zoo

    frames = backbone.clip_frames
    model = zoo.get_model(backbone.name, input_shape=(frames, crop, crop, 3), classes=4)
    return frames // model.get_layer(SPLIT).output.shape[1]


def _split_frames(backbone, crop):
    stride = head_time_stride(backbone, crop)
    return {"clip": backbone.clip_frames // stride, "video": SFC_FRAMES // stride}


def _backbone_key(backbone):
    return f"sfc_{backbone.name}"


def _sfc_key(backbone, label):
    return f"{_backbone_key(backbone)}_tau{label.replace('/', '_')}"


def _train_backbone(bench, data, backbone, repeat):
    return bench.train_and_evaluate(repeat_key(_backbone_key(backbone), repeat), backbone.name,
                                    data, frames=backbone.clip_frames, stride=STRIDE,
                                    repeat=repeat, lr=atfr.LEARNING_RATE,
                                    warmup_epochs=atfr.warmup_epochs(bench.settings),
                                    model_options=dict(backbone.model_options))


def _dense(bench, data, backbone, repeat):
    """Video top-1 and GFLOPs of the frozen backbone alone, 30 views and 1 view
    (repeat's run)."""
    from vidzoo.training.evaluate import evaluate_run

    s = bench.settings
    run_dir = bench.run_dir(repeat_key(_backbone_key(backbone), repeat))
    rows = {}
    for name, (clips, crops) in DENSE_VIEWS.items():
        result = evaluate_run(run_dir, data["val"], clips, crops, s.batch_size,
                              output=os.path.join(run_dir, f"evaluation_{clips}x{crops}.json"))
        rows[name] = {"video_top1": result["video_top1"],
                      "gflops_per_video": result["gflops_per_video"]}
    return rows


def _dense_costs(bench, backbone, views):
    """Speed and memory of the seed-0 backbone on one video's `views` clips."""
    s = bench.settings
    model = keras.saving.load_model(bench.trained_model_path(_backbone_key(backbone)))
    spec = {"model": backbone.name, "train": False,
            "input_shape": [backbone.clip_frames, s.crop_size, s.crop_size, 3]}
    return {"videos_per_second": _videos_per_second(model, views, backbone.clip_frames,
                                                    s.crop_size),
            "parameters": model.count_params(),
            "inference_mib_per_video": views * peak_memory_per_video(spec, (views, 2 * views))}


def _train_sfc(bench, data, backbone, label, repeat):
    """SFC alone in the frozen backbone of the same seed; top-1 one pass per video."""
    return bench.train_and_evaluate(
        repeat_key(_sfc_key(backbone, label), repeat), backbone.name, data, frames=SFC_FRAMES,
        stride=STRIDE, eval_clips=1, eval_crops=1, repeat=repeat,
        init_from=bench.model_path(repeat_key(_backbone_key(backbone), repeat)),
        sfc_split=SPLIT, sfc_tau=TAUS[label], **SFC_TRAINING)


def _sfc_costs(bench, backbone, label):
    """Speed and memory of the seed-0 SFC run."""
    s = bench.settings
    model = keras.saving.load_model(bench.trained_model_path(_sfc_key(backbone, label)))
    spec = {"model": backbone.name, "train": False,
            "input_shape": [backbone.clip_frames, s.crop_size, s.crop_size, 3],
            "sfc": {"split": SPLIT, "tau": TAUS[label],
                    "input_shape": [SFC_FRAMES, s.crop_size, s.crop_size, 3]}}
    return {"videos_per_second": _videos_per_second(model, 1, SFC_FRAMES, s.crop_size),
            "parameters": model.count_params(),
            "inference_mib_per_video": peak_memory_per_video(spec)}


def _dense_over_seeds(bench, data, backbone):
    """{view name: row with `repeats`} of the dense evaluations of every seed,
    with seed 0's speed and memory."""
    key = _backbone_key(backbone)
    per_seed = [bench.cached(repeat_key(f"{key}_dense", r),
                             lambda r=r: _dense(bench, data, backbone, r))
                for r in range(bench.settings.seeds)]
    rows = {}
    for name, (clips, crops) in DENSE_VIEWS.items():
        costs = bench.timed(f"{key}_dense_{clips}x{crops}_costs",
                            lambda views=clips * crops: _dense_costs(bench, backbone, views))
        rows[name] = merged(common.with_repeats([seed[name] for seed in per_seed],
                                                ("video_top1",)), costs)
    return rows


def run(bench):
    data = bench.data(VIDEO_FRAMES)
    s = bench.settings
    results = {"sfc_frames": SFC_FRAMES, "stride": STRIDE, "eval_clips": s.eval_clips,
               "backbones": {}}
    for backbone in BACKBONES:
        trained = over_seeds(bench, {"backbone": lambda r, b=backbone: _train_backbone(
            bench, data, b, r)}, ("video_top1",))
        entry = {"backbone": trained["backbone"],
                 "dense": _dense_over_seeds(bench, data, backbone),
                 "split_frames": _split_frames(backbone, s.crop_size)}
        sfc = over_seeds(bench, {label: lambda r, b=backbone, label=label: _train_sfc(
            bench, data, b, label, r) for label in backbone.taus}, ("video_top1",))
        for label in backbone.taus:
            costs = bench.timed(f"{_sfc_key(backbone, label)}_costs",
                                 lambda b=backbone, label=label: _sfc_costs(bench, b, label))
            entry[f"sfc_{label}"] = merged(sfc[label], costs)
        results["backbones"][backbone.name] = entry
    return results


# ---------------------------------------------------------------------------
# The section


def _rows(entry, backbone):
    rows = [(name, row) for name, row in entry["dense"].items()]
    frames = entry["split_frames"]["video"]
    for label in backbone.taus:
        matched = " (matched)" if label == backbone.matched_tau else ""
        rows.append((f"SFC, tau = {label}{matched}: {SFC_FRAMES} frames in, the tail gets "
                     f"{int(frames // TAUS[label])}", entry[f"sfc_{label}"]))
    return rows


def _cost_cells(row, dense):
    return [f"{row['gflops_per_video']:.2f}",
            f"{row['gflops_per_video'] / dense['gflops_per_video']:.3f}",
            f"{row['videos_per_second']:.2f}",
            f"{row['videos_per_second'] / dense['videos_per_second']:.1f}x",
            f"{row['inference_mib_per_video']:.0f}"]


def report(results, figures):
    tables = []
    for backbone in BACKBONES:
        entry = results["backbones"][backbone.name]
        dense = entry["dense"]["30 views (10x3)"]
        lines = [[name, f"{row['parameters'] / 1e6:.2f}M", format_mean_sd(row)]
                 + _cost_cells(row, dense) for name, row in _rows(entry, backbone)]
        tables.append(f"**{backbone.title}** (clips of {backbone.clip_frames} at stride "
                      f"{STRIDE}; res3 gives {entry['split_frames']['clip']} frames from a "
                      f"clip, {entry['split_frames']['video']} from the whole video). "
                      "The backbone's "
                      f"top-1 over the study's usual {results.get('eval_clips', 3)} clip(s) per video: "
                      f"{format_mean_sd(entry['backbone'])}.\n\n"
                      + markdown_table(["inference", "params:", "video top-1 (mean ± sd, "
                                        "seeds):", "GFLOPs/video:", "GFLOPs vs 30 views:",
                                        "videos/s:", "speed-up:", "peak MiB/video:"], lines))
    plot(results, f"{figures}/sfc_accuracy_vs_gflops.png")
    return "\n\n".join(tables)


def plot(results, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for backbone, marker in zip(BACKBONES, ("o", "s")):
        for name, row in _rows(results["backbones"][backbone.name], backbone):
            colour = "tab:blue" if name.startswith("SFC") else "tab:gray"
            top1 = 100 * mean_and_sd(row)[0]
            axis.scatter(row["gflops_per_video"], top1, color=colour, marker=marker)
            axis.annotate(name.split(":")[0].replace("SFC, ", ""),
                          (row["gflops_per_video"], top1), fontsize=6,
                          textcoords="offset points", xytext=(4, 3))
    axis.set_xscale("log")
    save_plot(figure, axis, path, "GFLOPs per video (log)", "video top-1 (%)",
              "SFC single pass vs dense views (o: 3D ResNet-18, s: per-frame TSM-R18)")


def _verdicts(results):
    lines = []
    for backbone in BACKBONES:
        entry = results["backbones"][backbone.name]
        dense, single = entry["dense"]["30 views (10x3)"], entry["dense"]["1 view"]
        sfc = entry[f"sfc_{backbone.matched_tau}"]
        lines.append(
            f"- {backbone.title}, matched tau = {backbone.matched_tau}: SFC top-1 "
            f"{format_mean_sd(sfc)} vs {format_mean_sd(dense)} for 30 views and "
            f"{format_mean_sd(single)} for 1 view, at "
            f"{sfc['gflops_per_video'] / dense['gflops_per_video']:.3f}x the GFLOPs and "
            f"{sfc['videos_per_second'] / dense['videos_per_second']:.1f}x the videos/s of 30 "
            "views (paper, Table 2: equal or better top-1 at about 6x the throughput).")
    return "\n".join(lines)


def section(results, figures):
    return "\n".join([
        report(results, figures), "",
        "![SFC vs dense views](results/sfc_accuracy_vs_gflops.png)", "",
        _verdicts(results), "",
        f"- Protocol: each backbone is trained from scratch on clips at stride {STRIDE} and "
        f"frozen (BatchNorm included); SFC after res3 sees the whole {VIDEO_FRAMES}-frame "
        f"video at the same stride ({SFC_FRAMES} frames) in one pass and trains alone with "
        "the paper's schedule (15 epochs, lr 0.01 / 10 at epochs 8 and 12, weight decay "
        "1e-5). SFC seed i trains in backbone seed i; dense views evaluate each seed's "
        "backbone. GFLOPs count SFC's attention products as well as its convs.",
        "- Memory is the marginal peak resident memory of inference per video "
        "(two batch sizes in fresh processes); videos/s time one video's views in one "
        "batch (30 clips for dense sampling). Both on the seed-0 runs.",
    ])
