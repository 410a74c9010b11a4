"""Write docs/zoo.md: every registered model with its default input, parameter
count (without BatchNorm moving statistics, as the references count), the
reference definition's count, and GMACs ("GFLOPs" in torchvision/PySlowFast's
convention) at the default input.

    python -m benchmarks.zoo_table [--out docs/zoo.md]
"""

import argparse
import datetime
import platform
import time

import keras

import vidzoo.zoo as zoo
from vidzoo.zoo.flops import count_flops

# Seed 003, Table I (r = 0.875) and Table VI(a) (MTNet-M over r): GFLOPs, params (M).
MTNET_PAPER = {"s": (5.8, 25.8), "m": (8.8, 25.8), "l": (17.6, 50.1)}
MTNET_M_RATIOS = {1.0: (10.8, 29.7), 0.875: (8.8, 25.8), 0.75: (6.7, 21.8), 0.5: (3.6, 18.6)}


MTNET_RATIO_NOTE = (
    'Under this definition the prolonged branch only saves channelwise-conv MACs, a small'
    " part of X3D's cost, and its 1x1x1 lateral adds parameters as r falls: the paper's "
    'falling parameters and GFLOPs over r do not follow from it (its r must also split '
    'the 1x1x1 convs, which the surviving text does not say).'
)


