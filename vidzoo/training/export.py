"""`vidzoo export`: a trained model as a TensorFlow SavedModel.

Written with Keras' export path (`keras.export.ExportArchive`). The `serve`
endpoint (also the default serving signature) takes raw uint8 frames
(batch, T, H, W, 3) of any size and does the evaluation preprocessing itself:
short side scaled to `eval_scale`, centre crop to `crop_size`, scaled to
[0, 1], normalized with the training mean and std. It returns a dict:
"predictions" (batch, classes) and, for adaptive models, each adaptive
layer's per-clip counts (B' for SGS layers).

    loaded = tf.saved_model.load("export/")
    outputs = loaded.serve(frames_uint8)
    layer = keras.layers.TFSMLayer("export/", call_endpoint="serve")

`format="onnx"` (tf2onnx, run with onnxruntime) and `format="tflite"`
(LiteRT builtins, run with ai-edge-litert's interpreter) write a directory
with `model.onnx` / `model.tflite` and `preprocessing.json`. Their input is
the normalized float32 clip (batch_size, T, crop, crop, 3), fixed in shape;
preprocessing.json says how to make it (short side, crop, mean, std) and
names the outputs. For TFLite, MaxPooling3D and AveragePooling3D (Select
TF ops there) are replaced by the same pools from 2D pools; any other op
with no builtin raises ExportError naming it, and `select_tf_ops=True`
keeps it as a Select op (the file then needs the Flex delegate). SGS's
data-dependent length exports to both formats.
"""

import json
import os
import re
import tempfile
from typing import Optional

import keras
import tensorflow as tf
from keras.export import ExportArchive

from vidzoo.layers.pooling import replace_pooling_3d
from vidzoo.tf_data import augment
from vidzoo.training.data import clip_config, run_normalization
from vidzoo.training.run_dir import SAVED_MODEL, RunDir, load_run
from vidzoo.zoo import presets
from vidzoo.zoo.accounting import inference_model

FORMATS = ("savedmodel", "onnx", "tflite")
PREPROCESSING = "preprocessing.json"


class ExportError(ValueError):
    """A model that cannot be written in the format asked for."""


def preprocess(frames, crop_size, eval_scale, mean=augment.KINETICS_MEAN,
               std=augment.KINETICS_STD):
    """uint8 (batch, T, H, W, 3) -> normalized float32 (batch, T, crop, crop, 3)."""
    shape = tf.shape(frames)
    flat = tf.reshape(frames, (-1, shape[2], shape[3], 3))
    flat = augment.center_crop(augment.short_side_scale(flat, eval_scale), crop_size)
    flat = augment.normalize(flat, mean, std)
    return tf.reshape(flat, (shape[0], shape[1], crop_size, crop_size, 3))


def serving_model(model: keras.Model) -> keras.Model:
    """`model` with dict outputs: "predictions" and, for adaptive models, each
    adaptive layer's per-clip counts."""
    runner = inference_model(model)
    if runner is model:
        return keras.Model(model.inputs, {"predictions": model.outputs[0]}, name=model.name)
    return runner


def export_saved_model(model: keras.Model, path: str, crop_size: int, eval_scale: int,
                       mean=augment.KINETICS_MEAN, std=augment.KINETICS_STD) -> str:
    """Write `model` with a uint8-frames `serve` endpoint to `path`.

    Args:
      model: the Keras model (adaptive models also serve their B' / sizes).
      path: the SavedModel directory.
      crop_size, eval_scale: the centre crop after scaling the short side.
      mean, std: the normalization the model was trained with.
    """
    served = serving_model(model)
    frames = model.inputs[0].shape[1]
    archive = ExportArchive()
    archive.track(served)

    def serve(video):
        return served(preprocess(video, crop_size, eval_scale, mean, std), training=False)

    signature = tf.TensorSpec((None, frames, None, None, 3), tf.uint8, name="frames")
    archive.add_endpoint("serve", serve, input_signature=[signature])
    archive.write_out(path, verbose=False)
    return path


def clip_shape(model: keras.Model, crop_size: int, batch_size: int):
    frames = model.inputs[0].shape[1]
    if frames is None:
        raise ExportError(f"ONNX / TFLite export needs a fixed number of frames; {model.name} "
                          "takes any (build it with input_shape=(T, H, W, 3)).")
    return (batch_size, frames, crop_size, crop_size, 3)


def write_onnx(served: keras.Model, path: str, shape) -> None:
    """`served` (a `serving_model`) as ONNX through tf2onnx."""
    spec = keras.InputSpec(shape=shape, dtype="float32", name="clips")
    served.export(path, format="onnx", input_signature=[spec], verbose=False)


