"""The zoo against pytorchvideo on the same CPU: batch-1 forward and training
step of the same architectures at the same input, as ratios. Writes a section
of docs/benchmarks.md.

    python -m benchmarks.pytorchvideo_speed [--models x3d_s slow_r50] [--rounds 2]

Each (framework, model) is measured in a fresh process, the two frameworks
alternating, `--rounds` times; a process times `--repeats` calls after one
warm-up call (which traces the graph), and the table gives the median over the
rounds of each process's median. Both frameworks get the machine's cores
(TensorFlow's default; `torch.set_num_threads(os.cpu_count())`).
Forward: vidzoo `predict_on_batch`, PyTorch `model.eval()` under
`torch.inference_mode()`. Training step: forward, cross-entropy, backward
and an SGD update, vidzoo `train_on_batch`, PyTorch by hand in train mode.
Ratios are pytorchvideo's time over vidzoo's: above 1, vidzoo is faster.
Each model's row is kept in docs/data/pytorchvideo_speed.json with its date,
machine and command, so `--models NAME` measures one model again and the
section is rewritten from every stored row.
"""

import argparse
import datetime
import json
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import machine  # noqa: E402
from benchmarks.fresh_process import run_json  # noqa: E402
from benchmarks.sections import write_section  # noqa: E402
from vidzoo.benchmarking import median_seconds  # noqa: E402

# vidzoo name -> (pytorchvideo.models.hub constructor, its input (T, H, W))
REFERENCES = {
    "x3d_xs": ("x3d_xs", (4, 160, 160)),
    "x3d_s": ("x3d_s", (13, 160, 160)),
    "x3d_m": ("x3d_m", (16, 224, 224)),
    "x3d_l": ("x3d_l", (16, 312, 312)),
    "slow_r50": ("slow_r50", (8, 224, 224)),
    "slowfast_r50_8x8": ("slowfast_r50", (32, 224, 224)),
    "i3d_r50": ("i3d_r50", (8, 224, 224)),
    "r2plus1d_r50": ("r2plus1d_r50", (16, 224, 224)),
}
SLOWFAST_ALPHA = 4  # the slow pathway takes every 4th frame of the fast one
STORE = "docs/data/pytorchvideo_speed.json"


def measure_vidzoo(name, repeats):
    import keras
    import numpy as np

    from vidzoo import zoo
    from vidzoo.zoo.common import reference_param_count
    from vidzoo.zoo.folding import fold_batch_norm

    frames, height, width = REFERENCES[name][1]
    model = zoo.get_model(name, input_shape=(frames, height, width, 3), classes=400)
    clip = np.random.default_rng(0).normal(size=(1, frames, height, width, 3)).astype("float32")
    label = keras.utils.to_categorical([0], 400)
    forward = median_seconds(lambda: model.predict_on_batch(clip), repeats)
    folded = fold_batch_norm(model)
    forward_folded = median_seconds(lambda: folded.predict_on_batch(clip), repeats)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
    step = median_seconds(lambda: model.train_on_batch(clip, label), repeats)
    return {"forward_s": forward, "forward_folded_s": forward_folded, "step_s": step,
            "parameters": reference_param_count(model)}


def measure_pytorchvideo(name, repeats):
    import torch
    from pytorchvideo.models import hub

    torch.set_num_threads(os.cpu_count())
    constructor, (frames, height, width) = REFERENCES[name]
    model = getattr(hub, constructor)(pretrained=False)
    clip = torch.randn(1, 3, frames, height, width)

    def inputs():  # a new list per call: pytorchvideo's SlowFast overwrites it in place
        return [clip[:, :, ::SLOWFAST_ALPHA], clip] if constructor == "slowfast_r50" else clip

    model.eval()
    with torch.inference_mode():
        forward = median_seconds(lambda: model(inputs()), repeats)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    label = torch.tensor([0])

    def train_step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs()), label)
        loss.backward()
        optimizer.step()

    step = median_seconds(train_step, repeats)
    parameters = sum(p.numel() for p in model.parameters())
    return {"forward_s": forward, "step_s": step, "parameters": parameters}


def in_subprocess(framework, name, repeats):
    return run_json("benchmarks.pytorchvideo_speed", "--one", framework, name, "--repeats",
                    repeats)


