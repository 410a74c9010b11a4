"""Multiply-add (MAC) counts of convolutions, dense layers and recurrent cells.

The convention torchvision, PySlowFast and the X3D paper publish as "GFLOPs":
one multiply-add counts once, over convolutions and dense layers (our GRU
cells, used by MTNet, are counted too: 3 gates x (input + recurrent) MACs per
step; so are SFC's two attention products). Normalization, activations,
pooling and element-wise ops are not counted.

Counts come from the shapes a layer actually sees in a forward pass, so an
adaptive model (SGS, temporal clustering) is counted per clip from its actual
B' or number of clusters:

* `count_flops(model, input_shape)` - MACs of one clip of a fixed shape.
* `clip_flops(model, clip)` - MACs for one real clip.

`vidzoo.zoo.accounting.flops_per_clip` counts a batch of clips of an adaptive
model (clips that keep the same lengths share one counting pass).
"""

import contextlib

import keras
import numpy as np

from vidzoo.layers import DepthwiseConv3D, SelectiveFeatureCompression


def _conv_macs(layer, inputs, outputs):
    kernel = layer.kernel.shape  # (*window, in / groups, out)
    return int(np.prod(outputs.shape[1:])) * int(np.prod(kernel[:-1]))


def _depthwise_macs(layer, inputs, outputs):
    return int(np.prod(outputs.shape[1:])) * int(np.prod(layer.kernel_size))


def _dense_macs(layer, inputs, outputs):
    return int(np.prod(outputs.shape[1:])) * int(layer.kernel.shape[0])


def _gru_macs(layer, inputs, outputs):
    steps, features = inputs.shape[1], inputs.shape[-1]
    units = layer.units
    return int(steps) * 3 * (int(features) * units + units * units)


def _sfc_attention_macs(layer, inputs, outputs):
    """The two attention products of SFC, query . key and M v: each
    T' x T x (H W C) MACs (its convolutions are counted as their own layers)."""
    frames, compressed = inputs.shape[1], outputs.shape[1]
    return 2 * int(compressed) * int(frames) * int(np.prod(inputs.shape[2:]))


_COUNTERS = (
    (keras.layers.Conv1D, _conv_macs),
    (keras.layers.Conv2D, _conv_macs),
    (keras.layers.Conv3D, _conv_macs),
    (DepthwiseConv3D, _depthwise_macs),
    (keras.layers.Dense, _dense_macs),
    (keras.layers.GRU, _gru_macs),
    (SelectiveFeatureCompression, _sfc_attention_macs),
)


def _counter_for(layer):
    for cls, counter in _COUNTERS:
        if isinstance(layer, cls):
            return counter
    return None


def all_layers(model):
    """Every layer of `model`, those of nested models included. Keras has no
    public recursive walk; `_flatten_layers` is the one it uses itself."""
    return list(model._flatten_layers(include_self=False, recursive=True))


@contextlib.contextmanager
def _recording(model):
    """Patch every countable layer's `call` to add its per-clip MACs to a list."""
    totals = []
    patched = []
    for layer in all_layers(model):
        counter = _counter_for(layer)
        if counter is None:
            continue
        original = layer.call

        def wrapped(inputs, *args, _layer=layer, _original=original, _counter=counter,
                    **kwargs):
            outputs = _original(inputs, *args, **kwargs)
            result = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
            totals.append(_counter(_layer, inputs, result))
            return outputs

        layer.call = wrapped  # an instance attribute shadowing the class's method
        patched.append(layer)
    try:
        yield totals
    finally:
        for layer in patched:
            del layer.call


def clip_flops(model, clip):
    """MACs of `model` on one clip (T, H, W, C) or a batch of one (1, T, H, W, C)."""
    clip = np.asarray(clip)
    if clip.ndim == len(model.inputs[0].shape) - 1:
        clip = clip[None]
    if clip.shape[0] != 1:
        raise ValueError(f"clip_flops takes one clip; got a batch of shape {clip.shape}. "
                         "Use flops_per_clip for batches.")
    with _recording(model) as totals:
        model(clip, training=False)
    return int(sum(totals))


def count_flops(model, input_shape=None):
    """MACs of one clip of `input_shape` (T, H, W, C); defaults to the model's
    input shape. Non-adaptive models only depend on the shape; adaptive ones
    are counted on zeros (every frame alike), so use `clip_flops` for them."""
    shape = tuple(input_shape or model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(
            f"count_flops needs a fully known clip shape; the model input is "
            f"{tuple(model.inputs[0].shape)}. Pass input_shape=(T, H, W, C)."
        )
    return clip_flops(model, np.zeros((1,) + shape, "float32"))
