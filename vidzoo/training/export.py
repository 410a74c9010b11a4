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
"""

from typing import Optional

import keras
import tensorflow as tf
from keras.export import ExportArchive

from vidzoo.tf_data import augment
from vidzoo.training.data import clip_config, run_normalization
from vidzoo.training.run_dir import SAVED_MODEL, RunDir, load_run
from vidzoo.zoo import presets
from vidzoo.zoo.accounting import inference_model


def preprocess(frames, crop_size, eval_scale, mean=augment.KINETICS_MEAN,
               std=augment.KINETICS_STD):
    """uint8 (batch, T, H, W, 3) -> normalized float32 (batch, T, crop, crop, 3)."""
    shape = tf.shape(frames)
    flat = tf.reshape(frames, (-1, shape[2], shape[3], 3))
    flat = augment.center_crop(augment.short_side_scale(flat, eval_scale), crop_size)
    flat = augment.normalize(flat, mean, std)
    return tf.reshape(flat, (shape[0], shape[1], crop_size, crop_size, 3))


def export_saved_model(model: keras.Model, path: str, crop_size: int, eval_scale: int,
                       mean=augment.KINETICS_MEAN, std=augment.KINETICS_STD) -> str:
    """Write `model` with a uint8-frames `serve` endpoint to `path`.

    Args:
      model: the Keras model (adaptive models also serve their B' / sizes).
      path: the SavedModel directory.
      crop_size, eval_scale: the centre crop after scaling the short side.
      mean, std: the normalization the model was trained with.
    """
    runner = inference_model(model)
    frames = model.inputs[0].shape[1]
    archive = ExportArchive()
    archive.track(runner)

    def serve(video):
        outputs = runner(preprocess(video, crop_size, eval_scale, mean, std), training=False)
        return outputs if isinstance(outputs, dict) else {"predictions": outputs}

    signature = tf.TensorSpec((None, frames, None, None, 3), tf.uint8, name="frames")
    archive.add_endpoint("serve", serve, input_signature=[signature])
    archive.write_out(path, verbose=False)
    return path


def export_run(run_dir: str, output: Optional[str] = None) -> str:
    """Export a `vidzoo train` run (default: to its saved_model/); returns the path."""
    model, config, _ = load_run(run_dir)
    clips = clip_config(config["frames"], config["stride"], config["crop_size"],
                        normalization=run_normalization(config.get("init_from")))
    output = output or RunDir(run_dir).path(SAVED_MODEL)
    return export_saved_model(model, output, clips.crop_size, clips.eval_scale,
                              clips.mean, clips.std)


def export_preset(preset: str, output: str) -> str:
    """Export a preset (`vidzoo convert`) as a SavedModel that takes uint8
    frames and applies the preset's resize, crop and normalization."""
    prep = presets.preprocessing(preset)
    return export_saved_model(presets.load_preset(preset), output, prep.crop, prep.eval_scale,
                              tuple(prep.mean), tuple(prep.std))
