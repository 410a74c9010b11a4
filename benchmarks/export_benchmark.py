"""What exports where: one model of each zoo family (and the ATFR / clustering
models) written as ONNX and TFLite by `vidzoo.training.export.export_model`,
each run in its runtime (onnxruntime, LiteRT) against the Keras model on the
same random clip: max abs difference, file size, and batch-1 CPU latency of
Keras, onnxruntime and LiteRT measured side by side (interleaved rounds, one
process). Each model's row is kept in docs/data/export.json with its date,
machine and command, so `--models NAME` measures one model again and the page
is rewritten from every stored row. Writes docs/export.md.

    python -m benchmarks.export_benchmark --rounds 5 [--models mtnet_s]
"""

import argparse
import datetime
import functools
import json
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import machine
from vidzoo.benchmarking import interleaved_median_ms

MODELS = [  # one per zoo family, the adaptive models, MTNet last (its conversion is slowest)
    ("r3d_18", (8, 32, 32, 3)),
    ("resnet3d_18", (8, 32, 32, 3)),
    ("slow_r50", (8, 32, 32, 3)),
    ("r2plus1d_r50", (8, 32, 32, 3)),
    ("x3d_xs", (4, 32, 32, 3)),
    ("s3d_g", (8, 32, 32, 3)),
    ("s3d_torchvision", (8, 32, 32, 3)),
    ("slowfast_r50_8x8", (16, 32, 32, 3)),
    ("tsm_r18", (8, 32, 32, 3)),
    ("x3d_xs_atfr", (8, 32, 32, 3)),
    ("sgs_resnet3d_18_atfr", (8, 32, 32, 3)),
    ("tsm_r18_clustering", (16, 32, 32, 3)),
    ("mtnet_s", (8, 32, 32, 3)),
]
FORMATS = ("onnx", "tflite")


def onnx_runner(path):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [output.name for output in session.get_outputs()]
    return lambda clip: dict(zip(outputs, session.run(None, {name: clip})))


def tflite_runner(path):
    from ai_edge_litert.interpreter import Interpreter

    signature = Interpreter(model_path=path, num_threads=os.cpu_count()).get_signature_runner()
    return lambda clip: signature(clips=clip)


RUNNERS = {"onnx": onnx_runner, "tflite": tflite_runner}


def keras_runner(model):
    import tensorflow as tf

    from vidzoo.training.export import serving_model

    served = serving_model(model)
    call = tf.function(lambda clip: served(clip, training=False))
    return lambda clip: {k: np.asarray(v) for k, v in call(tf.constant(clip)).items()}


def measure(name, shape, workdir, rounds, repeats):
    """One row: per format, the export's outcome, size, max diff and latency."""
    from vidzoo import zoo
    from vidzoo.training.export import export_model

    model = zoo.get_model(name, input_shape=shape, classes=400,
                          classifier_activation=None)  # logits: probabilities hide differences
    clip = np.random.default_rng(0).normal(size=(1,) + shape).astype("float32")
    runners = {"keras": keras_runner(model)}
    reference = runners["keras"](clip)
    row = {"name": name, "shape": shape, "formats": {}}
    for export_format in FORMATS:
        folder = os.path.join(workdir, f"{name}_{export_format}")
        start = time.perf_counter()
        try:
            export_model(model, folder, export_format, crop_size=shape[1], eval_scale=shape[1])
            runner = RUNNERS[export_format](os.path.join(folder, f"model.{export_format}"))
            outputs = runner(clip)
        except Exception as error:  # recorded in the table, not fatal
            row["formats"][export_format] = {"error": f"{type(error).__name__}: "
                                                      f"{str(error).splitlines()[0][:200]}"}
            continue
        diff = max(float(np.max(np.abs(np.asarray(outputs[key], "float64") - reference[key])))
                   for key in reference)
        size = os.path.getsize(os.path.join(folder, f"model.{export_format}")) / 2 ** 20
        runners[export_format] = runner
        row["formats"][export_format] = {"diff": diff, "mib": size,
                                         "export_s": time.perf_counter() - start}
    row["latency_ms"] = interleaved_median_ms(
        {key: functools.partial(runner, clip) for key, runner in runners.items()},
        rounds, repeats)
    row["speedup"] = {key: row["latency_ms"]["keras"] / ms  # Keras' / the runtime's
                      for key, ms in row["latency_ms"].items() if key != "keras"}
    print(name, row, flush=True)
    return row


def cell(row, export_format):
    result = row["formats"][export_format]
    if "error" in result:
        return f"no: {result['error']}", "", ""
    ms, speedup = row["latency_ms"][export_format], row["speedup"][export_format]
    return (f"yes ({result['diff']:.1e})", f"{result['mib']:.1f}",
            f"{ms:.1f} ms ({speedup:.2f}x)")


