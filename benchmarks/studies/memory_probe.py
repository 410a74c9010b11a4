"""Peak resident memory of one training step (or forward pass) at one batch size.

    python memory_probe.py '<spec json>' <batch>

spec: {"model": registry name, "options": {...}, "input_shape": [T, H, W, 3],
"train": bool, "sfc": optional {"split", "tau", "input_shape"},
"truncate_after": optional stage name}. Run in a fresh process by
`common.probe_memory`; prints {"peak_mib": resident peak, "tf_peak_mib": peak
of TensorFlow's allocator during the second step}.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def peak_rss_mib():
    """Peak resident memory of this process image. /proc's VmHWM, not
    getrusage's ru_maxrss: Linux keeps ru_maxrss across execve, so a probe
    started from a large parent would report the parent's peak."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("memory_probe: /proc/self/status has no VmHWM (Linux only).")


def build(spec):
    import keras

    import vidzoo.zoo as zoo

    model = zoo.get_model(spec["model"], classes=4, input_shape=tuple(spec["input_shape"]),
                          **spec.get("options", {}))
    if spec.get("truncate_after"):  # that stage alone, with a small classifier
        features = model.get_layer(spec["truncate_after"]).output
        pooled = keras.layers.GlobalAveragePooling3D()(features)
        model = keras.Model(model.inputs, keras.layers.Dense(4, activation="softmax")(pooled))
    if spec.get("sfc"):
        sfc = spec["sfc"]
        model = zoo.insert_sfc(model, sfc["split"], sfc["tau"],
                               input_shape=tuple(sfc["input_shape"]))
    return model


def main():
    import keras
    import numpy as np

    spec, batch = json.loads(sys.argv[1]), int(sys.argv[2])
    model = build(spec)
    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    video = rng.normal(size=(batch,) + shape).astype("float32")
    labels = keras.utils.to_categorical(np.arange(batch) % 4, 4)
    if spec.get("train", True):
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
        step = lambda: model.train_on_batch(video, labels)  # noqa: E731
    else:
        step = lambda: model.predict_on_batch(video)  # noqa: E731
    step()
    tf_peak = tensorflow_peak_mib(step)
    print(json.dumps({"peak_mib": peak_rss_mib(), "tf_peak_mib": tf_peak}))


def tensorflow_peak_mib(step):
    """Peak bytes TensorFlow's CPU allocator held during `step()` (after a first,
    tracing call): exact, where the resident peak also holds what the C
    allocator keeps."""
    import tensorflow as tf

    tf.config.experimental.reset_memory_stats("CPU:0")
    step()
    return tf.config.experimental.get_memory_info("CPU:0")["peak"] / 2**20


if __name__ == "__main__":
    main()
