"""`convert`: a PyTorch checkpoint of a published video model -> a vidzoo preset.

    vidzoo.convert.convert("pytorchvideo", "x3d_s", "X3D_S.pyth", "presets/x3d_s")
    model = vidzoo.zoo.load_preset("presets/x3d_s")

The preset records the source, the checkpoint's file name and sha256, the
preprocessing the weights expect and the class names (Kinetics-400 for 400
classes unless others are given).
"""

import hashlib
import os
import shutil
from typing import Optional, Sequence

from vidzoo import zoo
from vidzoo.convert import mmaction2, pyslowfast, pytorchvideo, torchvision_video, tsm
from vidzoo.convert.checkpoint import read_checkpoint
from vidzoo.convert.mapping import assign_state
from vidzoo.zoo import presets

SOURCES = {source.name: source for source in (
    torchvision_video.SOURCE, pytorchvideo.SOURCE, pyslowfast.SOURCE, tsm.SOURCE,
    mmaction2.SOURCE) if source is not None}


def source_model(source: str, model: str):
    """(Source, SourceModel) for `--source` and `--model`, with the choices in
    the error."""
    if source not in SOURCES:
        raise ValueError(f"convert: unknown source {source!r}; sources are "
                         f"{', '.join(sorted(SOURCES))}.")
    models = SOURCES[source].models
    if model not in models:
        raise ValueError(f"convert: source {source!r} has no model {model!r}; it converts "
                         f"{', '.join(sorted(models))}.")
    return SOURCES[source], models[model]


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_state(source: str, model: str, state, classes: int = 400):
    """The Keras model of `source`'s `model` holding `state` (a
    {name: array} state_dict), and its constructor arguments."""
    found, entry = source_model(source, model)
    prep = entry.preprocessing
    arguments = dict(entry.arguments, classes=classes,
                     input_shape=[prep.frames, prep.crop, prep.crop, 3])
    keras_model = zoo.get_model(entry.zoo_name, **arguments)
    assign_state(keras_model, state, found.name_map(state, entry), found.title)
    return keras_model, arguments


def convert(source: str, model: str, checkpoint: str, output: str, *, classes: int = 400,
            class_names: Optional[Sequence[str]] = None, overwrite: bool = False,
            trust_checkpoint: bool = False) -> str:
    """Convert `checkpoint` (source `source`, model `model`) into a preset at
    `output`. Nothing is written unless every parameter maps.

    Args:
      source: torchvision, pytorchvideo, pyslowfast, tsm or mmaction2.
      model: the source's model name (`SOURCES[source].models`).
      checkpoint: the .pth / .pyth file.
      output: the preset directory to write; refused if it exists unless
        `overwrite`.
      classes: the checkpoint's class count.
      class_names: one per class; Kinetics-400's by default for 400 classes.
      trust_checkpoint: allow unpickling objects beyond tensors.
    Returns the preset directory.
    """
    found, entry = source_model(source, model)
    if os.path.exists(output) and not overwrite:
        raise FileExistsError(f"convert: {output!r} exists; pass overwrite=True (--overwrite) "
                              "to replace it.")
    if class_names is None and classes == 400:
        class_names = presets.kinetics400_classes()
    if class_names is not None and len(class_names) != classes:
        raise ValueError(f"convert: {len(class_names)} class names for {classes} classes.")
    state = read_checkpoint(checkpoint, trust_checkpoint)
    keras_model, arguments = convert_state(source, model, state, classes)
    metadata = {
        "source": found.name, "source_model": model,
        "checkpoint": os.path.basename(checkpoint), "sha256": sha256(checkpoint),
        "preprocessing": _preprocessing_json(entry.preprocessing),
        "class_names": list(class_names) if class_names is not None else None,
    }
    if os.path.exists(output):
        shutil.rmtree(output)
    return presets.save_preset(keras_model, output, entry.zoo_name, arguments, metadata)


def _preprocessing_json(prep):
    return {"mean": list(prep.mean), "std": list(prep.std), "frames": prep.frames,
            "stride": prep.stride, "resize": list(prep.resize), "crop": prep.crop}