def write_report(path, rows):
    runs = sorted({(row["date"], row["machine"], row["command"]) for row in rows})
    lines = ["# Export: what exports where", ""]
    for date, machine_line, command in runs:
        names = ", ".join(row["name"] for row in rows if row["command"] == command
                          and row["date"] == date)
        lines += [f"Measured {date} on {machine_line}, no GPU, with `{command}`: {names}.", ""]
    lines += [
        "`vidzoo export --format onnx|tflite` (or `vidzoo.training.export.export_model`) on "
        "random-init models with 400 classes and no softmax (logits are compared: a random "
        "model's probabilities are all near 1/400 and would hide differences). Each export is run in its runtime "
        "(onnxruntime; LiteRT's `ai_edge_litert` interpreter, builtin ops only) on one random "
        "clip and compared with the Keras model (max abs difference of every output: "
        "predictions, and B' / cluster sizes for adaptive models). Latency: batch 1, CPU, the "
        "median over the interleaved rounds (`--rounds`) of each round's median of `--repeats` "
        "calls; Keras is the model in a `tf.function`. In brackets: Keras' "
        "latency / the runtime's (above 1 = the runtime is faster), both from the same run.",
        "",
        "| model | input | Keras ms | ONNX (max diff) | MiB | onnxruntime | TFLite (max diff) "
        "| MiB | LiteRT |",
        "|---|---|---:|---|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        onnx, tflite = cell(row, "onnx"), cell(row, "tflite")
        shape = "x".join(str(v) for v in row["shape"][:3])
        lines.append(f"| {row['name']} | {shape} | {row['latency_ms']['keras']:.1f} | "
                     f"{onnx[0]} | {onnx[1]} | {onnx[2]} | {tflite[0]} | {tflite[1]} | "
                     f"{tflite[2]} |")
    lines += ["", NOTES + slow_conversions(rows)]
    with open(path, "w") as handle:
        handle.write("\n".join(lines))


def slow_conversions(rows, over_s=60):
    """A note naming the exports that took longer than `over_s` seconds."""
    slow = [f"{row['name']} to {fmt.upper() if fmt == 'onnx' else 'TFLite'} "
            f"{result['export_s']:.0f} s"
            for row in rows for fmt, result in row["formats"].items()
            if result.get("export_s", 0) > over_s]
    if not slow:
        return ""
    return ("* Slow conversions (export and first run, in the row's run): " + ", ".join(slow)
            + ". Conversion time grows with the graph (tf2onnx spends it in its rewriters "
            "and optimizers), and MTNet's graph is many times larger than X3D's (each "
            "MTConv's SoftPool, frame selection and trilinear resize, each block's two "
            "GRUs unrolled over time).\n")


def stored_rows(path):
    """name -> row of every model measured before (docs/data/export.json)."""
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def store_rows(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(rows, handle, indent=1)


NOTES = """Notes:
* Inputs: the SavedModel export takes uint8 frames of any size and does the
  evaluation preprocessing itself; ONNX and TFLite take the normalized float32
  clip of one fixed shape (batch, T, crop, crop, 3), and `preprocessing.json`
  beside the file gives the short side, crop, mean and std and names the
  outputs.
* TFLite has no builtin 3D max or average pool: the export replaces every
  MaxPooling3D and AveragePooling3D (S3D's head) by
  `vidzoo.layers.FactorizedMaxPooling3D` / `FactorizedAveragePooling3D` (a 2D
  pool per frame, then one over time: the same values). Any other op without
  a builtin raises an ExportError naming it; `--select_tf_ops` writes it as a
  Select TF op, which LiteRT's plain interpreter cannot run (it needs the
  Flex delegate). MTNet's SoftPool pools with per-frame 2D pools itself.
* SGS's data-dependent length exports to both formats as it is (ONNX and
  TFLite tensors may change shape at run time), so the ATFR models' B' is the
  Keras model's; XLA and `jax.jit` need `drop_empty_bins=False` instead.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=None, help="registry names (default all)")
    docs = os.path.join(os.path.dirname(__file__), "..", "docs")
    parser.add_argument("--output", default=os.path.join(docs, "export.md"))
    parser.add_argument("--data", default=os.path.join(docs, "data", "export.json"))
    args = parser.parse_args()
    chosen = [m for m in MODELS if not args.models or m[0] in args.models]
    command = ("python -m benchmarks.export_benchmark " + " ".join(sys.argv[1:])).strip()
    stored = stored_rows(args.data)
    with tempfile.TemporaryDirectory() as workdir:
        for name, shape in chosen:  # the page is rewritten after each model
            row = measure(name, shape, workdir, args.rounds, args.repeats)
            stored[name] = dict(row, shape=list(shape), date=datetime.date.today().isoformat(),
                                machine=machine.describe(), command=command)
            store_rows(args.data, stored)
            write_report(args.output, [stored[n] for n, _ in MODELS if n in stored])
    print(open(args.output).read())


if __name__ == "__main__":
    main()
