"""Where the time goes: a zoo model and its pytorchvideo reference, op by op,
grouped into the same categories. Writes a section of docs/benchmarks.md.

    python -m benchmarks.op_profile --models x3d_xs:forward slow_r50:train

Issue 22 asks, where vidzoo is slower than the reference, which op holds it
back and by how much. Each (framework, model, mode) runs in a fresh process and
profiles exactly what `benchmarks/pytorchvideo_speed.py` times:
- vidzoo: `predict_on_batch` (forward) or `train_on_batch` with SGD (train)
  under TensorFlow's profiler; each op event of its compute threads is named
  'node:OpType', and its duration counts for that op type.
- pytorchvideo: `eval()` under `inference_mode`, or forward, cross-entropy,
  backward and an SGD step, under `torch.profiler`: each op's self time; a
  convolution is channelwise when its weight has one input channel.

TensorFlow runs independent ops side by side and its profile leaves out the
Python and dispatch time around them, so op times do not add up to the wall
time; each category's milliseconds are its share of the summed op time times
the untraced wall time (median of `--repeats` calls). PyTorch's self times,
Python overhead included, are scaled the same way.
"""

import argparse
import datetime
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import machine  # noqa: E402
from benchmarks.fresh_process import run_json  # noqa: E402
from benchmarks.pytorchvideo_speed import REFERENCES, SLOWFAST_ALPHA  # noqa: E402
from benchmarks.sections import write_section  # noqa: E402
from vidzoo.benchmarking import median_seconds  # noqa: E402

STORE = "docs/data/op_profile.json"
CATEGORIES = ("dense conv", "channelwise conv", "matmul", "elementwise and batch norm",
              "pooling and reductions", "data movement", "other")
# Substrings of op names, checked in this order (lower case); convolutions are
# split into dense and channelwise by each framework's own rule.
_RULES = (
    ("matmul", ("matmul", "addmm", "linear", "aten::mm", "aten::bmm")),
    ("pooling and reductions", ("pool", "mean", "aten::sum", "sum", "max", "softmax",
                                "log_softmax", "nll", "cross_entropy")),
    ("data movement", ("pad", "slice", "reshape", "view", "transpose", "permute", "concat",
                       "cat", "pack", "unpack", "tile", "spacetobatch", "batchtospace",
                       "reverse", "squeeze", "expand", "identity", "copy", "contiguous",
                       "clone", "select", "narrow", "index", "stack", "split", "fill",
                       "zeros", "empty", "flip", "to_dense", "as_strided", "resize")),
    ("elementwise and batch norm", ("batch_norm", "batchnorm", "mul", "add", "sub", "div",
                                    "relu", "sigmoid", "silu", "swish", "threshold", "rsqrt",
                                    "sqrt", "squareddifference", "square", "neg", "exp",
                                    "tanh", "hardswish", "bias", "maximum", "minimum")),
)


def category(op_name, is_conv=False, channelwise=False):
    """The category of one op (its type or aten name)."""
    if is_conv:
        return "channelwise conv" if channelwise else "dense conv"
    name = op_name.lower()
    for label, keys in _RULES:
        if any(key in name for key in keys):
            return label
    return "other"


def _tf_op_category(op_type):
    lowered = op_type.lower()
    if "depthwiseconv2d" in lowered:  # DepthwiseConv3D's forward and its written-out gradient
        return "channelwise conv"
    return category(op_type, is_conv="conv" in lowered)


def _xplane_op_times(logdir, calls):
    """{op type: microseconds per call} from the profile TensorFlow wrote to
    `logdir`: the op events of its compute threads, named 'node:OpType'."""
    import glob

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    op_times = {}
    for path in glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as handle:
            space.ParseFromString(handle.read())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    if ":" not in name or "::" in name:  # executor bookkeeping, not an op
                        continue
                    op_type = name.rsplit(":", 1)[1]
                    op_times[op_type] = op_times.get(op_type, 0.0) + event.duration_ps / 1e6 / calls
    return op_times


def profile_vidzoo(name, mode, repeats):
    """{"wall_ms", "categories": {category: ms}, "ops": {op type: ms}} of
    `predict_on_batch` (forward) or `train_on_batch` (train), as the speed
    table times them, under TensorFlow's profiler."""
    import tempfile

    import keras
    import numpy as np
    import tensorflow as tf

    from vidzoo import zoo

    frames, height, width = REFERENCES[name][1]
    model = zoo.get_model(name, input_shape=(frames, height, width, 3), classes=400)
    clip = np.random.default_rng(0).normal(size=(1, frames, height, width, 3)).astype("float32")
    if mode == "forward":
        def step():
            model.predict_on_batch(clip)
    else:
        label = keras.utils.to_categorical([0], 400)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")

        def step():
            model.train_on_batch(clip, label)
    wall = _median_ms(step, repeats)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(repeats):
            step()
        tf.profiler.experimental.stop()
        op_times = _xplane_op_times(logdir, repeats)
    categories = {}
    for op_type, micros in op_times.items():
        label = _tf_op_category(op_type)
        categories[label] = categories.get(label, 0.0) + micros
    return _scaled(wall, categories, op_times)


def _scaled(wall_ms, categories, ops):
    """Category and op times as shares of their sum times the wall time."""
    total = sum(categories.values()) or 1.0
    return {"wall_ms": wall_ms,
            "categories": {k: wall_ms * v / total for k, v in categories.items()},
            "ops": {k: wall_ms * v / total for k, v in sorted(ops.items(), key=lambda kv: -kv[1])
                    [:12]}}


def _median_ms(function, repeats):
    return 1000 * median_seconds(function, repeats)


