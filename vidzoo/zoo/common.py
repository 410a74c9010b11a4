"""Shared pieces of the zoo: keras.applications-style arguments, conv/BN
helpers with each reference framework's padding and BatchNorm conventions,
named stage endpoints, and insertion of the adaptive layers at a stage.

Padding: PyTorch pads symmetrically (k // 2 on both sides) while Keras "same"
pads more on the right for strided convs, which shifts the sampling grid. Convs
and pools of PyTorch-defined models (torchvision, PySlowFast, pytorchvideo,
TSM) therefore pad explicitly and run "valid", so weights converted from those
references give the same outputs. TF-slim models (the Inception family) use TF
"same" padding, as their reference does.

After SGS a batch's clips are padded to its largest B'; the blocks there get
a `Frames` (SGS's per-clip counts and the temporal stride since) passed
explicitly, and their BatchNorm and average pooling ignore the padded frames.
"""

import dataclasses
import os
from typing import Any

import keras
from keras import layers

from vidzoo.layers import (
    FrameMaskedBatchNormalization,
    FrameMaskedGlobalAveragePooling3D,
    SimilarityGuidedSampling,
    TemporalClustering,
)
from vidzoo.zoo import presets
from vidzoo.zoo.flops import all_layers

POOLINGS = (None, "avg", "max")

# BatchNorm conventions: PyTorch (eps 1e-5, momentum 0.1 = Keras 0.9, scale
# and offset) and TF-slim (eps 1e-3, decay 0.999, offset only).
TORCH_BN = dict(epsilon=1e-5, momentum=0.9)
SLIM_BN = dict(epsilon=1e-3, momentum=0.999, scale=False)


def final_bn_convention(zero_init):
    """TORCH_BN for a residual block's last BatchNorm; with `zero_init`,
    gamma starts at 0 so the block starts as its shortcut (PySlowFast's
    ZERO_INIT_FINAL_BN, pytorchvideo's `init_net_weights`)."""
    return dict(TORCH_BN, gamma_initializer="zeros") if zero_init else TORCH_BN


def triple(value):
    """An int or a 3-sequence as a (t, h, w) tuple of ints."""
    if isinstance(value, int):
        return (value, value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f"Expected an int or 3 values (t, h, w); got {value}.")
    return value