def compare(name, rounds, repeats):
    """One row: median over rounds of each framework's per-process figures."""
    runs = {"vidzoo": [], "pytorchvideo": []}
    for _ in range(rounds):  # the frameworks alternate, process by process
        for framework in runs:
            runs[framework].append(in_subprocess(framework, name, repeats))
    row = {"model": name, "input": "x".join(map(str, REFERENCES[name][1]))}
    for framework, results in runs.items():
        row[framework] = {key: statistics.median(result[key] for result in results)
                          for key in ("forward_s", "forward_folded_s", "step_s")
                          if key in results[0]}
        row[framework]["parameters"] = results[0]["parameters"]
    print(json.dumps(row), flush=True)
    return row


def table(rows):
    lines = ["| model | input | parameters (vidzoo / pytorchvideo) | forward ms vidzoo | "
             "forward ms pytorchvideo | forward ratio | forward ms vidzoo, BN folded | "
             "ratio, BN folded | train step ms vidzoo | "
             "train step ms pytorchvideo | train step ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        ours, theirs = row["vidzoo"], row["pytorchvideo"]
        lines.append(
            f"| {row['model']} | {row['input']} | {ours['parameters']:,} / "
            f"{theirs['parameters']:,} | {1000 * ours['forward_s']:.0f} | "
            f"{1000 * theirs['forward_s']:.0f} | "
            f"{theirs['forward_s'] / ours['forward_s']:.2f} | {_folded(ours, theirs)} | "
            f"{1000 * ours['step_s']:.0f} | "
            f"{1000 * theirs['step_s']:.0f} | {theirs['step_s'] / ours['step_s']:.2f} |")
    return "\n".join(lines)


def _folded(ours, theirs):
    """The BN-folded forward's two cells ('- | -' for rows measured before it)."""
    if "forward_folded_s" not in ours:
        return "- | -"
    return (f"{1000 * ours['forward_folded_s']:.0f} | "
            f"{theirs['forward_s'] / ours['forward_folded_s']:.2f}")


def report(rows):
    runs = {}
    for row in rows:
        run = (row["date"], row["machine"], row["command"], row["rounds"], row["repeats"])
        runs.setdefault(run, []).append(row["model"])
    return "\n".join([
        "## The zoo against pytorchvideo (batch 1, CPU)",
        "",
        "Random-initialized, 400 classes, pytorchvideo 0.1.5's hub constructors against "
        "the vidzoo model of the same name at the same input (SlowFast: pytorchvideo gets "
        f"the slow pathway's every {SLOWFAST_ALPHA}th frame and the fast pathway's 32). "
        "Forward: `predict_on_batch` / `eval()` under `inference_mode`; training step: "
        "forward, cross-entropy, backward and SGD. BN folded: the same vidzoo model after "
        "`vidzoo.zoo.fold_batch_norm` (every BatchNorm after a conv folded into it, for "
        "inference; pytorchvideo's forward does not fold). Each figure is the median over "
        "`--rounds` alternating fresh processes of each process's median of `--repeats` "
        "calls. Ratio = pytorchvideo's time / vidzoo's (above 1: vidzoo faster).",
        "",
        table(rows),
        "",
    ] + [f"{', '.join(models)}: measured {date} on {where}, `{command}` ({rounds} rounds of "
         f"{repeats} calls)." for (date, where, command, rounds, repeats), models in runs.items()])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(REFERENCES),
                        choices=list(REFERENCES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="docs/benchmarks.md")
    parser.add_argument("--report_only", action="store_true",
                        help="rewrite the section from the stored rows, measuring nothing")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: framework model
    args = parser.parse_args()
    if args.one:
        framework, name = args.one
        measure = measure_vidzoo if framework == "vidzoo" else measure_pytorchvideo
        print(json.dumps(measure(name, args.repeats)))
        return
    command = " ".join(["python -m benchmarks.pytorchvideo_speed"] + sys.argv[1:])
    stored = json.load(open(STORE)) if os.path.exists(STORE) else {}
    for name in [] if args.report_only else args.models:
        stored[name] = dict(compare(name, args.rounds, args.repeats), command=command,
                            date=datetime.date.today().isoformat(), machine=machine.describe(),
                            rounds=args.rounds, repeats=args.repeats)
        with open(STORE, "w") as handle:
            json.dump(stored, handle, indent=1)
    rows = [stored[name] for name in REFERENCES if name in stored]
    text = report(rows)
    write_section(args.out, "pytorchvideo", text, title="Benchmarks")
    print(text)


if __name__ == "__main__":
    main()
