"""Adaptive add-ons for built backbones: SFC between a frozen head and tail
(seed 001), and access to the per-clip lengths of SGS / temporal-clustering
models (B' or cluster counts) for FLOPs accounting and histograms."""

import keras
from keras import layers

from vidzoo.layers import SelectiveFeatureCompression, SimilarityGuidedSampling, TemporalClustering


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


def adaptive_layers(model):
    """The SGS and temporal-clustering layers of `model`, in build order."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, (SimilarityGuidedSampling, TemporalClustering))]


def with_adaptive_outputs(model):
    """A model returning `{"predictions": ..., <layer name>: counts}`: each SGS
    layer's per-clip B', int32 (batch,), and each temporal-clustering layer's
    cluster sizes, int32 (batch, g) (always g clusters, so the layers after it
    cost the same for every clip)."""
    outputs = {"predictions": model.outputs[0]}
    for layer in adaptive_layers(model):
        if not isinstance(layer.output, (list, tuple)):
            raise ValueError(
                f"Adaptive layer {layer.name!r} does not return its counts; build the model "
                "through vidzoo.zoo, which sets return_active_bins / return_cluster_sizes."
            )
        outputs[layer.name] = layer.output[1]
    if len(outputs) == 1:
        raise ValueError(f"Model {model.name!r} has no SGS or temporal-clustering layer.")
    return keras.Model(model.inputs, outputs, name=f"{model.name}_adaptive")

