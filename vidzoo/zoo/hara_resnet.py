"""Hara et al.'s 3D ResNets, the ResNets the ATFR paper's tables use.

Reference: 3D-ResNets-PyTorch `models/resnet.py` `generate_model(depth)`
with shortcut type B: a 7x7x7 stem (stride 1,2,2), a 3x3x3 max pool
(stride 2), 3x3x3 convs everywhere, basic blocks (18) or bottlenecks (50).
The max pool halves T before res2; the ATFR authors' own network without
that downsampling is `vidzoo.zoo.sgs_resnet3d`.
"""

from typing import Optional, Sequence

import keras

from vidzoo.zoo.common import (
    Stages,
    check_application_args,
    conv_bn,
    finish_model,
    linear_classifier,
    max_pool_torch,
    residual_output,
    residual_stages,
    resnet_stride,
    strided,
    video_input,
)
from vidzoo.zoo.registry import Variant, register_family

STAGES = ("stem", "res2", "res3", "res4", "res5")
WIDTHS = (64, 128, 256, 512)
DEFAULT_INPUT = (32, 112, 112, 3)  # ATFR's 32 frames at Hara's 112 px


def _block(x, planes, stride, bottleneck, name, activate=True, frames=None):
    """A basic block or bottleneck; 3x3x3 convs stride time like space."""
    expansion = 4 if bottleneck else 1
    after = strided(frames, stride)
    shortcut = x
    if stride != 1 or x.shape[-1] != planes * expansion:
        shortcut = conv_bn(x, planes * expansion, 1, stride, name=f"{name}_shortcut",
                           activation=None, frames=frames)
    if bottleneck:
        y = conv_bn(x, planes, 1, name=f"{name}_a", frames=frames)
        y = conv_bn(y, planes, 3, stride, name=f"{name}_b", frames=frames)
        y = conv_bn(y, planes * 4, 1, name=f"{name}_c", activation=None, frames=after)
    else:
        y = conv_bn(x, planes, 3, stride, name=f"{name}_a", frames=frames)
        y = conv_bn(y, planes, 3, name=f"{name}_b", activation=None, frames=after)
    return residual_output(y, shortcut, name, activate)


def resnet3d(*, depths: Sequence[int], bottleneck: bool, include_top: bool = True,
             weights: Optional[str] = None, input_shape: Optional[tuple] = None,
             input_tensor=None, pooling: Optional[str] = None, classes: int = 400,
             classifier_activation: Optional[str] = "softmax", sgs=None,
             default_shape: tuple = DEFAULT_INPUT, name: str = "resnet3d") -> keras.Model:
    """Hara et al.'s 3D ResNet.

    Args:
      depths: blocks in res2..res5.
      bottleneck: bottleneck blocks (ResNet-50 and up) instead of basic ones.
      sgs: SimilarityGuidedSampling after a stage (True: res2), or None.
      default_shape: (T, H, W, C) when no input shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, default_shape)
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = conv_bn(inputs, 64, 7, (1, 2, 2), name="stem")
    x = stages.end(max_pool_torch(x, 3, 2, "stem_pool"), "stem")
    x, frames = residual_stages(
        x, stages, depths,
        lambda y, index, b, block_name, activate, frames: _block(
            y, WIDTHS[index], resnet_stride(index, b), bottleneck, block_name, activate, frames),
        temporal_stride=resnet_stride, frames=stages.sampled_frames("stem"))
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(0.0, classes), frames=frames)


VARIANTS = (
    Variant("resnet3d_18", "ResNet3D_18", "3D ResNet-18 as used with ATFR (seed 000)", resnet3d,
            dict(depths=(2, 2, 2, 2), bottleneck=False),
            "Hara et al., 3D-ResNets-PyTorch `generate_model(18)`, shortcut B", DEFAULT_INPUT,
            adaptations=("atfr",)),
    Variant("resnet3d_50", "ResNet3D_50", "3D ResNet-50 as used with ATFR (seed 000, Fig. 3)",
            resnet3d, dict(depths=(3, 4, 6, 3), bottleneck=True),
            "Hara et al., 3D-ResNets-PyTorch `generate_model(50)`, shortcut B", DEFAULT_INPUT,
            adaptations=("atfr",)),
)
register_family(VARIANTS)
