"""Presets: a model's weights with what is needed to use them.

A preset is a directory:
* config.json: the registry name and constructor arguments (`classes`,
  `input_shape`, family arguments such as X3D's `shortcut_norm`);
* model.weights.h5: the weights (Keras `save_weights`);
* metadata.json: where they came from (source, checkpoint file and sha256),
  the preprocessing they expect (mean/std, frames, stride, resize and crop)
  and the class names.

    model = vidzoo.zoo.load_preset("x3d_s_kinetics400")
    model = vidzoo.zoo.get_model("x3d_s_atfr", weights="x3d_s_kinetics400", classes=10)

Loading a preset into a model with another class count, or with adaptive
layers the preset lacks (SGS), copies every layer the two share by name and
shape and leaves the rest newly initialized: the classifier for fine-tuning,
SGS for training in place. Any other difference is an error.
"""

import dataclasses
import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import keras

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
METADATA = "metadata.json"
CLASSIFIER_LAYERS = ("logits", "logits_conv")
KINETICS400_FILE = os.path.join(os.path.dirname(__file__), "kinetics400_classes.txt")

log = logging.getLogger("vidzoo")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What a preset's weights expect of a clip.

    Args:
      mean, std: per-channel normalization of [0, 1] RGB pixels.
      frames: frames per clip (T).
      stride: temporal stride between sampled frames, in frames of the video
        at its own rate.
      resize: the reference's resize before the crop: [short side] or
        [height, width] (torchvision resizes to a fixed 128 x 171).
      crop: side of the square centre crop.
      eval_scale: the short side vidzoo's pipeline resizes to (ClipConfig).
    """

    mean: Sequence[float]
    std: Sequence[float]
    frames: int
    stride: int
    resize: Sequence[int]
    crop: int

    @property
    def eval_scale(self) -> int:
        return int(min(self.resize))

    def clip_options(self) -> Dict[str, Any]:
        """ClipConfig keyword arguments for these clips."""
        return dict(clip_len=self.frames, stride=self.stride, crop_size=self.crop,
                    eval_scale=self.eval_scale, mean=tuple(self.mean), std=tuple(self.std))


def kinetics400_classes() -> List[str]:
    """The 400 Kinetics-400 class names, in the order of the published models'
    logits (torchvision's, pytorchvideo's, PySlowFast's)."""
    with open(KINETICS400_FILE, encoding="utf-8") as file:
        return [line.rstrip("\n") for line in file if line.strip()]


def is_preset(path) -> bool:
    """A directory with config.json and metadata.json (a training run's
    directory has a config.json too, but no metadata.json)."""
    return isinstance(path, (str, os.PathLike)) and all(
        os.path.isfile(os.path.join(path, name)) for name in (CONFIG, METADATA))


def save_preset(model: keras.Model, directory: str, model_name: str, arguments: Dict[str, Any],
                metadata: Dict[str, Any]) -> str:
    """Write `model` as a preset: arguments must rebuild it with
    `get_model(model_name, **arguments)`."""
    os.makedirs(directory, exist_ok=True)
    _write_json(os.path.join(directory, CONFIG), {"model": model_name, "arguments": arguments})
    model.save_weights(os.path.join(directory, WEIGHTS))
    _write_json(os.path.join(directory, METADATA), metadata)
    return directory


def read_preset(directory: str):
    """(config, metadata) of the preset at `directory`, with a clear error
    for a directory that is not one."""
    if not is_preset(directory):
        raise ValueError(f"{directory!r} is not a vidzoo preset (it needs {CONFIG} and "
                         f"{METADATA}); make one with `vidzoo convert`.")
    if not os.path.isfile(os.path.join(directory, WEIGHTS)):
        raise ValueError(f"preset {directory!r} has no {WEIGHTS}.")
    with open(os.path.join(directory, CONFIG), encoding="utf-8") as file:
        config = json.load(file)
    with open(os.path.join(directory, METADATA), encoding="utf-8") as file:
        metadata = json.load(file)
    return config, metadata


def preprocessing(directory: str) -> Preprocessing:
    """The Preprocessing a preset's weights expect."""
    _, metadata = read_preset(directory)
    return Preprocessing(**metadata["preprocessing"])


def class_names(directory: str) -> Optional[List[str]]:
    return read_preset(directory)[1].get("class_names")


def load_preset(directory: str, **kwargs) -> keras.Model:
    """The preset's model with its weights; `kwargs` override its constructor
    arguments (input_shape, classes=N for fine-tuning, ...)."""
    from vidzoo.zoo.registry import get_model

    config, _ = read_preset(directory)
    return get_model(config["model"], **dict(config["arguments"], **kwargs, weights=directory))


def load_into(model: keras.Model, directory: str) -> List[str]:
    """Load the preset at `directory` into `model` (built by a constructor with
    `weights=directory`). Returns the names of the layers left newly
    initialized (none when the model is the preset's own)."""
    config, _ = read_preset(directory)
    from vidzoo.zoo.registry import get_model

    donor_arguments = dict(config["arguments"])
    donor_arguments["input_shape"] = tuple(model.inputs[0].shape[1:])
    donor = get_model(config["model"], **donor_arguments)
    donor.load_weights(os.path.join(directory, WEIGHTS))
    return _copy_shared_layers(donor, model, directory)


def _copy_shared_layers(donor, model, directory):
    donors = {layer.name: layer for layer in donor.layers if layer.weights}
    fresh, different = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        source = donors.pop(layer.name, None)
        if source is None:
            fresh.append(layer.name)
        elif [w.shape for w in source.weights] != [w.shape for w in layer.weights]:
            (fresh if layer.name in CLASSIFIER_LAYERS else different).append(layer.name)
        else:
            layer.set_weights(source.get_weights())
    unmatched = [name for name in donors if not _is_head(name)]  # include_top=False drops the head
    if different or unmatched:
        raise ValueError(
            f"preset {directory!r} ({donor.name}) does not fit {model.name}: layers with other "
            f"shapes: {different[:8]}; preset layers the model lacks: {sorted(unmatched)[:8]}.")
    if fresh:
        log.warning("vidzoo: %s takes preset %s except %s, which %s newly initialized "
                    "(a classifier with another class count is replaced for fine-tuning).",
                    model.name, directory, ", ".join(fresh),
                    "is" if len(fresh) == 1 else "are")
    return fresh


def _is_head(name):
    return name in CLASSIFIER_LAYERS or name.startswith("head_")


def _write_json(path, content):
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(content, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)
