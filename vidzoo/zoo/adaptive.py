"""Adaptive add-ons for built backbones: SFC between a frozen head and tail
(seed 001). What an SGS / temporal-clustering model kept per clip, and what
it cost, is `vidzoo.zoo.accounting`'s."""

import keras
from keras import layers

from vidzoo.layers import SelectiveFeatureCompression


def _replay(model, new_input):
    """Run `model`'s graph (its layers, weights shared) on `new_input`, skipping
    the input-shape check so the graph accepts a different number of frames."""
    return model.call([new_input] if isinstance(model.input, list) else new_input)


def split_model(model, split):
    """(head, tail) of a functional `model` at the endpoint layer `split`.

    The tail takes the endpoint's features with any number of frames.
    """
    try:
        endpoint = model.get_layer(split).output
    except ValueError:
        stages = [layer.name for layer in model.layers if isinstance(layer, layers.Identity)]
        raise ValueError(
            f"Cannot split {model.name!r} at {split!r}: no such stage. Stages are {stages}."
        ) from None
    head = keras.Model(model.input, endpoint, name=f"{model.name}_head")
    fixed_tail = keras.Model(endpoint, model.outputs, name=f"{model.name}_tail_fixed")
    flexible = layers.Input(shape=(None,) + tuple(endpoint.shape[2:]), name=f"{split}_features")
    tail = keras.Model(flexible, _replay(fixed_tail, flexible), name=f"{model.name}_tail")
    return head, tail


def insert_sfc(model, split="res3", tau=2.0, input_shape=None, **sfc_kwargs):
    """Backbone head (frozen) -> SelectiveFeatureCompression -> tail (frozen).

    Both halves are frozen, BatchNorm included (a non-trainable Keras
    BatchNorm runs in inference mode), so training the result trains only
    SFC. `input_shape` (T, H, W, C) sets the long input SFC sees in one pass
    (default: the backbone's input); the tail sees T' = floor(T_split / tau)
    frames. Every other `SelectiveFeatureCompression` argument (scaled,
    topk, abstraction_blocks, bottleneck_ratio, return_attention) passes
    through `sfc_kwargs`.
    """
    head, tail = split_model(model, split)
    head.trainable = False
    tail.trainable = False
    shape = tuple(input_shape or model.inputs[0].shape[1:])
    inputs = layers.Input(shape=shape, name="video")
    features = _replay(head, inputs) if input_shape else head(inputs)
    compressed = SelectiveFeatureCompression(tau=tau, name="sfc", **sfc_kwargs)(features)
    outputs = tail(compressed)
    return keras.Model(inputs, outputs, name=f"{model.name}_sfc")
