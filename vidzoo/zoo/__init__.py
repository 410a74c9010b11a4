"""The backbone zoo, keras.applications style.

    model = vidzoo.zoo.X3D_S(classes=10, input_shape=(13, 160, 160, 3))
    model = vidzoo.zoo.get_model("x3d_s_atfr", classes=10)
    vidzoo.zoo.list_models()

Every constructor takes include_top, weights (None or a weights file),
input_shape (T, H, W, C), input_tensor, pooling (None, "avg", "max"),
classes, classifier_activation and name. Stage outputs are named (stem,
res2..res5, or TF-slim endpoints for the Inception family) so a model can be
split; `insert_sfc` puts SFC between a frozen head and tail.
"""

from vidzoo.zoo.accounting import adaptive_layers, flops_per_clip, with_adaptive_outputs
from vidzoo.zoo.adaptive import insert_sfc, split_model
from vidzoo.zoo.common import reference_param_count
from vidzoo.zoo.inception import (
    BOTTOM_HEAVY_I3D,
    BOTTOM_HEAVY_S3D,
    FAST_S3D,
    I2D,
    I3D,
    S3D,
    S3D_G,
    S3D_TORCHVISION,
    TOP_HEAVY_I3D,
    TOP_HEAVY_S3D,
    inception3d,
)
from vidzoo.zoo.mtnet import MTNet_L, MTNet_M, MTNet_S
from vidzoo.zoo.registry import get_model, list_models
from vidzoo.zoo.resnet3d import (
    I3D_R50,
    MC3_18,
    R2Plus1D_18,
    R2Plus1D_34,
    R2Plus1D_R50,
    R3D_18,
    R3D_34,
    ResNet3D_18,
    ResNet3D_50,
    SGSResNet3D_18,
    SGSResNet3D_50,
    SlowOnly_R50,
)
from vidzoo.zoo.slowfast import SlowFast_R50_4x16, SlowFast_R50_8x8
from vidzoo.zoo.tsm import TSM_R18, TSM_R50
from vidzoo.zoo.x3d import X3D_L, X3D_M, X3D_S, X3D_XL, X3D_XS

__all__ = [
    "BOTTOM_HEAVY_I3D", "BOTTOM_HEAVY_S3D", "FAST_S3D", "I2D", "I3D", "I3D_R50", "MC3_18",
    "MTNet_L", "MTNet_M", "MTNet_S", "R2Plus1D_18", "R2Plus1D_34", "R2Plus1D_R50", "R3D_18",
    "R3D_34", "ResNet3D_18", "ResNet3D_50", "S3D", "SGSResNet3D_18", "SGSResNet3D_50", "S3D_G", "S3D_TORCHVISION", "SlowFast_R50_4x16",
    "SlowFast_R50_8x8", "SlowOnly_R50", "TOP_HEAVY_I3D", "TOP_HEAVY_S3D", "TSM_R18", "TSM_R50",
    "X3D_L", "X3D_M", "X3D_S", "X3D_XL", "X3D_XS", "adaptive_layers", "flops_per_clip", "get_model",
    "inception3d", "insert_sfc", "list_models", "reference_param_count", "split_model", "with_adaptive_outputs",
]