def _torch_is_conv(event):
    return "conv" in event.name.lower()


def _torch_channelwise(event):
    """A conv event whose weight (the 5-D shape after the input) has one input channel."""
    shapes = [s for s in (event.input_shapes or []) if len(s) == 5]
    return len(shapes) >= 2 and any(s[1] == 1 for s in shapes[1:] if s[0] > 1)


def profile_pytorchvideo(name, mode, repeats):
    """{"wall_ms", "categories": {category: ms}, "ops": {aten op: ms}}."""
    import torch
    from pytorchvideo.models import hub
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(os.cpu_count())
    constructor, (frames, height, width) = REFERENCES[name]
    model = getattr(hub, constructor)(pretrained=False)
    clip = torch.randn(1, 3, frames, height, width)
    label = torch.tensor([0])

    def inputs():
        return [clip[:, :, ::SLOWFAST_ALPHA], clip] if constructor == "slowfast_r50" else clip

    def forward():
        with torch.inference_mode():
            model(inputs())

    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def train():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs()), label).backward()
        optimizer.step()

    model.train(mode == "train")
    step = forward if mode == "forward" else train
    wall = _median_ms(step, repeats)
    categories, ops = {}, {}
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        for _ in range(repeats):
            step()
    for event in profiler.events():
        micros = event.self_cpu_time_total / repeats
        is_conv = _torch_is_conv(event)
        label = category(event.name, is_conv, is_conv and _torch_channelwise(event))
        categories[label] = categories.get(label, 0.0) + micros
        ops[event.name] = ops.get(event.name, 0.0) + micros
    return _scaled(wall, categories, ops)


def compare(name, mode, repeats):
    row = {"model": name, "mode": mode, "input": "x".join(map(str, REFERENCES[name][1]))}
    for framework in ("vidzoo", "pytorchvideo"):
        row[framework] = run_json("benchmarks.op_profile", "--one", framework, name, mode,
                                  "--repeats", repeats)
    print(json.dumps(row), flush=True)
    return row


def table(row):
    ours, theirs = row["vidzoo"], row["pytorchvideo"]
    lines = [f"**{row['model']}, {row['mode']}** ({row['input']}): vidzoo "
             f"{ours['wall_ms']:.0f} ms, pytorchvideo {theirs['wall_ms']:.0f} ms "
             f"(ratio {theirs['wall_ms'] / ours['wall_ms']:.2f}; above 1, vidzoo faster)",
             "",
             "| category | vidzoo ms | pytorchvideo ms | vidzoo - pytorchvideo ms |",
             "|---|---:|---:|---:|"]
    for label in CATEGORIES:
        a, b = ours["categories"].get(label, 0.0), theirs["categories"].get(label, 0.0)
        if a or b:
            lines.append(f"| {label} | {a:.1f} | {b:.1f} | {a - b:+.1f} |")
    for framework, result in (("vidzoo", ours), ("pytorchvideo", theirs)):
        top = ", ".join(f"{op} {ms:.1f}" for op, ms in list(result["ops"].items())[:6])
        lines.append(f"\nTop ops, {framework} (ms): {top}.")
    return "\n".join(lines)


def findings(row):
    """The category that costs vidzoo the most milliseconds over the reference."""
    ours, theirs = row["vidzoo"]["categories"], row["pytorchvideo"]["categories"]
    gaps = {label: ours.get(label, 0.0) - theirs.get(label, 0.0) for label in CATEGORIES}
    worst = max(gaps, key=gaps.get)
    excess = row["vidzoo"]["wall_ms"] - row["pytorchvideo"]["wall_ms"]
    return (f"- {row['model']} {row['mode']}: vidzoo is {excess:+.0f} ms against the "
            f"reference; the largest excess is {worst} ({gaps[worst]:+.1f} ms).")


def report(rows):
    head = ["## Where the time goes: vidzoo against pytorchvideo, op by op (batch 1, CPU)",
            "",
            "For the rows of the table above where vidzoo is slower: each framework's "
            "time split into the same op categories (`benchmarks/op_profile.py`'s docstring "
            "gives the method): what the table above times, forward and training step with "
            "its SGD update.", ""]
    body = []
    for row in rows:
        body += [table(row), "", f"Measured {row['date']} on {row['machine']}: "
                 f"`{row['command']}`.", ""]
    return "\n".join(head + body + ["Findings:"] + [findings(row) for row in rows])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["x3d_xs:forward", "slow_r50:train"],
                        help="model:mode pairs, mode forward or train")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="docs/benchmarks.md")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # framework model mode
    args = parser.parse_args()
    if args.one:
        framework, name, mode = args.one
        profiler = profile_vidzoo if framework == "vidzoo" else profile_pytorchvideo
        print(json.dumps(profiler(name, mode, args.repeats)))
        return
    pairs = [item.split(":") for item in args.models]
    for name, mode in pairs:
        if name not in REFERENCES or mode not in ("forward", "train"):
            parser.error(f"--models takes NAME:forward or NAME:train with NAME one of "
                         f"{sorted(REFERENCES)}; got {name}:{mode}")
    command = " ".join(["python -m benchmarks.op_profile"] + sys.argv[1:])
    stored = json.load(open(STORE)) if os.path.exists(STORE) else {}
    for name, mode in pairs:
        stored[f"{name}:{mode}"] = dict(compare(name, mode, args.repeats), command=command,
                                        date=datetime.date.today().isoformat(),
                                        machine=machine.describe())
        with open(STORE, "w") as handle:
            json.dump(stored, handle, indent=1)
    text = report(list(stored.values()))
    write_section(args.out, "op_profile", text, title="Benchmarks")
    print(text)


if __name__ == "__main__":
    main()
