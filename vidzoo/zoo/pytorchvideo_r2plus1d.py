"""pytorchvideo's R(2+1)D-50.

Reference: pytorchvideo `models/r2plus1d.py` `create_r2plus1d` (depth 50): a
1x7x7 stem (stride 1,2,2, no pool), bottleneck stages with spatial stride 2
in every stage and temporal stride 2 in res4 and res5, average pooling,
dropout 0.5 and a linear classifier. At the default 16x224x224 input,
pytorchvideo's (4, 7, 7) head pool is the global average used here.
"""

from typing import Optional, Sequence

import keras

from vidzoo.zoo.common import (
    Stages,
    check_application_args,
    conv_bn,
    finish_model,
    linear_classifier,
    residual_output,
    residual_stages,
    strided,
    video_input,
)
from vidzoo.zoo.pyslowfast_resnet import R50_DEPTHS
from vidzoo.zoo.registry import Variant, register_family

STAGES = ("stem", "res2", "res3", "res4", "res5")
DEFAULT_INPUT = (16, 224, 224, 3)


def _bottleneck(x, dim_out, dim_inner, temporal_stride, spatial_stride, name, activate=True,
                frames=None):
    """pytorchvideo's 2plus1d bottleneck: 1x1x1 conv a, then conv b as a 3x1x1
    temporal conv (temporal stride) + BN + ReLU + 1x3x3 spatial conv (spatial
    stride), 1x1x1 conv c; the shortcut is a 1x1x1 conv with both strides."""
    strides = (temporal_stride, spatial_stride, spatial_stride)
    after = strided(frames, temporal_stride)
    shortcut = x
    if x.shape[-1] != dim_out or strides != (1, 1, 1):
        shortcut = conv_bn(x, dim_out, 1, strides, name=f"{name}_shortcut", activation=None,
                           frames=frames)
    y = conv_bn(x, dim_inner, 1, name=f"{name}_a", frames=frames)
    y = conv_bn(y, dim_inner, (3, 1, 1), (temporal_stride, 1, 1), name=f"{name}_b_temporal",
                frames=frames)
    y = conv_bn(y, dim_inner, (1, 3, 3), (1, spatial_stride, spatial_stride), name=f"{name}_b",
                frames=after)
    y = conv_bn(y, dim_out, 1, name=f"{name}_c", activation=None, frames=after)
    return residual_output(y, shortcut, name, activate)


def pytorchvideo_r2plus1d(*, depths: Sequence[int] = R50_DEPTHS, include_top: bool = True,
                          weights: Optional[str] = None, input_shape: Optional[tuple] = None,
                          input_tensor=None, pooling: Optional[str] = None, classes: int = 400,
                          classifier_activation: Optional[str] = "softmax", sgs=None,
                          dropout: float = 0.5, default_shape: tuple = DEFAULT_INPUT,
                          name: str = "r2plus1d_r50") -> keras.Model:
    """pytorchvideo's R(2+1)D.

    Args:
      depths: blocks in res2..res5.
      sgs: SimilarityGuidedSampling after a stage (True: res2), or None.
      dropout: before the classifier.
      default_shape: (T, H, W, C) when no input shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, default_shape)
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = stages.end(conv_bn(inputs, 64, (1, 7, 7), (1, 2, 2), name="stem"), "stem")

    def temporal_stride(index, b):
        return 2 if (b == 0 and index >= 2) else 1

    def block(y, index, b, block_name, activate, frames):
        spatial_stride = 2 if b == 0 else 1
        return _bottleneck(y, 256 * 2**index, 64 * 2**index, temporal_stride(index, b),
                           spatial_stride, block_name, activate, frames)

    x, frames = residual_stages(x, stages, depths, block, temporal_stride=temporal_stride,
                                frames=stages.sampled_frames("stem"))
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes), frames=frames)


VARIANTS = (
    Variant("r2plus1d_r50", "R2Plus1D_R50", "R(2+1)D-50", pytorchvideo_r2plus1d, {},
            "pytorchvideo `r2plus1d_r50` (`create_r2plus1d`, depth 50)", DEFAULT_INPUT,
            28_107_600, ("atfr",)),
)
register_family(VARIANTS)
