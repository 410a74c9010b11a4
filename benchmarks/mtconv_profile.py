"""Where MTNet-S's prolonged branch spends its CPU time at batch 1.

docs/results.md measured MTNet-S r = 0.875 about 2x slower per clip than
r = 1 (local branch only) on CPU, although it has 22% fewer FLOPs. This
script times, side by side in one run and under tf.function, MTNet-S at the
MTConv study's clip shape (1, 8, 56, 56, 3) with:

* r = 1 and r = 0.875 as implemented;
* r = 0.875 with the selected frames gathered by `ops.take_along_axis`, the
  implementation before `mtconv.take_frames`;
* r = 0.875 with one piece of the prolonged branch swapped for a cheap
  stand-in (SoftPool -> average pooling, triplet cosine selection -> every
  other frame, trilinear resize -> nearest-neighbour repetition), and with all
  three swapped. The stand-ins have the same output shapes, so the gap to the
  full r = 0.875 is what that piece costs; what is left with all three swapped
  is the cost of the branch's extra convolutions and small ops.

Rounds interleave the variants so that machine load hits them alike; the
median over rounds is reported. Writes docs/mtconv_profile.md.

    python -m benchmarks.mtconv_profile [--rounds 15] [--calls 5]
"""

import argparse
import contextlib
import datetime
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from benchmarks import machine  # noqa: E402
from vidzoo.layers import mtconv  # noqa: E402
from vidzoo.zoo.flops import count_flops  # noqa: E402
from vidzoo.zoo import get_model  # noqa: E402

SHAPE = (1, 8, 56, 56, 3)


def average_pool(x, pool_size=(1, 2, 2)):
    return ops.average_pool(x, pool_size, pool_size, padding="same")


def every_other_frame(x):
    return x[:, ::2][:, : max(1, x.shape[1] // 2)]


def nearest_resize(x, size):
    for axis, length in zip((1, 2, 3), size):
        factor = -(-length // x.shape[axis])
        x = ops.repeat(x, factor, axis=axis)
        x = ops.take(x, ops.arange(length), axis=axis) if x.shape[axis] != length else x
    return x


def take_along_time(x, index):
    return ops.take_along_axis(x, index[:, :, None, None, None], axis=1)


STAND_INS = {
    "take_frames": take_along_time,
    "soft_pool": average_pool,
    "triplet_cosine_select": every_other_frame,
    "trilinear_resize": nearest_resize,
}

VARIANTS = {
    "r = 1 (local branch only)": (1.0, ()),
    "r = 0.875": (0.875, ()),
    "r = 0.875, frames gathered by take_along_axis (before)": (0.875, ("take_frames",)),
    "r = 0.875, SoftPool -> average pool": (0.875, ("soft_pool",)),
    "r = 0.875, frame selection -> every other frame": (0.875, ("triplet_cosine_select",)),
    "r = 0.875, trilinear -> nearest resize": (0.875, ("trilinear_resize",)),
    "r = 0.875, all three swapped": (0.875, ("soft_pool", "triplet_cosine_select",
                                                "trilinear_resize")),
}


@contextlib.contextmanager
def swapped(names):
    """Replace mtconv module functions by their stand-ins while tracing."""
    saved = {name: getattr(mtconv, name) for name in names}
    for name in names:
        setattr(mtconv, name, STAND_INS[name])
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(mtconv, name, function)


def traced_forward(ratio, names, clip):
    """A traced batch-1 forward of MTNet-S, its GFLOPs and its number of
    MTConvs with a prolonged branch, stand-ins baked in."""
    model = get_model("mtnet_s", input_shape=SHAPE[1:], classes=4, ratio=ratio)
    forward = tf.function(lambda x: model(x, training=False))
    with swapped(names):
        forward(clip).numpy()
        gflops = count_flops(model, SHAPE[1:]) / 1e9
    prolonged = sum(block.mtconv.has_prolonged for block in model.layers
                    if isinstance(block, mtconv.MTBlock))
    return forward, {"gflops": gflops, "prolonged": prolonged}


def time_rounds(forwards, clip, rounds, calls):
    """Median seconds per call of each forward, rounds interleaving them."""
    seconds = {name: [] for name in forwards}
    for _ in range(rounds):
        for name, forward in forwards.items():
            start = time.perf_counter()
            for _ in range(calls):
                forward(clip).numpy()
            seconds[name].append((time.perf_counter() - start) / calls)
    return {name: float(np.median(values)) for name, values in seconds.items()}


def write_report(path, rows, args):
    reference = rows["r = 1 (local branch only)"]["ms"]
    full = rows["r = 0.875"]["ms"]
    lines = [
        "# MTNet-S batch-1 CPU latency: where the prolonged branch's time goes",
        "",
        f"Measured {datetime.date.today()} on {machine.describe()}, input {SHAPE}, "
        "forward under tf.function, "
        f"median of {args.rounds} interleaved rounds of {args.calls} calls.",
        "",
        "    python -m benchmarks.mtconv_profile " +
        f"--rounds {args.rounds} --calls {args.calls}",
        "",
        "A stand-in has the same output shape as the piece it replaces; "
        "'saved' is the full r = 0.875 time minus the variant's.",
        "",
        "| variant | GFLOPs | ms/clip | vs r = 1 | saved vs r = 0.875 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['gflops']:.3f} | {row['ms']:.1f} | "
                     f"{row['ms'] / reference:.2f}x | {full - row['ms']:+.1f} ms |")
    lines += ["", summary(rows)]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def summary(rows):
    """What the measurements say, in words (computed, not written by hand)."""
    reference = rows["r = 1 (local branch only)"]["ms"]
    full = rows["r = 0.875"]
    swapped_all = rows["r = 0.875, all three swapped"]["ms"]
    before = rows["r = 0.875, frames gathered by take_along_axis (before)"]["ms"]
    added = full["ms"] - reference
    rest = swapped_all - reference
    return (f"r = 0.875 adds {added:.1f} ms per clip to r = 1 while computing "
            f"{100 * (1 - full['gflops'] / rows['r = 1 (local branch only)']['gflops']):.0f}% "
            f"fewer GFLOPs. SoftPool, frame selection and the trilinear resize together "
            f"account for {full['ms'] - swapped_all:.1f} ms of it; the remaining "
            f"{rest:.1f} ms ({100 * rest / added:.0f}%) is what MTNet-S's "
            f"{full['prolonged']} prolonged branches add besides them: two more Conv3D + BN "
            "each, on small tensors, the channel split and the concatenation. We read this "
            "as the fixed cost of many small ops at batch 1 (not measured op by op). "
            "Gathering the selected frames with "
            f"`take_along_axis`, as before `mtconv.take_frames`, cost {before - full['ms']:+.1f} "
            "ms per clip.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "..", "docs", "mtconv_profile.md"))
    args = parser.parse_args(argv)
    tf.random.set_seed(0)
    clip = tf.random.normal(SHAPE)
    forwards, rows = {}, {}
    for name, (ratio, names) in VARIANTS.items():
        forwards[name], rows[name] = traced_forward(ratio, names, clip)
    for name, seconds in time_rounds(forwards, clip, args.rounds, args.calls).items():
        rows[name]["ms"] = 1000 * seconds
        print(f"{name:55s} {rows[name]['gflops']:.3f} GFLOPs {rows[name]['ms']:7.1f} ms",
              file=sys.stderr)
    write_report(args.output, rows, args)


if __name__ == "__main__":
    main()
