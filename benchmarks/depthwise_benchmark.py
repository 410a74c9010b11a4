"""Channelwise 3x3x3 conv on TF CPU: Conv3D(groups=C) vs vidzoo's DepthwiseConv3D.

Side by side in one run, under tf.function, with a dense Conv3D of the same
shape for scale. Writes docs/depthwise_benchmark.md.

    python benchmarks/depthwise_benchmark.py [--repeats 20]
"""

import argparse
import datetime
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vidzoo.layers import DepthwiseConv3D  # noqa: E402

SHAPE = (2, 8, 32, 32, 48)


def seconds_per_call(layer, x, repeats):
    call = tf.function(lambda v: layer(v))
    call(x)
    start = time.perf_counter()
    for _ in range(repeats):
        call(x).numpy()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "..", "docs", "depthwise_benchmark.md"))
    args = parser.parse_args()
    x = tf.constant(np.random.default_rng(0).normal(size=SHAPE).astype("float32"))
    channels = SHAPE[-1]
    grouped = keras.layers.Conv3D(channels, 3, padding="same", groups=channels, use_bias=False)
    ours = DepthwiseConv3D(3)
    dense = keras.layers.Conv3D(channels, 3, padding="same", use_bias=False)
    grouped(x)
    ours(x)
    ours.set_weights(grouped.get_weights())
    max_diff = float(np.abs(ours(x).numpy() - grouped(x).numpy()).max())
    timings = {name: seconds_per_call(layer, x, args.repeats)
               for name, layer in (("Conv3D(groups=C)", grouped), ("DepthwiseConv3D", ours),
                                   ("dense Conv3D (C -> C)", dense))}
    base = timings["Conv3D(groups=C)"]
    lines = [
        "# Channelwise 3x3x3 convolution on TensorFlow CPU",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}. Date: {datetime.date.today().isoformat()}.",
        "",
        "Command: `" + " ".join(["python benchmarks/depthwise_benchmark.py"] + sys.argv[1:]) + "`",
        "",
        f"Input {SHAPE}, 'same' padding, no bias, mean of {args.repeats} calls under tf.function. "
        f"DepthwiseConv3D vs Conv3D(groups=C) with the same kernel: max |difference| = "
        f"{max_diff:.1e}.",
        "",
        "| layer | ms per call | time / Conv3D(groups=C) |",
        "|---|---:|---:|",
    ]
    for name, seconds in timings.items():
        lines.append(f"| {name} | {seconds * 1e3:.1f} | {seconds / base:.3f} |")
    lines.append("")
    with open(args.output, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
