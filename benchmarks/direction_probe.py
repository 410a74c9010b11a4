"""How much of the synthetic data's class (a motion direction) a backbone's
res2 output carries once time order is gone, as after SGS, whose bins follow
Delta, not time: a linear probe on res2's output averaged over time and
space, beside one on the per-frame averages (time order kept).

    python -m benchmarks.direction_probe [--models x3d_s sgs_resnet3d_18]
        [--trained NAME=RUN_DIR ...]

Clips: 16 frames at stride 2 from 32-frame synthetic videos, centre 56x56
crops (the ATFR study's input), 400 to fit the probe (softmax regression,
Adam, 300 full-batch epochs) and 200 to test it. Random-initialized models
use the zoo's defaults; `--trained` adds a saved run's model.
"""

import argparse
import os

import keras
import numpy as np

from vidzoo import zoo
from vidzoo.tf_data.augment import normalize
from vidzoo.tf_data.synthetic import make_video

FIT, TEST = 400, 200
SHAPE = (16, 56, 56, 3)


def clips_and_labels(seed=123):
    rng = np.random.default_rng(seed)
    clips, labels = [], []
    for index in range(FIT + TEST):
        video, _ = make_video(rng, index % 4, frames=32, size=64)
        clips.append(video[::2, 4:60, 4:60])
        labels.append(index % 4)
    return np.asarray(normalize(np.stack(clips))), np.array(labels)


def res2_outputs(model, clips):
    """res2's output (N, T, H, W, C) on `clips`, 50 at a time."""
    head = keras.Model(model.input, model.get_layer("res2").output)
    return np.concatenate([np.asarray(head(clips[i:i + 50], training=False))
                           for i in range(0, len(clips), 50)])


def res2_features(model, clips, keep_time):
    return pooled(res2_outputs(model, clips), keep_time)


def pooled(outputs, keep_time):
    """Space (and, unless `keep_time`, time) averaged away: the probe's input."""
    if keep_time:
        return outputs.mean(axis=(2, 3)).reshape(len(outputs), -1)
    return outputs.mean(axis=(1, 2, 3))


def probe_accuracy(features, labels):
    """Test accuracy of softmax regression fitted on the first FIT clips."""
    scale = features[:FIT].std(0) + 1e-6
    features = (features - features[:FIT].mean(0)) / scale
    keras.utils.set_random_seed(0)
    probe = keras.Sequential([keras.Input(features.shape[1:]),
                              keras.layers.Dense(4, activation="softmax")])
    probe.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe.fit(features[:FIT], labels[:FIT], epochs=300, batch_size=FIT, verbose=0)
    return probe.evaluate(features[FIT:], labels[FIT:], verbose=0)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["x3d_s", "sgs_resnet3d_18"])
    parser.add_argument("--trained", nargs="*", default=[],
                        help="NAME=RUN_DIR: a finished run's model.keras")
    args = parser.parse_args()
    clips, labels = clips_and_labels()
    models = {f"{name}, random init": (lambda name=name: zoo.get_model(
        name, input_shape=SHAPE, classes=4)) for name in args.models}
    for entry in args.trained:
        name, run_dir = entry.split("=", 1)
        models[f"{name}, trained"] = (lambda run_dir=run_dir: keras.saving.load_model(
            os.path.join(run_dir, "model.keras")))
    print("| model | res2 channels | order-free top-1 | time kept top-1 |")
    print("|---|---:|---:|---:|")
    for name, build in models.items():
        keras.utils.set_random_seed(0)
        model = build()
        outputs = res2_outputs(model, clips)
        order_free, ordered = pooled(outputs, False), pooled(outputs, True)
        print(f"| {name} | {order_free.shape[1]} | {probe_accuracy(order_free, labels):.3f} | "
              f"{probe_accuracy(ordered, labels):.3f} |", flush=True)


if __name__ == "__main__":
    main()
