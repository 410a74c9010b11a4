"""torchvision's VideoResNet family: R3D-18/34, MC3-18, R(2+1)D-18/34.

Reference: torchvision `models/video/resnet.py` (Tran et al., CVPR 2018). A
stem, four stages of basic blocks whose convs are full 3D,
spatial-only ("2d", MC3's upper stages) or (2+1)D, average pooling and a
linear classifier. Stages are named stem, res2..res5; `sgs=` puts
SimilarityGuidedSampling after one (default res2).
"""

from typing import Optional, Sequence

import keras
from keras import layers

from vidzoo.zoo.common import (
    Stages,
    batch_norm,
    check_application_args,
    conv3d,
    conv_bn,
    finish_model,
    linear_classifier,
    residual_output,
    residual_stages,
    resnet_stride,
    strided,
    video_input,
)
from vidzoo.zoo.registry import Variant, register_family

STAGES = ("stem", "res2", "res3", "res4", "res5")
WIDTHS = (64, 128, 256, 512)
DEFAULT_INPUT = (16, 112, 112, 3)
CONV_KINDS = ("3d", "2d", "2plus1d")


def _midplanes(inplanes, planes):
    """torchvision's (2+1)D width: parameters equal to a full 3x3x3 conv."""
    return (inplanes * planes * 27) // (inplanes * 9 + 3 * planes)


def _conv_builder(kind):
    """A torchvision conv builder: (x, filters, midplanes, stride, name, frames)
    -> x, and the shortcut stride it implies."""

    def full(x, filters, mid, stride, name, frames):
        return conv3d(x, filters, 3, stride, name=name)

    def spatial_only(x, filters, mid, stride, name, frames):
        return conv3d(x, filters, (1, 3, 3), (1, stride, stride), name=name)

    def two_plus_one(x, filters, mid, stride, name, frames):
        x = conv3d(x, mid, (1, 3, 3), (1, stride, stride), name=f"{name}_spatial")
        x = batch_norm(x, f"{name}_spatial_bn", frames=frames)
        x = layers.ReLU(name=f"{name}_spatial_relu")(x)
        return conv3d(x, filters, (3, 1, 1), (stride, 1, 1), name=f"{name}_temporal")

    builders = {"3d": (full, "all"), "2d": (spatial_only, "space"), "2plus1d": (two_plus_one, "all")}
    return builders[kind]


def _temporal_stride(kind, stride):
    return stride if _conv_builder(kind)[1] == "all" else 1


def _basic_block(x, planes, stride, kind, name, activate=True, frames=None):
    inplanes = x.shape[-1]
    build, stride_scope = _conv_builder(kind)
    mid = _midplanes(inplanes, planes)
    after = strided(frames, _temporal_stride(kind, stride))
    shortcut = x
    if stride != 1 or inplanes != planes:
        strides = (stride, stride, stride) if stride_scope == "all" else (1, stride, stride)
        shortcut = conv_bn(x, planes, 1, strides, name=f"{name}_shortcut", activation=None,
                           frames=frames)
    y = build(x, planes, mid, stride, f"{name}_conv1", frames)
    y = layers.ReLU(name=f"{name}_relu1")(batch_norm(y, f"{name}_bn1", frames=after))
    y = build(y, planes, mid, 1, f"{name}_conv2", after)
    y = batch_norm(y, f"{name}_bn2", frames=after)
    return residual_output(y, shortcut, name, activate)


def _stem(x, kind):
    if kind == "2plus1d":
        x = conv_bn(x, 45, (1, 7, 7), (1, 2, 2), name="stem_spatial")
        return conv_bn(x, 64, (3, 1, 1), 1, name="stem_temporal")
    return conv_bn(x, 64, (3, 7, 7), (1, 2, 2), name="stem")


def video_resnet(*, depths: Sequence[int], conv_kinds: Sequence[str], stem_kind: str,
                 include_top: bool = True,
                 weights: Optional[str] = None, input_shape: Optional[tuple] = None,
                 input_tensor=None, pooling: Optional[str] = None, classes: int = 400,
                 classifier_activation: Optional[str] = "softmax", sgs=None,
                 default_shape: tuple = DEFAULT_INPUT,
                 name: str = "video_resnet") -> keras.Model:
    """torchvision's VideoResNet.

    Args:
      depths: blocks in res2..res5.
      conv_kinds: per stage, "3d" (3x3x3), "2d" (1x3x3) or "2plus1d".
      stem_kind: "3d" (a 3x7x7 conv) or "2plus1d" (1x7x7 to 45, then 3x1x1).
      sgs: SimilarityGuidedSampling after a stage (True: res2), or None.
      default_shape: (T, H, W, C) when neither `input_shape` nor
        `input_tensor` is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    for kind in (*conv_kinds, stem_kind):
        if kind not in CONV_KINDS:
            raise ValueError(f"{name}: conv kinds are {CONV_KINDS}; got {kind!r}.")
    inputs, source = video_input(name, input_shape, input_tensor, default_shape)
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = stages.end(_stem(inputs, stem_kind), "stem")
    x, frames = residual_stages(
        x, stages, depths,
        lambda y, index, b, block_name, activate, frames: _basic_block(
            y, WIDTHS[index], resnet_stride(index, b), conv_kinds[index], block_name, activate,
            frames),
        temporal_stride=lambda index, b: _temporal_stride(conv_kinds[index],
                                                          resnet_stride(index, b)),
        frames=stages.sampled_frames("stem"))
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(0.0, classes), frames=frames)


def _row(name, python_name, title, depths, kinds, stem, reference, params=None,
         adaptations=()):
    return Variant(name, python_name, title, video_resnet,
                   dict(depths=depths, conv_kinds=kinds, stem_kind=stem), reference,
                   DEFAULT_INPUT, params, adaptations)


BASIC_18, BASIC_34 = (2, 2, 2, 2), (3, 4, 6, 3)
VARIANTS = (
    _row("r3d_18", "R3D_18", "R3D-18", BASIC_18, ("3d",) * 4, "3d",
         "torchvision `r3d_18`", 33_371_472, ("atfr",)),
    _row("r3d_34", "R3D_34", "R3D-34", BASIC_34, ("3d",) * 4, "3d",
         "torchvision's VideoResNet with BasicBlocks (3, 4, 6, 3) and 3x3x3 convs (Tran et "
         "al. 2018, Table 2; torchvision has no preset)"),
    _row("mc3_18", "MC3_18", "MC3-18 (3D convs in res2, 2D after)", BASIC_18,
         ("3d", "2d", "2d", "2d"), "3d", "torchvision `mc3_18`", 11_695_440),
    _row("r2plus1d_18", "R2Plus1D_18", "R(2+1)D-18", BASIC_18, ("2plus1d",) * 4, "2plus1d",
         "torchvision `r2plus1d_18`", 31_505_325, ("atfr",)),
    _row("r2plus1d_34", "R2Plus1D_34", "R(2+1)D-34", BASIC_34, ("2plus1d",) * 4, "2plus1d",
         "torchvision's VideoResNet with BasicBlocks (3, 4, 6, 3) and (2+1)D convs"),
)
register_family(VARIANTS)
