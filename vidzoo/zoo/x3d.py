"""X3D-XS/S/M/L/XL (Feichtenhofer, CVPR 2020).

Reference: pytorchvideo `create_x3d` (the PySlowFast definition less one
BatchNorm: PySlowFast also normalizes the res2 shortcut, whose width does not
change; `shortcut_norm="pyslowfast"` adds it, +48 parameters).

* stem: 1x3x3 conv (stride 1,2,2) then a 5x1x1 channelwise conv, BN, ReLU;
* res2..res5: bottlenecks 1x1x1 -> channelwise 3x3x3 (spatial stride on the
  first block) -> squeeze-excitation on every other block -> swish ->
  1x1x1; widths round(12, 24, 48, 96 x width_factor), inner 2.25x, depths
  ceil((1, 2, 5, 3) x depth_factor);
* conv5: 1x1x1 conv to the last inner width, BN, ReLU (features);
* top: global average pool, 1x1x1 conv to 2048 without bias, ReLU, dropout
  0.5, linear classifier.

Each bottleneck's last BatchNorm starts at gamma 0, so the block starts as
its shortcut, as both references initialize X3D (pytorchvideo's `Net` runs
`init_net_weights`, which zeroes every bottleneck's final BatchNorm;
PySlowFast's X3D configs set ZERO_INIT_FINAL_BN, the recipe X3D and ATFR
trained with). With Keras' gamma 1 (`zero_init_final_bn=False`) X3D-S
barely trained from scratch here (docs/zoo.md).

The channelwise convs use `DepthwiseConv3D` (Conv3D(groups=C)'s kernel
layout), which TF CPU runs far faster than Conv3D(groups=C)
(docs/depthwise_benchmark.md).
"""

import math
from typing import Callable, Optional

import keras
from keras import layers

from vidzoo.layers import DepthwiseConv3D
from vidzoo.zoo.common import (
    Stages,
    batch_norm,
    check_application_args,
    conv3d,
    conv_bn,
    final_bn_convention,
    finish_model,
    global_average_pool,
    residual_output,
    video_input,
)
from vidzoo.zoo.registry import Variant, register_family

STAGES = ("stem", "res2", "res3", "res4", "res5", "conv5")
BASE_WIDTHS = (12, 24, 48, 96)
BASE_DEPTHS = (1, 2, 5, 3)

def round_width(width, multiplier, min_width=8, divisor=8):
    """pytorchvideo's channel rounding: nearest multiple of `divisor`, never
    below 90% of the exact width."""
    width *= multiplier
    rounded = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * width:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats, multiplier):
    return int(math.ceil(multiplier * repeats))


def stage_plan(width_factor, depth_factor):
    """[(depth, width, inner width)] of res2..res5."""
    plan = []
    for base_width, base_depth in zip(BASE_WIDTHS, BASE_DEPTHS):
        width = round_width(base_width, width_factor)
        plan.append((round_repeats(base_depth, depth_factor), width, int(2.25 * width)))
    return plan


def channelwise_conv(x, kernel_size, stride, name):
    """Channelwise conv with PyTorch's symmetric spatial padding."""
    pad = kernel_size[1] // 2
    if stride > 1 and pad:
        x = layers.ZeroPadding3D((0, pad, pad), name=f"{name}_pad")(x)
        return DepthwiseConv3D(kernel_size, stride, spatial_padding="valid", name=name)(x)
    return DepthwiseConv3D(kernel_size, stride, name=name)(x)


def squeeze_excitation(x, ratio, name, frames=None):
    channels = x.shape[-1]
    reduced = round_width(channels, ratio)
    s = global_average_pool(x, f"{name}_pool", keepdims=True, frames=frames)
    s = layers.Conv3D(reduced, 1, activation="relu", name=f"{name}_reduce")(s)
    s = layers.Conv3D(channels, 1, activation="sigmoid", name=f"{name}_expand")(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])


def x3d_block(x, width, inner, stride, use_se, shortcut_norm, name, activate=True,
              frames=None, zero_init_final_bn=True):
    """X3D's bottleneck; spatial strides only, so `frames` holds throughout.
    `zero_init_final_bn`: conv c's BatchNorm starts at gamma 0."""
    shortcut = x
    if x.shape[-1] != width or stride > 1:
        shortcut = conv3d(x, width, 1, (1, stride, stride), name=f"{name}_shortcut_conv")
        if x.shape[-1] != width or shortcut_norm == "pyslowfast":
            shortcut = batch_norm(shortcut, f"{name}_shortcut_bn", frames=frames)
    y = conv_bn(x, inner, 1, name=f"{name}_a", frames=frames)
    y = channelwise_conv(y, (3, 3, 3), stride, f"{name}_b_conv")
    y = batch_norm(y, f"{name}_b_bn", frames=frames)
    if use_se:
        y = squeeze_excitation(y, 0.0625, f"{name}_se", frames)
    y = layers.Activation("swish", name=f"{name}_b_swish")(y)
    y = conv3d(y, width, 1, name=f"{name}_c_conv")
    convention = final_bn_convention(zero_init_final_bn)
    y = batch_norm(y, f"{name}_c_bn", convention, frames=frames)
    return residual_output(y, shortcut, name, activate)


