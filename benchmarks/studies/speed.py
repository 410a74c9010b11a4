"""Speed of the zoo on CPU: forward and training-step throughput of the
models of the zoo at their standard input, batch 1, and, in the same process
and run, the PyTorch reference (torchvision's video models, where torchvision
can be installed next to the CPU torch wheel) on the same input, as ratios.

Forward: `predict_on_batch` (a compiled tf.function). Training step:
`train_on_batch` with SGD and cross-entropy (forward, backward, update).
Medians of REPEATS calls after one warm-up call (which traces the graph).
Each model is measured in its own Python process (`python speed.py MODEL`):
TensorFlow keeps the memory of every model built before, and X3D-XL's
training step alone needs about half of a 24 GiB machine.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np

import vidzoo.zoo as zoo
from benchmarks.studies.common import ROOT, markdown_table, pyplot, save_plot, time_calls
from vidzoo.zoo.flops import count_flops

TITLE = '6. Speed of the zoo on CPU, with the PyTorch reference'

REPEATS = 2
# vidzoo name -> torchvision.models.video constructor of the same architecture
TORCH_REFERENCES = {"r3d_18": "r3d_18", "mc3_18": "mc3_18", "r2plus1d_18": "r2plus1d_18",
                    "s3d_torchvision": "s3d"}


def models():
    """Every registered model except the adaptive variants (*_atfr, *_clustering):
    their cost depends on the clip and is measured in their own studies."""
    return [name for name in zoo.list_models() if zoo.variant(name).adaptation is None]


def _keras_speed(name):
    keras.backend.clear_session()
    model = zoo.get_model(name)
    shape = tuple(model.inputs[0].shape[1:])
    clip = np.random.default_rng(0).normal(size=(1,) + shape).astype("float32")
    label = keras.utils.to_categorical([0], model.outputs[0].shape[-1])
    forward = time_calls(lambda: model.predict_on_batch(clip), REPEATS)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
    step = time_calls(lambda: model.train_on_batch(clip, label), REPEATS)
    return {"input": list(shape), "parameters": int(model.count_params()),
            "gflops": count_flops(model) / 1e9, "forward_clips_per_s": 1 / forward,
            "train_clips_per_s": 1 / step}


def torchvision_video_modules():
    """torchvision's video model modules. The PyPI torchvision wheel's compiled
    ops do not load with the CPU torch wheel (`operator torchvision::nms does
    not exist`), and the video models do not use them, so when the normal
    import fails, the model sources are imported under stub parent packages
    that skip torchvision's `__init__` (which registers the ops)."""
    import importlib
    import sys
    import types

    try:
        from torchvision.models.video import resnet, s3d
        return resnet, s3d
    except Exception:  # noqa: BLE001 - fall back to the model sources below
        for name in [key for key in sys.modules if key.startswith("torchvision")]:
            del sys.modules[name]
    spec = importlib.util.find_spec("torchvision")
    root = os.path.dirname(spec.origin)
    for name, folder in (("torchvision", ""), ("torchvision.models", "models"),
                         ("torchvision.models.video", "models/video")):
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, folder)]
        sys.modules[name] = package
    return (importlib.import_module("torchvision.models.video.resnet"),
            importlib.import_module("torchvision.models.video.s3d"))


def _torch_speed(constructor, shape):
    import torch

    resnet, s3d = torchvision_video_modules()
    model = getattr(s3d if constructor == "s3d" else resnet, constructor)()
    clip = torch.randn((1, shape[3]) + tuple(shape[:3]))
    label = torch.zeros(1, dtype=torch.long)

    def forward():
        with torch.no_grad():
            model(clip)

    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step():
        optimizer.zero_grad()
        loss_fn(model(clip), label).backward()
        optimizer.step()

    model.eval()
    seconds = time_calls(forward, REPEATS)
    model.train()
    return {"forward_clips_per_s": 1 / seconds,
            "train_clips_per_s": 1 / time_calls(train_step, REPEATS),
            "torch": torch.__version__,
            "parameters": sum(parameter.numel() for parameter in model.parameters())}


def torch_available():
    """None when torch and torchvision's video models load, else why not."""
    try:
        torchvision_video_modules()
    except Exception as error:  # noqa: BLE001 - torch or torchvision not installed
        return f"{type(error).__name__}: {error}"
    return None


