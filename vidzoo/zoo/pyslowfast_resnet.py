"""PySlowFast's single-pathway ResNet-50s, Slow-only and I3D, and the
bottleneck its other networks (SlowFast, the ATFR authors' 3D ResNet) reuse.

Reference: PySlowFast `slowfast/models/resnet_helper.py` (BottleneckTransform,
ResBlock) and `video_model_builder.py` (ResNet) with the `SLOW_8x8_R50` and
`I3D_8x8_R50` configs: a kx7x7 stem and 1x3x3 max pool, bottlenecks whose
first conv carries the stage's temporal kernel, dropout 0.5 and a linear
classifier.
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
    final_bn_convention,
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
DEFAULT_INPUT = (8, 224, 224, 3)
R50_DEPTHS = (3, 4, 6, 3)
# Temporal-kernel patterns of stem, res2..res5 (PySlowFast `_TEMPORAL_KERNEL_BASIS`).
SLOW_KERNELS = ((1,), (1,), (1,), (3,), (3,))
I3D_KERNELS = ((5,), (3,), (3, 1), (3, 1), (1, 3))


def pyslowfast_bottleneck(x, dim_out, dim_inner, temporal_kernel, stride, name,
                          activate=True, frames=None, zero_init_final_bn=False):
    """PySlowFast's BottleneckTransform + ResBlock: Tx1x1 conv a, 1x3x3 conv b
    carrying the spatial stride, 1x1x1 conv c; conv shortcut when the shape
    changes. No temporal stride, so `frames` holds throughout.
    `zero_init_final_bn`: conv c's BatchNorm starts at gamma 0, so the block
    starts as its shortcut (PySlowFast's ZERO_INIT_FINAL_BN)."""
    shortcut = x
    if x.shape[-1] != dim_out or stride != 1:
        shortcut = conv_bn(x, dim_out, 1, (1, stride, stride), name=f"{name}_shortcut",
                           activation=None, frames=frames)
    y = conv_bn(x, dim_inner, (temporal_kernel, 1, 1), name=f"{name}_a", frames=frames)
    y = conv_bn(y, dim_inner, (1, 3, 3), (1, stride, stride), name=f"{name}_b", frames=frames)
    y = conv3d(y, dim_out, 1, name=f"{name}_c_conv")
    convention = final_bn_convention(zero_init_final_bn)
    y = batch_norm(y, f"{name}_c_bn", convention, frames=frames)
    return residual_output(y, shortcut, name, activate)


def temporal_kernels(pattern, depth):
    """PySlowFast repeats a stage's temporal-kernel pattern over its blocks."""
    return (list(pattern) * depth)[:depth]


def pyslowfast_resnet(*, kernel_basis: Sequence[Sequence[int]], temporal_pool_after_res2: bool,
                      include_top: bool = True, weights: Optional[str] = None,
                      input_shape: Optional[tuple] = None, input_tensor=None,
                      pooling: Optional[str] = None, classes: int = 400,
                      classifier_activation: Optional[str] = "softmax", sgs=None,
                      dropout: float = 0.5, zero_init_final_bn: bool = False,
                      default_shape: tuple = DEFAULT_INPUT,
                      name: str = "pyslowfast_resnet") -> keras.Model:
    """PySlowFast's single-pathway ResNet-50.

    Args:
      kernel_basis: temporal-kernel patterns of stem, res2..res5.
      temporal_pool_after_res2: a 2x1x1 max pool after res2 (I3D).
      sgs: SimilarityGuidedSampling after a stage (True: res2), or None.
      dropout: before the classifier.
      zero_init_final_bn: every bottleneck starts as its shortcut (PySlowFast's
        ZERO_INIT_FINAL_BN, on in its Kinetics configs): from scratch at
        56x56 and batch 8, Slow-R50's initial gradient norm falls from 944 to 12.
      default_shape: (T, H, W, C) when no input shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, default_shape)
    # A temporal max pool after res2 commutes with the deferred ReLU.
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = conv_bn(inputs, 64, (kernel_basis[0][0], 7, 7), (1, 2, 2), name="stem")
    x = stages.end(max_pool_torch(x, (1, 3, 3), (1, 2, 2), "stem_pool"), "stem")

    def block(y, index, b, block_name, activate, frames):
        kernel = temporal_kernels(kernel_basis[index + 1], R50_DEPTHS[index])[b]
        return pyslowfast_bottleneck(y, 256 * 2**index, 64 * 2**index, kernel,
                                     resnet_stride(index, b), block_name, activate, frames,
                                     zero_init_final_bn)

    def temporal_pool(y, index, frames):
        if index == 0 and temporal_pool_after_res2:
            pool = layers.MaxPooling3D((2, 1, 1), (2, 1, 1), name="res2_temporal_pool")
            return pool(y), strided(frames, 2)
        return y, frames

    x, frames = residual_stages(x, stages, R50_DEPTHS, block, after_stage=temporal_pool,
                                frames=stages.sampled_frames("stem"))
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes), frames=frames)


VARIANTS = (
    Variant("slow_r50", "SlowOnly_R50", "Slow-only ResNet-50 (8x8; temporal kernels 1 until "
            "res4)", pyslowfast_resnet,
            dict(kernel_basis=SLOW_KERNELS, temporal_pool_after_res2=False),
            "PySlowFast `SLOW_8x8_R50`", DEFAULT_INPUT, 32_454_096, ("atfr",)),
    Variant("i3d_r50", "I3D_R50", "I3D ResNet-50 (8x8; 5x7x7 stem, alternating 3/1 temporal "
            "kernels, temporal max pool after res2)", pyslowfast_resnet,
            dict(kernel_basis=I3D_KERNELS, temporal_pool_after_res2=True),
            "PySlowFast `I3D_8x8_R50`", DEFAULT_INPUT, 28_043_472, ("atfr",)),
)
register_family(VARIANTS)