def unsupported_ops(message: str):
    """The TF op names a TFLite conversion error says have no builtin."""
    return sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message)))


def write_tflite(served: keras.Model, path: str, shape, select_tf_ops: bool = False) -> None:
    """Convert `served` (a `serving_model`) through a SavedModel (Keras' own
    LiteRT path) with builtin ops only, unless `select_tf_ops`; 3D max and
    average pools become their factorized forms (vidzoo.layers.pooling)."""
    name = served.name
    served = replace_pooling_3d(served)
    with tempfile.TemporaryDirectory() as saved_model:
        archive = ExportArchive()
        archive.track(served)
        archive.add_endpoint("serve", lambda clips: served(clips, training=False),
                             input_signature=[tf.TensorSpec(shape, tf.float32, name="clips")])
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
            [tf.lite.OpsSet.SELECT_TF_OPS] if select_tf_ops else [])
        converter.experimental_enable_resource_variables = True
        try:
            flatbuffer = converter.convert()
        except Exception as error:  # the converter raises its own ConverterError
            ops = unsupported_ops(str(error))
            if not ops:
                raise
            if select_tf_ops:
                raise ExportError(
                    f"{', '.join(ops)} is neither a TFLite builtin nor a Select TF op (used by "
                    f"{name}); export ONNX instead.") from None
            raise ExportError(
                f"TFLite has no builtin for {', '.join(ops)} (used by {name}). Export with "
                "select_tf_ops=True (--select_tf_ops) to keep them as Select TF ops (the file then "
                "needs the Flex delegate: TF's full interpreter or "
                "tensorflow-lite-select-tf-ops on Android), or export ONNX.") from None
    with open(path, "wb") as file:
        file.write(flatbuffer)


def export_model(model: keras.Model, path: str, format: str = "savedmodel", *, crop_size: int,
                 eval_scale: int, mean=augment.KINETICS_MEAN, std=augment.KINETICS_STD,
                 batch_size: int = 1, select_tf_ops: bool = False) -> str:
    """Write `model` to `path` as a SavedModel, or as a directory with
    model.onnx / model.tflite and preprocessing.json; returns `path`.

    Args:
      format: "savedmodel" (uint8 frames in, preprocessing included), "onnx"
        or "tflite" (normalized float32 clips of a fixed shape in).
      crop_size, eval_scale, mean, std: the evaluation preprocessing.
      batch_size: the ONNX / TFLite input's batch size.
      select_tf_ops: TFLite only; allow Select TF ops instead of failing.
    """
    if format not in FORMATS:
        raise ValueError(f"export: format must be one of {list(FORMATS)}; got {format!r}.")
    if format == "savedmodel":
        return export_saved_model(model, path, crop_size, eval_scale, mean, std)
    shape = clip_shape(model, crop_size, batch_size)
    served = serving_model(model)
    os.makedirs(path, exist_ok=True)
    file_name = f"model.{format}"
    if format == "onnx":
        write_onnx(served, os.path.join(path, file_name), shape)
    else:
        write_tflite(served, os.path.join(path, file_name), shape, select_tf_ops)
    record = {"format": format, "file": file_name, "input": "clips", "input_shape": list(shape),
              "input_dtype": "float32", "short_side": eval_scale, "crop_size": crop_size,
              "mean": list(mean), "std": list(std),
              "outputs": sorted(served.output.keys()),
              "pixels": "RGB scaled to [0, 1], then (x - mean) / std"}
    with open(os.path.join(path, PREPROCESSING), "w", encoding="utf-8") as file:
        json.dump(record, file, indent=2)
    return path


def export_run(run_dir: str, output: Optional[str] = None, format: str = "savedmodel",
               **options) -> str:
    """Export a `vidzoo train` run (default: to its saved_model/); returns the path."""
    model, config, _ = load_run(run_dir)
    clips = clip_config(config["frames"], config["stride"], config["crop_size"],
                        normalization=run_normalization(config.get("init_from")))
    output = output or (RunDir(run_dir).path(SAVED_MODEL) if format == "savedmodel"
                        else RunDir(run_dir).path(format))
    return export_model(model, output, format, crop_size=clips.crop_size,
                        eval_scale=clips.eval_scale, mean=clips.mean, std=clips.std, **options)


def export_preset(preset: str, output: str, format: str = "savedmodel", **options) -> str:
    """Export a preset (`vidzoo convert`) with the preset's resize, crop and
    normalization (included for a SavedModel, recorded for ONNX / TFLite)."""
    prep = presets.preprocessing(preset)
    model = presets.load_preset(preset)
    return export_model(model, output, format, crop_size=prep.crop, eval_scale=prep.eval_scale,
                        mean=tuple(prep.mean), std=tuple(prep.std), **options)
