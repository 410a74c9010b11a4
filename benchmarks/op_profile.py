"""Where the time goes: a zoo model and its pytorchvideo reference, op by op,
grouped into the same categories. Writes a section of docs/benchmarks.md.

    python -m benchmarks.op_profile --models x3d_xs:forward slow_r50:train

Issue 22 asks, where vidzoo is slower than the reference, which op holds it
back and by how much. Each (framework, model, mode) runs in a fresh process:
- vidzoo: the model's forward pass (`training=False`) or its forward and
  backward pass (`training=True`, gradients of the cross-entropy for every
  trainable weight) as one TensorFlow graph, the weights fed as inputs (as
  variables are read at run time, so nothing is constant-folded), run by a
  `tf.compat.v1.Session` with full tracing: each node's time and op type.
- pytorchvideo: the same under `torch.profiler`, each op's self time; a
  convolution is channelwise when its weight has one input channel.
The training step leaves out the optimizer's update in both.

TensorFlow runs independent ops side by side, so its op times add up to more
than the step's wall time; each category's milliseconds are its share of the
summed op time times the untraced wall time (median of `--repeats` calls).
PyTorch runs ops one after another, so its self times add up to the wall time.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import machine  # noqa: E402
from benchmarks.fresh_process import run_json  # noqa: E402
from benchmarks.pytorchvideo_speed import REFERENCES, SLOWFAST_ALPHA  # noqa: E402
from benchmarks.sections import write_section  # noqa: E402

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


def _tf_graph(model, shape, mode):
    """A concrete function of (clip, trainable weights, other weights) -> the
    logits (forward) or every trainable weight's gradient (train)."""
    import keras
    import tensorflow as tf

    trainable = [v.value for v in model.trainable_variables]
    others = [v.value for v in model.non_trainable_variables]

    def forward(clip, trainable, others):
        return model.stateless_call(trainable, others, clip, training=False)[0]

    def train(clip, trainable, others):
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            logits, _ = model.stateless_call(trainable, others, clip, training=True)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(
                tf.one_hot([0], logits.shape[-1]), logits))
        return tape.gradient(loss, trainable)

    specs = [tf.TensorSpec((1,) + shape, "float32"),
             [tf.TensorSpec(v.shape, v.dtype) for v in trainable],
             [tf.TensorSpec(v.shape, v.dtype) for v in others]]
    function = tf.function(forward if mode == "forward" else train)
    return function.get_concrete_function(*specs), trainable + others


def profile_vidzoo(name, mode, repeats):
    """{"wall_ms", "categories": {category: ms}, "ops": {op type: ms}}."""
    import numpy as np
    import tensorflow as tf

    from vidzoo import zoo

    frames, height, width = REFERENCES[name][1]
    shape = (frames, height, width, 3)
    model = zoo.get_model(name, input_shape=shape, classes=400)
    concrete, weights = _tf_graph(model, shape, mode)
    graph = tf.Graph()
    with graph.as_default():
        outputs = tf.graph_util.import_graph_def(
            concrete.graph.as_graph_def(), name="",
            return_elements=[t.name for t in concrete.outputs])
        inputs = [graph.get_tensor_by_name(t.name) for t in concrete.inputs]
    clip = np.random.default_rng(0).normal(size=(1,) + shape).astype("float32")
    feed = dict(zip(inputs, [clip] + [np.asarray(w) for w in weights]))
    session = tf.compat.v1.Session(graph=graph)
    wall = _median_ms(lambda: session.run(outputs, feed), repeats)
    op_times = {}
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    for _ in range(repeats):
        metadata = tf.compat.v1.RunMetadata()
        session.run(outputs, feed, options=options, run_metadata=metadata)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                op_type = _tf_op_type(node)
                op_times[op_type] = op_times.get(op_type, 0.0) + node.all_end_rel_micros / repeats
    categories = {}
    for op_type, micros in op_times.items():
        label = _tf_op_category(op_type)
        categories[label] = categories.get(label, 0.0) + micros
    return _scaled(wall, categories, op_times)


def _tf_op_type(node):
    """The op type of a traced node: 'name = Type(inputs)' in its timeline label."""
    label = node.timeline_label
    if " = " in label:
        return label.split(" = ", 1)[1].split("(", 1)[0].strip()
    return node.node_name.split("/")[-1].split(":")[0]


def _scaled(wall_ms, categories, ops):
    """Category and op times as shares of their sum times the wall time."""
    total = sum(categories.values()) or 1.0
    return {"wall_ms": wall_ms,
            "categories": {k: wall_ms * v / total for k, v in categories.items()},
            "ops": {k: wall_ms * v / total for k, v in sorted(ops.items(), key=lambda kv: -kv[1])
                    [:12]}}


def _median_ms(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


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

    def train():
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(inputs()), label).backward()

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
            "gives the method). The training step is forward and backward, without the "
            "optimizer update.", ""]
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