def measure(name, with_torch):
    """One model's speed row, with the PyTorch reference's when it has one."""
    row = _keras_speed(name)
    if with_torch and name in TORCH_REFERENCES:
        row["torch"] = _torch_speed(TORCH_REFERENCES[name], row["input"])
    return row


def measure_in_fresh_process(name, with_torch):
    command = [sys.executable, "-m", "benchmarks.studies.speed", name, str(int(with_torch))]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"speed of {name} failed (exit {done.returncode}): "
                           f"{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(bench):
    missing_torch = torch_available()
    results = {"torch_unavailable": missing_torch, "models": {}}
    for name in models():
        results["models"][name] = bench.timed(
            f"speed_{name}", lambda name=name: measure_in_fresh_process(name, not missing_torch))
    return results


def report(results, figures):
    rows = []
    for name, row in results["models"].items():
        reference = row.get("torch")
        ratios = ["-", "-", "-", "-"]
        if reference:
            ratios = [f"{reference['forward_clips_per_s']:.2f}",
                      f"{row['forward_clips_per_s'] / reference['forward_clips_per_s']:.2f}",
                      f"{reference['train_clips_per_s']:.2f}",
                      f"{row['train_clips_per_s'] / reference['train_clips_per_s']:.2f}"]
        rows.append([name, "x".join(str(v) for v in row["input"][:3]),
                     f"{row['parameters'] / 1e6:.2f}M", f"{row['gflops']:.2f}",
                     f"{row['forward_clips_per_s']:.2f}", f"{row['train_clips_per_s']:.2f}",
                     *ratios, f"{row['gflops'] * row['forward_clips_per_s']:.1f}"])
    plot(results, f"{figures}/speed_forward.png")
    return markdown_table(
        ["model", "input (T x H x W)", "params:", "GFLOPs:", "forward clips/s:",
         "train clips/s:", "torch forward clips/s:", "vidzoo/torch forward:",
         "torch train clips/s:", "vidzoo/torch train:", "forward GMAC/s:"], rows)


def plot(results, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for name, row in results["models"].items():
        axis.scatter(row["gflops"], row["forward_clips_per_s"], color="tab:blue", s=12)
        axis.annotate(name, (row["gflops"], row["forward_clips_per_s"]), fontsize=6,
                      textcoords="offset points", xytext=(3, 2))
    axis.set_xscale("log")
    axis.set_yscale("log")
    save_plot(figure, axis, path, "GFLOPs per clip at the standard input (log)", "forward clips/s, batch 1 (log)",
              "vidzoo zoo on CPU (TensorFlow backend)")




def section(results, figures):
    table = report(results, figures)
    lines = [table, "", "![forward speed](results/speed_forward.png)", ""]
    if results["torch_unavailable"]:
        lines.append(f"- PyTorch reference not measured: {results['torch_unavailable']}")
    else:
        lines.append(
            "- PyTorch reference: torchvision 0.28.0's video model definitions on torch "
            "2.13.0 (CPU wheel), same input and batch, timed in the same process and run "
            "(each model in a fresh process). A ratio above 1 means vidzoo (TensorFlow "
            "backend) is faster.")
    lines.append("- Every zoo model except the adaptive variants (their cost depends on the "
                 "clip; see the ATFR and clustering sections). Batch 1, default (standard) "
                 f"input of each model, 400 classes; medians of {REPEATS} calls after a "
                 "warm-up call.")
    lines.append(_step_cost(results["models"]))
    return "\n".join(lines)


def _step_cost(models):
    """Training step time / forward time, X3D (channelwise convs) vs the rest."""
    ratio = {name: row["forward_clips_per_s"] / row["train_clips_per_s"]
             for name, row in models.items()}
    x3d = sorted(ratio[name] for name in ratio if name.startswith("x3d"))
    others = sorted(value for name, value in ratio.items() if not name.startswith("x3d"))
    return (f"- Training step / forward time: X3D {x3d[0]:.1f}-{x3d[-1]:.1f}x, the other "
            f"models {others[0]:.1f}-{others[-1]:.1f}x (median "
            f"{others[len(others) // 2]:.1f}x). X3D's channelwise 3x3x3 convs use "
            "DepthwiseConv3D's explicit gradient; TF's own gradient of the depthwise conv "
            "made the step ~10x the forward pass (docs/depthwise_benchmark.md).")


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], with_torch=sys.argv[2] == "1")))