def mtnet_lines():
    """MTNet's size and cost against the paper's tables, and the r sweep as
    ratios to r = 1 (the paper's reference point)."""
    lines = ["", "## MTNet against seed 003", "",
             "| model | input | params | paper params | ratio | GFLOPs | paper GFLOPs |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for size, (paper_gflops, paper_params) in MTNET_PAPER.items():
        model = zoo.get_model(f"mtnet_{size}")
        params = zoo.reference_param_count(model)
        shape = "x".join(str(d) for d in model.inputs[0].shape[1:4])
        lines.append(f"| mtnet_{size} | {shape} | {params / 1e6:.2f}M | {paper_params}M | "
                     f"{params / 1e6 / paper_params:.3f} | {count_flops(model) / 1e9:.3f} | "
                     f"{paper_gflops} |")
        keras.backend.clear_session()
    lines += ["", "MTNet-M over the channel ratio r (Table VI(a)), each as a ratio to r = 1:", "",
              "| r | params | GFLOPs | params / r=1 | paper | GFLOPs / r=1 | paper |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    measured = {}
    for ratio in MTNET_M_RATIOS:
        model = zoo.get_model("mtnet_m", ratio=ratio)
        measured[ratio] = (zoo.reference_param_count(model) / 1e6, count_flops(model) / 1e9)
        keras.backend.clear_session()
    base, paper_base = measured[1.0], MTNET_M_RATIOS[1.0]
    for ratio, (params, gflops) in measured.items():
        paper_gflops, paper_params = MTNET_M_RATIOS[ratio]
        lines.append(f"| {ratio} | {params:.2f}M | {gflops:.3f} | {params / base[0]:.3f} | "
                     f"{paper_params / paper_base[1]:.3f} | {gflops / base[1]:.3f} | "
                     f"{paper_gflops / paper_base[0]:.3f} |")
    lines += ["", MTNET_RATIO_NOTE]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/zoo.md")
    args = parser.parse_args()
    rows = []
    start = time.time()
    for name in zoo.list_models():
        model = zoo.get_model(name)
        params = zoo.reference_param_count(model)
        reference = zoo.variant(name).reference_params
        if zoo.variant(name).adaptation == "atfr":
            # Every bin kept (B' = B): the most an ATFR clip can cost.
            full = zoo.get_model(name, sgs={"drop_empty_bins": False})
            gflops = f"<= {count_flops(full) / 1e9:.3f}"
        else:
            gflops = f"{count_flops(model) / 1e9:.3f}"
        shape = "x".join(str(d) for d in model.inputs[0].shape[1:4])
        match = "" if reference is None else ("yes" if reference == params else "NO")
        rows.append((name, f"`{zoo.variant(name).python_name}`", shape, f"{params:,}",
                     f"{reference:,}" if reference else "-", match, gflops))
        print(name, rows[-1][1:], flush=True)
        keras.backend.clear_session()
    lines = [
        "# Model zoo",
        "",
        "Every registered model, 400 classes, default input (frames x height x width x 3).",
        "Parameters exclude BatchNorm moving statistics, as the reference definitions count",
        "(Keras' `count_params()` adds 2 per BatchNorm channel). GFLOPs are multiply-adds of",
        "convolutions, dense layers and GRUs at the default input, the convention torchvision",
        "and PySlowFast publish (`vidzoo.zoo.flops`). ATFR models (`*_atfr`, SGS after the",
        "second stage) cost what each clip's B' implies (`vidzoo.zoo.accounting.flops_per_clip`);",
        "the table gives their most, with every bin kept (B' = B, SGS's f_s included). Their",
        "parameters include f_s. `*_clustering` models process 8 clusters after res2 whatever",
        "the input length; the figure is for the default 8-frame input.",
        "",
        "Each row comes from its family's variant table (`VARIANTS` in `vidzoo/zoo/<family>.py`:",
        "builder arguments, reference, reference count, default input; `vidzoo.zoo.variant(name)`",
        "returns it), and the adaptive rows are derived from them by `vidzoo.zoo.registry`. The",
        "Python column is the constructor in `vidzoo.zoo`.",
        "",
        "| model | Python | input | params | reference params | equal | GFLOPs |",
        "|---|---|---|---:|---:|:---:|---:|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines += mtnet_lines()
    lines += [
        "",
        "References, one family module each: torchvision (`video_resnet.py`: R3D, MC3,",
        "R(2+1)D-18/34; `s3d` in `inception.py`), Hara et al. (`hara_resnet.py`), PySlowFast",
        "(`pyslowfast_resnet.py`: Slow-only, I3D-R50; `slowfast.py`), pytorchvideo",
        "(`pytorchvideo_r2plus1d.py`; `x3d.py`), the ATFR authors (`sgs_resnet3d.py`),",
        "temporal-shift-module (`tsm.py`), TF-slim `i3d.py`/`s3dg.py` (`inception.py`); counts",
        "from `shared/reference/params.md`. Models without a reference count follow the same",
        "definitions at other depths or are ours (MTNet: see `vidzoo/zoo/mtnet.py`).",
        "",
        "## Choices where the references leave room",
        "",
        "- Padding: models defined in PyTorch pad symmetrically (explicit `ZeroPadding3D`,",
        "  then `valid`), as PyTorch does; Keras `same` would shift strided convs by a pixel.",
        "  The Inception family uses TF `same`, as TF-slim does.",
        "- TF-slim S3D/S3D-G build `Conv2d_1a_7x7` as a full 3D conv and their gating transform",
        "  has no bias; both follow from the reference counts (S3D without that: -27,712;",
        "  gating with bias: +5,680, the sum of gated channels).",
        "- I2D keeps the strided first conv and the max pools in time (the paper's footnote 4).",
        "- Fast-S3D: 'top 2 layers' read as Inception stages 4 and 5 (transition Mixed_4b, as",
        "  in the paper's Fig. 7). Its MAC ratio to I3D is 0.37 here; the paper's 43.47/107.9",
        "  is 0.40, which transition Mixed_3c would give (0.398).",
        "- ATFR: SGS after res2 (ResNets, X3D, SlowFast) or Conv2d_2c_3x3 (Inception), the",
        "  seeds' second stage. SlowFast gets one SGS per pathway; the later fast-to-slow",
        "  laterals are resampled linearly in time to the slow pathway's B' (our choice).",
        "- MTNet has no reference definition (seed 003's equations and Fig. 2 did not survive,",
        "  its code differs from its text). Ours keeps X3D's skeleton; each bottleneck's",
        "  channelwise 3x3x3 conv becomes a channelwise MTConv (1x1x1 lateral from the local",
        "  branch, as the released code) and squeeze-excitation a 2-layer GRU at the inner",
        "  width. That gives the paper's sizes to within 3% (S, M) and 11% (L), section",
        "  'MTNet against seed 003'. GFLOPs are counted at X3D's default inputs; the paper's",
        "  view size was lost in extraction.",
        "- r2plus1d_r50 follows pytorchvideo (spatial stride 2 in res2 too, temporal stride",
        "  in res4/res5); its (4, 7, 7) head pool equals the global average at 16x224x224.",
        "- X3D's bottlenecks start as their shortcuts (every final BatchNorm at gamma 0), as",
        "  pytorchvideo (`init_net_weights`) and PySlowFast's X3D configs (ZERO_INIT_FINAL_BN)",
        "  initialize them; `zero_init_final_bn=False` keeps Keras' gamma 1. With gamma 1, the",
        "  ATFR study's X3D-S (16x56x56 from scratch, 15 epochs, lr 0.003; 2026-12-07) reached",
        "  video top-1 0.495 / 0.385 / 0.600 over 3 seeds and X3D-S + SGS 0.255 / 0.275 / 0.275,",
        "  chance for 4 classes, its training top-1 at chance throughout; the 3D ResNet-18 beside",
        "  them learned. The ATFR study retrains its X3D rows with the zero init.",
        "- sgs_resnet3d_18/50 follow the ATFR authors' `3dresnet`: no temporal stride or",
        "  pool anywhere (SGS after res2 sees B = T), res2 8 -> 32 channels. Their 40.8",
        "  GFLOPs for 3DResNet-50 (Table 7) is ours at 32x256x256, the paper's test size.",
        "- Frames may be None (clips of any length) for the ResNets, X3D, TSM and Inception",
        "  models; SlowFast (pathway sampling) and MTNet (frame selection) need a fixed T.",
        "- After SGS, a batch's clips are padded to its largest B'. The blocks there get the",
        "  per-clip counts explicitly (`vidzoo.zoo.common.Frames`), so their BatchNorms and",
        "  average pools use each clip's real frames only, and a clip's output does not",
        "  depend on its batch mates. Not masked: MTNet's MTBlocks (layers of their own)",
        "  and the Inception head (TF-slim's windowed average, then the mean of the logits).",
        "",
        f"Generated by `python -m benchmarks.zoo_table` on {datetime.date.today()} "
        f"({platform.machine()}, {platform.python_version()}, Keras {keras.__version__}) "
        f"in {time.time() - start:.0f} s.",
    ]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
