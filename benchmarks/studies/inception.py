"""Inception family (seed 002): I3D, I2D, S3D, S3D-G and Fast-S3D trained from
scratch on the same clips, and the frame-reversal test of Table 1: evaluate
each trained model on clips played backwards. A model that uses temporal
order loses accuracy; one that ignores it (I2D) does not.

Our classes (a glyph moving up / down / left / right) are reversal-sensitive by
construction, like Something-Something in the paper and unlike Kinetics.
"""

import keras
from keras import layers, ops

from common import markdown_table, pyplot

MODELS = {"I3D": "i3d", "I2D": "i2d", "S3D": "s3d", "S3D-G": "s3d_g", "Fast-S3D": "fast_s3d"}


def reversed_in_time(model):
    """`model` applied to its input clip played backwards."""
    inputs = keras.Input(model.inputs[0].shape[1:])
    backwards = layers.Lambda(lambda clip: ops.flip(clip, axis=1), name="reverse_time")(inputs)
    return keras.Model(inputs, model(backwards), name=f"{model.name}_reversed")


def _reversal(bench, data, key):
    from vidzoo.training.data import load_source
    from vidzoo.training.evaluate import load_run, evaluate

    s = bench.settings
    model, config, classes = load_run(bench.path("runs", key))
    source = load_source(data["val"], classes)
    result = evaluate(reversed_in_time(model), source, config["frames"], config["stride"],
                      config["crop_size"], 1, 1, s.batch_size)
    return {"reversed_video_top1": result["video_top1"]}


def run(bench):
    data = bench.data(32)
    results = {}
    for label, model in MODELS.items():
        row = bench.train_and_evaluate(model, model, data, eval_clips=1)
        reversal = bench.cached(f"{model}_reversed", lambda model=model: _reversal(
            bench, data, model))
        results[label] = dict(row, **reversal)
    return results


def report(results, figures):
    rows = []
    for label in MODELS:
        row = results[label]
        drop = row["video_top1"] - row["reversed_video_top1"]
        rows.append([label, f"{row['parameters'] / 1e6:.2f}M", f"{row['gflops_per_clip']:.3f}",
                     f"{row['video_top1']:.3f}", f"{row['reversed_video_top1']:.3f}",
                     f"{drop:+.3f}", f"{row['latency_ms']:.1f}"])
    plot(results, f"{figures}/inception_accuracy_vs_gflops.png")
    return markdown_table(["model", "params:", "GFLOPs/clip:", "top-1:", "top-1 reversed:",
                           "drop:", "batch-1 latency ms:"], rows)


def plot(results, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for label in MODELS:
        row = results[label]
        axis.scatter(row["gflops_per_clip"], 100 * row["video_top1"], color="tab:blue")
        axis.scatter(row["gflops_per_clip"], 100 * row["reversed_video_top1"], color="tab:red",
                     marker="x")
        axis.annotate(label, (row["gflops_per_clip"], 100 * row["video_top1"]), fontsize=7,
                      textcoords="offset points", xytext=(4, 3))
    axis.set_xlabel("GFLOPs per clip")
    axis.set_ylabel("top-1 (%): o forward, x reversed")
    axis.set_title("Inception family at 16x56x56")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
