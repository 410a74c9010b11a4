"""Peak resident memory of one training step (or forward pass) at one batch size.

    python memory_probe.py '<spec json>' <batch>

spec: {"model": registry name, "options": {...}, "input_shape": [T, H, W, 3],
"train": bool, "sfc": optional {"split", "tau", "input_shape"}}. Run in a fresh
process by `common.peak_memory_per_video`; prints {"peak_mib": ...}.
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
    import vidzoo.zoo as zoo

    model = zoo.get_model(spec["model"], classes=4, input_shape=tuple(spec["input_shape"]),
                          **spec.get("options", {}))
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
        for _ in range(2):
            model.train_on_batch(video, labels)
    else:
        for _ in range(2):
            model.predict_on_batch(video)
    print(json.dumps({"peak_mib": peak_rss_mib()}))


if __name__ == "__main__":
    main()
