"""The ATFR authors' 3D ResNet, without temporal downsampling, so SGS after
res2 sees every input frame (B = T).

Reference: Similarity-Guided-Sampling `sgs/models/video_model_builder.py`
`ResNet3D` (MODEL.ARCH "3dresnet"), a PySlowFast fork: a 5x7x7 stem to 8
channels (stride 1,2,2), a 1x3x3 max pool (stride 1,2,2), PySlowFast
bottlenecks (Tx1x1, 1x3x3, 1x1x1) with widths 8 -> 32 in res2 (the config's
fast width) and inner 64, 128, 256 -> 256, 512, 1024 after, temporal kernels
3, 1, 1, 3, spatial strides 1, 2, 2, 2 and no temporal stride; average
pooling, dropout 0.5, a linear classifier.
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
    residual_stages,
    resnet_stride,
    video_input,
)
from vidzoo.zoo.pyslowfast_resnet import R50_DEPTHS, pyslowfast_bottleneck
from vidzoo.zoo.registry import Variant, register_family

STAGES = ("stem", "res2", "res3", "res4", "res5")
DEFAULT_INPUT = (32, 224, 224, 3)  # the authors' setting
WIDTHS = ((32, 8), (256, 64), (512, 128), (1024, 256))  # (out, inner) of res2..res5
TEMPORAL_KERNELS = (3, 1, 1, 3)  # of conv a in res2..res5


def sgs_resnet3d(*, depths: Sequence[int], include_top: bool = True,
                 weights: Optional[str] = None, input_shape: Optional[tuple] = None,
                 input_tensor=None, pooling: Optional[str] = None, classes: int = 400,
                 classifier_activation: Optional[str] = "softmax", sgs=None,
                 dropout: float = 0.5, default_shape: tuple = DEFAULT_INPUT,
                 name: str = "sgs_resnet3d") -> keras.Model:
    """The ATFR authors' 3D ResNet.

    Args:
      depths: bottleneck blocks in res2..res5.
      sgs: SimilarityGuidedSampling after a stage (True: res2), or None.
      dropout: before the classifier.
      default_shape: (T, H, W, C) when no input shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, default_shape)
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = conv_bn(inputs, 8, (5, 7, 7), (1, 2, 2), name="stem")
    x = stages.end(max_pool_torch(x, (1, 3, 3), (1, 2, 2), "stem_pool"), "stem")

    def block(y, index, b, block_name, activate, frames):
        dim_out, dim_inner = WIDTHS[index]
        return pyslowfast_bottleneck(y, dim_out, dim_inner, TEMPORAL_KERNELS[index],
                                     resnet_stride(index, b), block_name, activate, frames)

    x, frames = residual_stages(x, stages, depths, block, frames=stages.sampled_frames("stem"))
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes), frames=frames)


REFERENCE = "Similarity-Guided-Sampling `ResNet3D`"
VARIANTS = (
    Variant("sgs_resnet3d_18", "SGSResNet3D_18", "The ATFR authors' 3DResNet-18 (bottleneck "
            "blocks (2, 2, 2, 2), configs/Mini_Kinetics200/3DResNet18.yaml)", sgs_resnet3d,
            dict(depths=(2, 2, 2, 2)), REFERENCE, DEFAULT_INPUT, adaptations=("atfr",)),
    Variant("sgs_resnet3d_50", "SGSResNet3D_50", "The ATFR authors' 3DResNet-50 (bottleneck "
            "blocks (3, 4, 6, 3), configs/.../3DResNet50.yaml)", sgs_resnet3d,
            dict(depths=R50_DEPTHS), REFERENCE, DEFAULT_INPUT, adaptations=("atfr",)),
)
register_family(VARIANTS)
