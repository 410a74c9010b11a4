"""The backbone zoo, keras.applications style.

    model = vidzoo.zoo.X3D_S(classes=10, input_shape=(13, 160, 160, 3))
    model = vidzoo.zoo.get_model("x3d_s_atfr", classes=10)
    vidzoo.zoo.list_models()

Every model is a row of its family's variant table (`VARIANTS` in each family
module; `vidzoo.zoo.registry`), and has a Python constructor here named as in
the table (`X3D_S`, `X3D_S_ATFR`, ...). Every constructor takes include_top,
weights (None or a weights file), input_shape (T, H, W, C), input_tensor,
pooling (None, "avg", "max"), classes, classifier_activation and name, and its
family builder's own arguments. Stage outputs are named (stem, res2..res5, or
TF-slim endpoints for the Inception family) so a model can be split;
`insert_sfc` puts SFC between a frozen head and tail.
"""

# Importing a family module registers its variant table.
from vidzoo.zoo import (  # noqa: F401
    hara_resnet,
    inception,
    mtnet,
    pyslowfast_resnet,
    pytorchvideo_r2plus1d,
    sgs_resnet3d,
    slowfast,
    tsm,
    video_resnet,
    x3d,
)
from vidzoo.zoo.accounting import adaptive_layers, flops_per_clip, with_adaptive_outputs
from vidzoo.zoo.adaptive import insert_sfc, split_model
from vidzoo.zoo.common import reference_param_count
from vidzoo.zoo.folding import fold_batch_norm
from vidzoo.zoo.inception import inception3d
from vidzoo.zoo.presets import load_preset
from vidzoo.zoo.registry import constructors, get_model, list_models, variant

globals().update(constructors())  # R3D_18, X3D_S_ATFR, ...: one per registered model

__all__ = sorted(constructors()) + [
    "adaptive_layers", "constructors", "flops_per_clip", "fold_batch_norm", "get_model", "inception3d",
    "insert_sfc", "list_models", "load_preset", "reference_param_count", "split_model", "variant",
    "with_adaptive_outputs",
]