def x3d_stem(x, width):
    x = conv3d(x, width, (1, 3, 3), (1, 2, 2), name="stem_spatial_conv")
    x = channelwise_conv(x, (5, 1, 1), 1, "stem_temporal_conv")
    x = batch_norm(x, "stem_bn")
    return layers.ReLU(name="stem_relu")(x)


def x3d_classifier(classes, head_width=2048, dropout=0.5):
    def top(x, frames=None):
        x = global_average_pool(x, "head_pool", keepdims=True, frames=frames)
        x = layers.Conv3D(head_width, 1, use_bias=False, activation="relu", name="head_lin5")(x)
        x = layers.Flatten(name="head_flatten")(x)
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout")(x)
        return layers.Dense(classes, name="logits")(x)

    return top


def x3d(*, width_factor: float, depth_factor: float, include_top: bool = True,
        weights: Optional[str] = None, input_shape: Optional[tuple] = None, input_tensor=None,
        pooling: Optional[str] = None, classes: int = 400,
        classifier_activation: Optional[str] = "softmax", sgs=None,
        shortcut_norm: str = "pytorchvideo", block: Optional[Callable] = None,
        static_frames: bool = False, zero_init_final_bn: bool = True,
        default_shape: tuple = (13, 160, 160, 3), name: str = "x3d") -> keras.Model:
    """X3D with the given expansion factors.

    Args:
      width_factor, depth_factor: X3D's expansion of widths and depths.
      sgs: SimilarityGuidedSampling after a stage (True: res2), or None.
      shortcut_norm: "pytorchvideo" or "pyslowfast" (a BatchNorm on the res2
        shortcut, +48 parameters).
      block: `block(x, width, inner, stride, index, name)` replaces the
        residual block (MTNet uses this).
      static_frames: require a fixed number of frames.
      zero_init_final_bn: each bottleneck starts as its shortcut (PySlowFast's
        ZERO_INIT_FINAL_BN; the module docstring says why it is the default).
      default_shape: (T, H, W, C) when no input shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    if shortcut_norm not in ("pytorchvideo", "pyslowfast"):
        raise ValueError(f"{name}: shortcut_norm must be 'pytorchvideo' or 'pyslowfast'; "
                         f"got {shortcut_norm!r}.")
    inputs, source = video_input(name, input_shape, input_tensor, default_shape,
                                 static_frames=static_frames)
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=block is None)
    x = stages.end(x3d_stem(inputs, round_width(BASE_WIDTHS[0], width_factor)), "stem")
    frames = stages.sampled_frames("stem")
    plan = stage_plan(width_factor, depth_factor)
    for index, (depth, width, inner) in enumerate(plan):
        stage = STAGES[index + 1]
        for b in range(depth):
            stride = 2 if b == 0 else 1
            block_name = f"{stage}_block{b + 1}"
            if block is None:
                activate = stages.block_activates(stage, b, depth)
                x = x3d_block(x, width, inner, stride, b % 2 == 0, shortcut_norm, block_name,
                              activate, frames, zero_init_final_bn)
            else:  # a layer (MTBlock): it masks nothing inside
                x = block(x, width, inner, stride, b, block_name)
        x = stages.end(x, stage)
        frames = stages.frames_after(stage, frames)
    x = stages.end(conv_bn(x, plan[-1][2], 1, name="conv5", frames=frames), "conv5")
    frames = stages.frames_after("conv5", frames)
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=x3d_classifier(classes), frames=frames)


def _row(size, width_factor, depth_factor, default_input, params):
    reference = "pytorchvideo `create_x3d`"
    if size == "xl":
        reference = "the X3D paper's XL (width factor 2.9, depth factor 5.0) on `create_x3d`"
    return Variant(f"x3d_{size}", f"X3D_{size.upper()}", f"X3D-{size.upper()}", x3d,
                   dict(width_factor=width_factor, depth_factor=depth_factor), reference,
                   default_input, params, ("atfr",))


VARIANTS = (
    _row("xs", 2.0, 2.2, (4, 160, 160, 3), 3_794_274),
    _row("s", 2.0, 2.2, (13, 160, 160, 3), 3_794_274),
    _row("m", 2.0, 2.2, (16, 224, 224, 3), 3_794_274),
    _row("l", 2.0, 5.0, (16, 312, 312, 3), 6_153_384),
    _row("xl", 2.9, 5.0, (16, 356, 356, 3), 11_095_840),
)
register_family(VARIANTS)