def conv3d(x, filters, kernel_size, strides=1, name=None, use_bias=False, padding="torch",
           groups=1):
    """Conv3D with PyTorch symmetric padding ("torch") or TF padding ("same")."""
    kernel_size, strides = triple(kernel_size), triple(strides)
    if padding == "torch":
        if any(s > 1 for s in strides) or any(k % 2 == 0 for k in kernel_size):
            pad = tuple(k // 2 for k in kernel_size)
            if any(pad):
                x = layers.ZeroPadding3D(pad, name=f"{name}_pad")(x)
            padding = "valid"
        else:
            padding = "same"
    return layers.Conv3D(filters, kernel_size, strides, padding=padding, use_bias=use_bias,
                         groups=groups, name=name)(x)


@dataclasses.dataclass(frozen=True)
class Frames:
    """Which frames of each clip are real downstream of SGS, passed explicitly
    through the blocks after it. Blocks before SGS get None (plain Keras
    BatchNorm and pooling).

    Args:
      counts: the SGS layer's per-clip B' tensor (batch,).
      stride: the temporal stride applied since SGS (a clip keeps
        ceil(B' / stride) real frames).
      pads_lone_clip: whether a batch of one clip can hold padded frames
        (SGS keeping all B bins); if not, the masks skip a static batch of 1.
    """

    counts: Any
    stride: int = 1
    pads_lone_clip: bool = True


def strided(frames, temporal_stride):
    """`frames` after a layer with this temporal stride (None stays None)."""
    if frames is None or temporal_stride == 1:
        return frames
    return dataclasses.replace(frames, stride=frames.stride * int(temporal_stride))


def batch_norm(x, name, convention=TORCH_BN, frames=None):
    """BatchNormalization; with `frames` (downstream of SGS) its frame-masked
    version, so each clip's padded frames neither enter the moments nor leave
    non-zero."""
    if frames is None:
        return layers.BatchNormalization(name=name, **convention)(x)
    return FrameMaskedBatchNormalization(frames.stride, frames.pads_lone_clip, name=name,
                                         **convention)([x, frames.counts])


def global_average_pool(x, name, keepdims=False, frames=None):
    """GlobalAveragePooling3D; with `frames`, over each clip's real frames."""
    if frames is None:
        return layers.GlobalAveragePooling3D(keepdims=keepdims, name=name)(x)
    return FrameMaskedGlobalAveragePooling3D(frames.stride, keepdims, frames.pads_lone_clip,
                                             name=name)([x, frames.counts])


def conv_bn(x, filters, kernel_size, strides=1, name=None, activation="relu", frames=None,
            **conv_kwargs):
    """Conv3D (no bias) + BatchNorm (PyTorch convention) + optional activation.
    `frames` describes `x` (None before SGS); the conv's temporal stride is
    applied to it for the BatchNorm."""
    x = conv3d(x, filters, kernel_size, strides, name=f"{name}_conv", **conv_kwargs)
    x = batch_norm(x, f"{name}_bn", frames=strided(frames, triple(strides)[0]))
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def max_pool_torch(x, pool_size, strides, name):
    """PyTorch MaxPool3d with padding k // 2. Zero padding equals PyTorch's
    -inf padding here because every such pool follows a ReLU."""
    pool_size, strides = triple(pool_size), triple(strides)
    pad = tuple(k // 2 for k in pool_size)
    if any(pad):
        x = layers.ZeroPadding3D(pad, name=f"{name}_pad")(x)
    return layers.MaxPooling3D(pool_size, strides, padding="valid", name=name)(x)


# ----------------------------------------------------------------------------
# keras.applications-style arguments


def check_application_args(model_name, include_top, weights, classes, pooling):
    """Validate the keras.applications arguments shared by every constructor."""
    if weights is not None and not (isinstance(weights, (str, os.PathLike))
                                    and (os.path.isfile(weights) or presets.is_preset(weights))):
        raise ValueError(
            f"{model_name}: `weights` must be None (random initialization), a preset "
            f"directory (`vidzoo convert` writes them) or the path to an existing weights "
            f"file; got {weights!r}."
        )
    if pooling not in POOLINGS:
        raise ValueError(
            f"{model_name}: `pooling` must be one of None, 'avg' or 'max'; got {pooling!r}."
        )
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ValueError(
            f"{model_name}: `classes` must be a positive int when include_top=True; "
            f"got {classes!r}."
        )


def video_input(model_name, input_shape, input_tensor, default_shape, min_size=32,
                min_frames=1, static_frames=False):
    """The model's Input: `input_tensor`, or an Input of `input_shape` (T, H, W, C).

    T may be None (clips of any length) unless `static_frames`; H and W must be
    at least `min_size` so every stage has a feature map.
    """
    if input_tensor is not None and input_shape is None:
        input_shape = tuple(input_tensor.shape[1:])
    shape = tuple(default_shape if input_shape is None else input_shape)
    if len(shape) != 4:
        raise ValueError(
            f"{model_name}: `input_shape` must be (frames, height, width, channels); "
            f"got {shape}."
        )
    frames, height, width, channels = shape
    if frames is None and static_frames:
        raise ValueError(
            f"{model_name} needs a static number of frames; got input_shape {shape}."
        )
    if frames is not None and frames < min_frames:
        raise ValueError(
            f"{model_name} needs at least {min_frames} frames; got input_shape {shape}."
        )
    if height is None or width is None or height < min_size or width < min_size:
        raise ValueError(
            f"{model_name} needs height and width of at least {min_size} pixels; "
            f"got input_shape {shape}."
        )
    if channels is None or channels < 1:
        raise ValueError(f"{model_name} needs a known channel count; got {shape}.")
    if input_tensor is None:
        return layers.Input(shape=shape, name="video"), None
    if not keras.backend.is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=shape, name="video"), input_tensor
    return input_tensor, input_tensor


def finish_model(inputs, input_tensor, features, *, name, include_top, pooling, weights,
                 classifier_activation, top, frames=None):
    """Add the classifier (`top(features, frames) -> logits`) or the feature
    pooling, build the Model and load `weights` from a file if given.
    `frames` describes `features` (None when no SGS is upstream)."""
    if include_top:
        x = top(features, frames)
        x = layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    elif pooling == "avg":
        x = global_average_pool(features, "avg_pool", frames=frames)
    elif pooling == "max":
        x = layers.GlobalMaxPooling3D(name="max_pool")(features)
    else:
        x = features
    model_inputs = inputs if input_tensor is None else keras.utils.get_source_inputs(input_tensor)
    model = keras.Model(model_inputs, x, name=name)
    if presets.is_preset(weights):
        presets.load_into(model, weights)
    elif weights is not None:
        model.load_weights(weights)
    return model


def linear_classifier(dropout=0.0, classes=400, name="logits"):
    """Global average pooling, optional dropout, Dense(classes): torchvision's
    and PySlowFast's head."""

    def top(x, frames=None):
        x = global_average_pool(x, "head_pool", frames=frames)
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout")(x)
        return layers.Dense(classes, name=name)(x)

    return top


# ----------------------------------------------------------------------------
# Stage endpoints and adaptive layers


def _options(value, argument, default_after, model_name):
    if value is None or value is False:
        return None
    if value is True:
        return {"after": default_after}
    if isinstance(value, str):
        return {"after": value}
    if isinstance(value, dict):
        options = dict(value)
        options.setdefault("after", default_after)
        return options
    raise ValueError(
        f"{model_name}: `{argument}` must be None, True, a stage name or a dict of "
        f"options with an 'after' stage; got {value!r}."
    )


SGS_PLACEMENTS = ("after_relu", "before_relu")


class Stages:
    """Names stage outputs with Identity layers and inserts adaptive layers.

    `sgs` (SimilarityGuidedSampling) and `temporal_clustering` take None,
    True (default placement), a stage name, or a dict of the layer's arguments
    with an "after" key. Adaptive layers return their per-clip counts too, so
    `vidzoo.zoo.with_adaptive_outputs` can expose B' or cluster sizes.

    SGS's dict may also hold "placement": "after_relu" (default: SGS samples
    the stage's output) or "before_relu" (the released ATFR code: SGS samples
    the last block's residual sum, and the block's ReLU follows SGS). Only
    families built with `pre_activation_blocks=True` can defer that ReLU.
    """

    def __init__(self, model_name, stage_names, sgs=None, temporal_clustering=None,
                 default_after="res2", pre_activation_blocks=False):
        self.model_name = model_name
        self.stage_names = tuple(stage_names)
        self.sgs = _options(sgs, "sgs", default_after, model_name)
        self.clustering = _options(temporal_clustering, "temporal_clustering", default_after,
                                   model_name)
        for options in (self.sgs, self.clustering):
            if options and options["after"] not in self.stage_names:
                raise ValueError(
                    f"{model_name}: cannot insert an adaptive layer after stage "
                    f"{options['after']!r}; stages are {list(self.stage_names)}."
                )
        self.sgs_placement = (self.sgs or {}).pop("placement", "after_relu")
        if self.sgs_placement not in SGS_PLACEMENTS:
            raise ValueError(
                f"{model_name}: sgs placement must be one of {list(SGS_PLACEMENTS)}; "
                f"got {self.sgs_placement!r}."
            )
        if self.sgs_placement == "before_relu" and not pre_activation_blocks:
            raise ValueError(
                f"{model_name}: sgs placement 'before_relu' needs residual blocks that end "
                "in an Add + ReLU (3D ResNets, R(2+1)D, Slow/I3D, X3D); use 'after_relu'."
            )
        self.mask = None
        self._sampled = {}

    def sampled_frames(self, stage, pathway=""):
        """The `Frames` SGS starts after `stage` (of `pathway`), None where no
        SGS is there."""
        return self._sampled.get((stage, pathway))

    def frames_after(self, stage, frames, pathway=""):
        """What describes the frames after `stage`: a new `Frames` if SGS is
        there, else `frames` (those of the stage's last block)."""
        return self.sampled_frames(stage, pathway) or frames

    def defers_activation(self, stage):
        """True when the last block of `stage` must return its residual sum:
        SGS goes there and the block's ReLU after it."""
        return bool(self.sgs) and self.sgs["after"] == stage and (
            self.sgs_placement == "before_relu")

    def block_activates(self, stage, block, depth):
        """False only for the last of a stage's `depth` blocks when SGS goes
        before that block's ReLU (`defers_activation`)."""
        return not (block == depth - 1 and self.defers_activation(stage))

    def end(self, x, stage, pathway=""):
        """Mark `x` as the output of `stage`, then apply an adaptive layer there."""
        suffix = f"_{pathway}" if pathway else ""
        x = layers.Identity(name=f"{stage}{suffix}")(x)
        if self.sgs and self.sgs["after"] == stage:
            kwargs = {k: v for k, v in self.sgs.items() if k != "after"}
            x, counts = SimilarityGuidedSampling(return_active_bins=True, name=f"sgs{suffix}",
                                                 **kwargs)(x)
            self._sampled[(stage, pathway)] = Frames(
                counts, pads_lone_clip=not kwargs.get("drop_empty_bins", True))
            if self.defers_activation(stage):
                x = layers.ReLU(name=f"{stage}{suffix}_relu_after_sgs")(x)
        if self.clustering and self.clustering["after"] == stage:
            kwargs = {k: v for k, v in self.clustering.items() if k != "after"}
            layer = TemporalClustering(return_cluster_sizes=True,
                                       name=f"temporal_clustering{suffix}", **kwargs)
            x, _ = layer(x if self.mask is None else [x, self.mask])
        return x


def residual_output(x, shortcut, name, activate=True):
    """The residual sum y + shortcut, then ReLU unless `activate` is False
    (SGS placed before the block's ReLU, see `Stages`)."""
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_out")(x) if activate else x


def reference_param_count(model):
    """Parameters as PyTorch and TF-slim count them: Keras' count minus the
    BatchNorm moving mean and variance (2 per BatchNorm channel)."""
    moving = sum(2 * layer.moving_mean.shape[0]
                 for layer in all_layers(model)
                 if isinstance(layer, layers.BatchNormalization))
    return model.count_params() - moving


def resnet_stride(stage_index, block_index):
    """A ResNet's stride: 2 on the first block of res3..res5, else 1."""
    return 2 if (stage_index > 0 and block_index == 0) else 1


def recomputed(build, x, name):
    """`build(x)` as one `Recompute` segment named `name`: in training its
    activations are recomputed in the backward pass instead of kept. Its
    layers keep their names inside (`transfer_weights` and the FLOP counter
    look into nested models)."""
    from vidzoo.layers.recompute import Recompute

    segment_input = keras.Input(shape=tuple(x.shape[1:]), name=f"{name}_input")
    segment = keras.Model(segment_input, build(segment_input), name=name)
    return Recompute(segment, name=f"{name}_recompute")(x)


def residual_stages(x, stages, depths, make_block, temporal_stride=None, after_stage=None,
                    frames=None):
    """res2..res5 of a ResNet; returns (x, frames) after res5.

    `make_block(x, stage_index, block_index, name, activate, frames)` builds
    each block; `activate` is False only for the last block of a stage whose
    SGS sits before the ReLU, and `frames` describes the block's input (None
    before SGS). `temporal_stride(stage_index, block_index)` is the block's
    temporal stride (default 1). `after_stage(x, stage_index, frames)`, if
    given, runs before the stage's output and returns (x, frames)
    (PySlowFast's temporal pool after res2)."""
    for index, depth in enumerate(depths):
        stage = f"res{index + 2}"
        for b in range(depth):
            x = make_block(x, index, b, f"{stage}_block{b + 1}",
                           stages.block_activates(stage, b, depth), frames)
            if temporal_stride is not None:
                frames = strided(frames, temporal_stride(index, b))
        if after_stage is not None:
            x, frames = after_stage(x, index, frames)
        x = stages.end(x, stage)
        frames = stages.frames_after(stage, frames)
    return x, frames
