"""Channelwise 3x3x3 conv on TF CPU: Conv3D(groups=C) vs vidzoo's DepthwiseConv3D.

Side by side in one run, under tf.function: the forward pass, and a training
step's forward + backward (gradients of a squared-sum loss with respect to the
input and the kernel). Rows: Keras' grouped Conv3D, DepthwiseConv3D with its
explicit gradient, the same sum of depthwise 2D convs differentiated by TF's
autodiff (the gradient DepthwiseConv3D replaced), and a dense Conv3D of the
same shape for scale. Writes docs/depthwise_benchmark.md.

    python -m benchmarks.depthwise_benchmark [--repeats 20]
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
from vidzoo.layers import DepthwiseConv3D  # noqa: E402
from vidzoo.layers.depthwise import channelwise_correlation  # noqa: E402

SHAPE = (2, 8, 32, 32, 48)


def seconds_per_call(function, repeats):
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        tf.nest.map_structure(lambda t: t.numpy(), function())
    return (time.perf_counter() - start) / repeats


def forward_and_step(apply, kernel, x):
    """tf.functions of the forward pass and of forward + both gradients."""
    forward = tf.function(lambda: apply(x))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(apply(x)))
        return tape.gradient(loss, [x, kernel])

    return forward, step


def candidates(stride, x):
    """name -> (apply, kernel) of the channelwise convs compared, same kernel."""
    channels = x.shape[-1]
    grouped = keras.layers.Conv3D(channels, 3, (1, stride, stride), padding="same",
                                  groups=channels, use_bias=False)
    ours = DepthwiseConv3D(3, stride)
    dense = keras.layers.Conv3D(channels, 3, (1, stride, stride), padding="same", use_bias=False)
    for layer in (grouped, ours, dense):
        layer(x)
    ours.set_weights(grouped.get_weights())
    pads = ours._pads(x.shape[2], x.shape[3])
    return {
        "Conv3D(groups=C)": (grouped, grouped.kernel),
        "DepthwiseConv3D": (ours, ours.kernel),
        "DepthwiseConv3D, TF autodiff gradient": (
            lambda v: channelwise_correlation(v, ours.kernel, pads, stride), ours.kernel),
        "dense Conv3D (C -> C)": (dense, dense.kernel),
    }


def measure(stride, x, repeats):
    """Rows of one stride, and the largest forward / gradient difference to Conv3D(groups=C)."""
    timings, results = {}, {}
    for name, (apply, kernel) in candidates(stride, x).items():
        forward, step = forward_and_step(apply, kernel, x)
        timings[name] = (seconds_per_call(forward, repeats), seconds_per_call(step, repeats))
        if not name.startswith("dense"):
            results[name] = [forward()] + step()
    reference = results.pop("Conv3D(groups=C)")
    max_diff = max(float(np.abs(a.numpy() - b.numpy()).max() / max(1.0, np.abs(b.numpy()).max()))
                   for other in results.values() for a, b in zip(other, reference))
    return timings, max_diff


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "..", "docs", "depthwise_benchmark.md"))
    args = parser.parse_args()
    x = tf.constant(np.random.default_rng(0).normal(size=SHAPE).astype("float32"))
    lines = [
        "# Channelwise 3x3x3 convolution on TensorFlow CPU",
        "",
        f"Machine: {machine.describe()}. Date: {datetime.date.today().isoformat()}.",
        "",
        "Command: `" + " ".join(["python -m benchmarks.depthwise_benchmark"] + sys.argv[1:]) + "`",
        "",
        f"Input {SHAPE}, 'same' padding, no bias, mean of {args.repeats} calls under "
        "tf.function. Training step: forward plus the gradients of sum(y^2) with respect to "
        "the input and the kernel. Ratios are to Conv3D(groups=C) in the same run.",
    ]
    for stride in (1, 2):
        timings, max_diff = measure(stride, x, args.repeats)
        base_forward, base_step = timings["Conv3D(groups=C)"]
        lines += [
            "",
            f"## Spatial stride {stride}",
            "",
            "Largest difference of output or gradients to Conv3D(groups=C), relative to the "
            f"largest value: {max_diff:.1e}.",
            "",
            "| layer | forward ms | forward / grouped | training step ms | step / grouped |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, (forward, step) in timings.items():
            lines.append(f"| {name} | {forward * 1e3:.1f} | {forward / base_forward:.3f} | "
                         f"{step * 1e3:.1f} | {step / base_step:.3f} |")
    lines.append("")
    with open(args.output, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
