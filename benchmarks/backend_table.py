"""Every registered zoo model on the JAX and PyTorch backends against
TensorFlow: built on each backend from weights saved on TensorFlow
(`.weights.h5`, BatchNorm statistics randomized), the same random clip in
inference mode and up to res3 (Inception: Mixed_3c) in training mode; the
largest difference relative to the output's scale, and each backend's
seconds to build, load and run the model (JAX's include compiling each
eager op once). The same checks as `tests/test_backends.py`
(`tests/backend_checks.py`), all models in one table. Writes docs/backends.md.

    python -m benchmarks.backend_table
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"  # the reference; the others run in subprocesses

from benchmarks import machine  # noqa: E402

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
sys.path.insert(0, TESTS)
import backend_checks  # noqa: E402

BACKENDS = ("jax", "torch")


def run_backend(backend, folder):
    """name -> {"seconds", "difference"} from backend_checks.py --models."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run([sys.executable, os.path.join(TESTS, "backend_checks.py"), "--models",
                           folder], capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{backend}: {done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend, report["backend"]
    return report["models"]


def cells(result):
    """Inference and training-mode differences, and seconds, of one model."""
    difference = result["difference"]
    inference = max(v for k, v in difference.items() if k.startswith("inference"))
    training = difference.get("training_features")
    return (f"{inference:.1e}", "-" if training is None else f"{training:.1e}",
            f"{result['seconds']:.1f}")


def write_report(path, shapes, results, command):
    worst = max(v for models in results.values() for result in models.values()
                for v in result["difference"].values())
    lines = [
        "# Backends: every zoo model on JAX and PyTorch",
        "",
        f"Machine: {machine.describe()}, no GPU. Date: {datetime.date.today().isoformat()}.",
        "",
        f"Command: `{command}`",
        "",
        "Each registered model (and SFC inserted into R3D-18 at res3, tau 2) is built on "
        "TensorFlow with random weights and randomized BatchNorm statistics, 3 classes, and "
        "saved as `.weights.h5`; JAX and PyTorch build the same model, load that file and run "
        "the same 2 random clips. Columns: the largest absolute difference from TensorFlow's "
        "output divided by max(1, the output's largest magnitude), over the logits and, for "
        "ATFR / clustering models, every clip's B' or cluster sizes (inference), and over "
        "res3's features (Inception: Mixed_3c) with BatchNorm on the batch's statistics "
        "(training). Seconds: build, load and run on that backend (JAX compiles each eager "
        "op the first time it meets its shapes, so a model whose layers an earlier row "
        "already met is fast). `tests/test_backends.py` asserts every row within "
        f"{backend_checks.TOLERANCE:g} in CI.",
        "",
        f"Largest difference in the table: {worst:.1e}.",
        "",
        "| model | input | JAX inference | JAX training | JAX s | PyTorch inference "
        "| PyTorch training | PyTorch s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, shape in shapes.items():
        jax, torch = cells(results["jax"][name]), cells(results["torch"][name])
        size = "x".join(str(v) for v in shape[:3])
        lines.append(f"| {name} | {size} | " + " | ".join(jax + torch) + " |")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "..", "docs", "backends.md"))
    args = parser.parse_args()
    command = ("python -m benchmarks.backend_table " + " ".join(sys.argv[1:])).strip()
    shapes = {name: shape for name, _, shape in backend_checks.model_cases()}
    with tempfile.TemporaryDirectory() as folder:
        backend_checks.write_model_reference(folder)
        results = {backend: run_backend(backend, folder) for backend in BACKENDS}
    write_report(args.output, shapes, results, command)
    print(open(args.output).read())


if __name__ == "__main__":
    main()
