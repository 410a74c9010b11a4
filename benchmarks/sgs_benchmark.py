"""SGS benchmark: a Conv3D stack after SGS does less work as B' falls.

Builds clips whose similarity values Delta fill exactly B' of the B = T bins
(frames placed at bin centres), runs SGS + a stack of 3x3x3 Conv3D layers
under tf.function, and reports wall time and multiply-adds (the MAC "GFLOPs"
convention of torchvision/PySlowFast) against the same stack on all T frames,
side by side in one run, as ratios. Writes docs/sgs_benchmark.md.

    python -m benchmarks.sgs_benchmark [--frames 16] [--size 28] [--channels 64]
"""

import argparse
import datetime
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import machine  # noqa: E402
from vidzoo.layers import similarity_guided_sampling  # noqa: E402


def conv_stack(channels, depth):
    return keras.Sequential(
        [keras.layers.Conv3D(channels, 3, padding="same", activation="relu") for _ in range(depth)]
    )


def stack_macs(frames, size, channels, depth):
    """Multiply-adds of `depth` same-padded 3x3x3 convs C -> C on frames x size^2."""
    return depth * frames * size * size * channels * channels * 27


def delta_for_active_bins(frames, active):
    """Delta (1, T) that puts the T frames into exactly `active` of T bins.

    Frames are spread over bin centres 1, 3, ... (in units of gamma); the last
    frame gets Delta_max = 2T, which sits on the outer edge (weight 0), so the
    centres used are of bins 1..active and Delta_max is fixed at 2T.
    """
    centres = 2 * np.arange(active) + 1.0
    values = centres[np.arange(frames - 1) % active]
    return np.append(values, 2.0 * frames)[None, :].astype("float32")


def time_call(function, *args, repeats):
    function(*args)  # trace and warm up
    start = time.perf_counter()
    for _ in range(repeats):
        function(*args)
    return (time.perf_counter() - start) / repeats


def run(frames, size, channels, depth, repeats):
    features = tf.constant(
        np.random.default_rng(0).normal(size=(1, frames, size, size, channels)).astype("float32")
    )
    stack = conv_stack(channels, depth)
    stack(features)

    @tf.function(reduce_retracing=True)
    def baseline(x):
        return stack(x)

    @tf.function(reduce_retracing=True)
    def with_sgs(x, delta):
        outputs, counts = similarity_guided_sampling(x, delta, frames)
        return stack(outputs), counts

    base_time = time_call(baseline, features, repeats=repeats)
    base_macs = stack_macs(frames, size, channels, depth)
    rows = []
    for active in sorted({1, 2, frames // 4, frames // 2, frames - 1}):
        if active < 1:
            continue
        delta = tf.constant(delta_for_active_bins(frames, active))
        _, counts = with_sgs(features, delta)
        measured = int(counts.numpy()[0])
        seconds = time_call(with_sgs, features, delta, repeats=repeats)
        macs = stack_macs(measured, size, channels, depth)
        rows.append((measured, macs, seconds))
    return base_time, base_macs, rows


def write_report(path, args, base_time, base_macs, rows, command):
    lines = [
        "# SGS benchmark: work after SGS against B'",
        "",
        f"Machine: {machine.describe()}, no GPU. "
        f"Date: {datetime.date.today().isoformat()}.",
        "",
        f"Command: `{command}`",
        "",
        f"Input: 1 clip of T = {args.frames} frames, {args.size}x{args.size}, {args.channels} "
        f"channels; after SGS (B = T, linear kernel) a stack of {args.depth} Conv3D 3x3x3 "
        f"{args.channels}->{args.channels} layers. Baseline: the same stack on all T frames "
        f"without SGS. GFLOPs are multiply-adds of the conv stack (torchvision/PySlowFast "
        "convention). Times are the mean of "
        f"{args.repeats} calls under tf.function, SGS included in the SGS rows.",
        "",
        "| B' | stack GFLOPs | FLOPs / baseline | time (ms) | time / baseline |",
        "|---:|---:|---:|---:|---:|",
        f"| {args.frames} (no SGS) | {base_macs / 1e9:.3f} | 1.00 | {base_time * 1e3:.1f} | 1.00 |",
    ]
    for active, macs, seconds in rows:
        lines.append(
            f"| {active} | {macs / 1e9:.3f} | {macs / base_macs:.2f} | {seconds * 1e3:.1f} | "
            f"{seconds / base_time:.2f} |"
        )
    lines.append("")
    with open(path, "w") as handle:
        handle.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "..", "docs", "sgs_benchmark.md"))
    args = parser.parse_args()
    base_time, base_macs, rows = run(args.frames, args.size, args.channels, args.depth,
                                     args.repeats)
    command = "python -m benchmarks.sgs_benchmark " + " ".join(sys.argv[1:])
    write_report(args.output, args, base_time, base_macs, rows, command.strip())
    print(open(args.output).read())


if __name__ == "__main__":
    main()
