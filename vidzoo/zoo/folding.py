"""Fold inference-mode BatchNorm into the convolution before it.

At inference a BatchNormalization is a per-channel affine map,
y = gamma * (x - mean) / sqrt(var + eps) + beta, so after a convolution it
can be moved into the convolution's weights: kernel * s and bias * s + beta -
mean * s with s = gamma / sqrt(var + eps). The folded model computes the same
function (up to float rounding) with one op less per activation, and
TensorFlow fuses the conv's bias (and a following ReLU) into the conv kernel
on CPU. docs/benchmarks.md measures what it saves. Deployment converters
(TFLite, TensorRT, torch.ao's fuse_modules) do the same; this is for running
a zoo model in Keras itself.
"""

import keras
from keras import layers

from vidzoo.layers import DepthwiseConv3D, FrameMaskedBatchNormalization
from vidzoo.layers.sgs import FrameMaskOptions, _frame_weights, _lone_unpadded_clip

FOLDABLE_CONVS = (layers.Conv3D, layers.Conv2D, DepthwiseConv3D)


@keras.saving.register_keras_serializable(package="vidzoo")
class FoldedBatchNorm(layers.Layer):
    """Where a BatchNormalization was: the identity, its affine map now in the
    conv before it. Takes BatchNormalization's call arguments."""

    def call(self, inputs, training=None, mask=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="vidzoo")
class FoldedFrameMaskedBatchNorm(FrameMaskOptions, layers.Layer):
    """Where a `FrameMaskedBatchNormalization` was: its affine map now in the
    conv before it, what is left is its frame mask (each clip's padded frames
    come out as zeros, and a lone unpadded clip skips the mask, as before)."""

    def call(self, inputs, training=None):
        features, counts = inputs
        if _lone_unpadded_clip(features, self.mask_lone_clip):
            return features
        return features * keras.ops.cast(
            _frame_weights(counts, features, self.temporal_stride), features.dtype)


def _features_layer(layer):
    """The layer whose output `layer` normalizes (its one input, or a
    frame-masked BN's features), or None when it is called more than once."""
    nodes = layer._inbound_nodes
    expected = 2 if isinstance(layer, FrameMaskedBatchNormalization) else 1
    if len(nodes) != 1 or len(nodes[0].input_tensors) != expected:
        return None
    return nodes[0].input_tensors[0]._keras_history.operation


def foldable_pairs(model):
    """{batch norm name: conv layer} for every BatchNormalization (channels
    last, called once; frame-masked ones included) whose features come from a
    foldable conv used once."""
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, layers.BatchNormalization):
            continue
        conv = _features_layer(layer)
        rank = len(layer._inbound_nodes[0].input_tensors[0].shape) if conv else 0
        if layer.axis not in (-1, rank - 1):  # channels last only
            continue
        if (isinstance(conv, FOLDABLE_CONVS) and len(conv._inbound_nodes) == 1
                and len(conv._outbound_nodes) == 1 and not _is_grouped(conv)):
            pairs[layer.name] = conv
    return pairs


def _is_grouped(conv):
    return getattr(conv, "groups", 1) != 1


def _folded_weights(conv, norm):
    """(kernel, bias) of `conv` with `norm` folded in, as numpy arrays."""
    import numpy as np

    gamma = np.asarray(norm.gamma) if norm.scale else 1.0
    beta = np.asarray(norm.beta) if norm.center else 0.0
    mean, variance = np.asarray(norm.moving_mean), np.asarray(norm.moving_variance)
    scale = gamma / np.sqrt(variance + norm.epsilon)
    kernel = np.asarray(conv.kernel) * scale  # the last axis is the output channel
    bias = np.asarray(conv.bias) if conv.use_bias else 0.0
    return kernel.astype("float32"), ((bias - mean) * scale + beta).astype("float32")


def fold_batch_norm(model):
    """An inference copy of the functional `model` with every foldable
    BatchNormalization folded into the conv before it (`foldable_pairs`) and
    replaced by a `FoldedBatchNorm` (the identity) of the same name. The copy is for inference only:
    training it would train the folded weights without batch statistics."""
    if not isinstance(model, keras.Model) or not hasattr(model, "_operations"):
        raise TypeError(f"fold_batch_norm needs a functional keras.Model; got "
                        f"{type(model).__name__}.")
    pairs = foldable_pairs(model)
    folded_convs = {conv.name: norm_name for norm_name, conv in pairs.items()}

    def clone(layer):
        if layer.name in pairs and isinstance(layer, FrameMaskedBatchNormalization):
            return FoldedFrameMaskedBatchNorm(layer.temporal_stride, layer.mask_lone_clip,
                                              name=layer.name)
        if layer.name in pairs:
            return FoldedBatchNorm(name=layer.name)
        config = layer.get_config()
        if layer.name in folded_convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone)
    for layer in folded.layers:
        if layer.name in folded_convs:
            norm = model.get_layer(folded_convs[layer.name])
            layer.set_weights(list(_folded_weights(model.get_layer(layer.name), norm)))
        elif layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return folded
