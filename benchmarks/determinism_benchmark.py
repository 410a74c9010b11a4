"""What `vidzoo train --deterministic` costs: the demo's baseline trained with
and without it, runs alternating in fresh processes, training seconds and
their ratio pair by pair. Writes docs/determinism_benchmark.md.

    python -m benchmarks.determinism_benchmark --pairs 3 --epochs 2
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

from benchmarks import machine

ONE_RUN = """
import json, sys
from vidzoo.training.train import TrainConfig, train
settings = json.loads(sys.argv[1])
summary = train(TrainConfig(**settings))
print("RESULT " + json.dumps({"seconds": summary["train_seconds"],
                              "loss": summary["history"]["loss"]}))
"""


def train_once(settings):
    """Train in a fresh process; returns (training seconds, per-epoch losses)."""
    done = subprocess.run([sys.executable, "-c", ONE_RUN, json.dumps(settings)],
                          capture_output=True, text=True, check=True)
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    return result["seconds"], result["loss"]


def run(args, workdir):
    from vidzoo.tf_data.synthetic import make_dataset
    from vidzoo.demo import FLIP_KEEPS_CLASS

    data = make_dataset(os.path.join(workdir, "data"), args.train_per_class, 1, frames=32,
                        size=64, seed=0)
    base = dict(model=args.model, train=data["train"], epochs=args.epochs, frames=args.frames,
                crop_size=args.crop_size, batch_size=8, lr=0.01, flip=FLIP_KEEPS_CLASS,
                verbose=0)
    pairs = []
    for index in range(args.pairs):
        times = {}
        for deterministic in (True, False):
            run_dir = os.path.join(workdir, f"run{index}_{deterministic}")
            times[deterministic] = train_once(dict(base, run_dir=run_dir,
                                                   deterministic=deterministic))
        pairs.append(times)
        print(index, {k: v[0] for k, v in times.items()}, flush=True)
    return base, pairs


def write_report(path, args, base, pairs, command):
    det = [p[True][0] for p in pairs]
    plain = [p[False][0] for p in pairs]
    ratios = [d / n for d, n in zip(det, plain)]
    same_losses = all(p[True][1] == pairs[0][True][1] for p in pairs)
    lines = [
        "# What deterministic training costs",
        "",
        f"Machine: {machine.describe()}, no GPU. Date: {datetime.date.today().isoformat()}.",
        "",
        f"Command: `{command}`",
        "",
        f"Run: `{base['model']}`, {args.epochs} epochs on the embedded synthetic data "
        f"({4 * args.train_per_class} training videos), {base['frames']}-frame clips at "
        f"{base['crop_size']} px, batch 8, no validation. Each pair trains the same run with "
        "`deterministic=True` and then without, each in a fresh process; the figure is the "
        "run's `train_seconds` (fit() only, model building excluded).",
        "",
        "| pair | deterministic s | default s | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for index, (d, n, r) in enumerate(zip(det, plain, ratios)):
        lines.append(f"| {index} | {d:.1f} | {n:.1f} | {r:.2f} |")
    lines += [
        "",
        f"Median ratio: **{statistics.median(ratios):.2f}** (deterministic / default). "
        f"Median seconds: {statistics.median(det):.1f} deterministic, "
        f"{statistics.median(plain):.1f} default; range {min(det):.1f}-{max(det):.1f} and "
        f"{min(plain):.1f}-{max(plain):.1f}."
        + (" The ranges overlap: the cost is within this machine's run-to-run spread."
           if min(det) <= max(plain) and min(plain) <= max(det) else ""),
        "",
        "The deterministic runs' per-epoch losses were "
        + ("identical in every pair." if same_losses else "NOT identical across pairs."),
        "",
    ]
    with open(path, "w") as handle:
        handle.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet3d_18")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--crop_size", type=int, default=56)
    parser.add_argument("--train_per_class", type=int, default=24)
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "..", "docs", "determinism_benchmark.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        base, pairs = run(args, workdir)
    command = "python -m benchmarks.determinism_benchmark " + " ".join(sys.argv[1:])
    write_report(args.output, args, base, pairs, command.strip())
    print(open(args.output).read())


if __name__ == "__main__":
    main()
