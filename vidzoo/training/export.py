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

import os

import tensorflow as tf
from keras.export import ExportArchive

from vidzoo.tf_data import augment
from vidzoo.training.evaluate import load_run
from vidzoo.training.data import clip_config
from vidzoo.zoo.accounting import inference_model


def preprocess(frames, crop_size, eval_scale, mean=augment.KINETICS_MEAN,
               std=augment.KINETICS_STD):
    """uint8 (batch, T, H, W, 3) -> normalized float32 (batch, T, crop, crop, 3)."""
    shape = tf.shape(frames)
    flat = tf.reshape(frames, (-1, shape[2], shape[3], 3))
    flat = augment.center_crop(augment.short_side_scale(flat, eval_scale), crop_size)
    flat = augment.normalize(flat, mean, std)
    return tf.reshape(flat, (shape[0], shape[1], crop_size, crop_size, 3))


def export_saved_model(model, path, crop_size, eval_scale, mean=augment.KINETICS_MEAN,
                       std=augment.KINETICS_STD):
    """Write `model` with a uint8-frames `serve` endpoint to `path`."""
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


def export_run(run_dir, output=None):
    """Export a `vidzoo train` run; returns the SavedModel path."""
    model, config, _ = load_run(run_dir)
    clips = clip_config(config["frames"], config["stride"], config["crop_size"])
    output = output or os.path.join(run_dir, "saved_model")
    return export_saved_model(model, output, clips.crop_size, clips.eval_scale,
                              clips.mean, clips.std)
