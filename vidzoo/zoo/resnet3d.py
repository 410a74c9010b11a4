"""3D ResNets: torchvision's VideoResNet family (R3D, MC3, R(2+1)D-18/34),
Hara et al.'s 3D ResNets (3D-ResNets-PyTorch), PySlowFast's Slow-only and I3D
ResNet-50, pytorchvideo's R(2+1)D-50, and the ATFR authors' own 3D ResNet
without temporal downsampling (`sgs_resnet3d_*`, SGS after res2 sees B = T).

Stages are named stem, res2, res3, res4, res5 (`model.get_layer("res3")`).
`sgs=` inserts SimilarityGuidedSampling after a stage (default res2, the
ATFR paper's placement); those models are registered as `<name>_atfr`.
"""

from keras import layers

from vidzoo.zoo.common import (
    Stages,
    batch_norm,
    check_application_args,
    conv3d,
    conv_bn,
    finish_model,
    linear_classifier,
    max_pool_torch,
    residual_output,
    residual_stages,
    video_input,
)
from vidzoo.zoo.registry import register_model

STAGES = ("stem", "res2", "res3", "res4", "res5")
WIDTHS = (64, 128, 256, 512)

# ---------------------------------------------------------------------------
# torchvision VideoResNet (torchvision/models/video/resnet.py)


def _midplanes(inplanes, planes):
    """torchvision's (2+1)D width: parameters equal to a full 3x3x3 conv."""
    return (inplanes * planes * 27) // (inplanes * 9 + 3 * planes)


def _conv_builder(kind):
    """A torchvision conv builder: (x, filters, midplanes, stride, name) -> x, and
    the shortcut stride it implies."""

    def full(x, filters, mid, stride, name):
        return conv3d(x, filters, 3, stride, name=name)

    def spatial_only(x, filters, mid, stride, name):
        return conv3d(x, filters, (1, 3, 3), (1, stride, stride), name=name)

    def two_plus_one(x, filters, mid, stride, name):
        x = conv3d(x, mid, (1, 3, 3), (1, stride, stride), name=f"{name}_spatial")
        x = batch_norm(x, f"{name}_spatial_bn")
        x = layers.ReLU(name=f"{name}_spatial_relu")(x)
        return conv3d(x, filters, (3, 1, 1), (stride, 1, 1), name=f"{name}_temporal")

    builders = {"3d": (full, "all"), "2d": (spatial_only, "space"), "2plus1d": (two_plus_one, "all")}
    return builders[kind]


def _shortcut(x, filters, stride, stride_scope, name):
    strides = (stride, stride, stride) if stride_scope == "all" else (1, stride, stride)
    return conv_bn(x, filters, 1, strides, name=name, activation=None)


def _tv_basic_block(x, planes, stride, kind, name, activate=True):
    inplanes = x.shape[-1]
    build, stride_scope = _conv_builder(kind)
    mid = _midplanes(inplanes, planes)
    shortcut = x
    if stride != 1 or inplanes != planes:
        shortcut = _shortcut(x, planes, stride, stride_scope, f"{name}_shortcut")
    y = build(x, planes, mid, stride, f"{name}_conv1")
    y = layers.ReLU(name=f"{name}_relu1")(batch_norm(y, f"{name}_bn1"))
    y = build(y, planes, mid, 1, f"{name}_conv2")
    y = batch_norm(y, f"{name}_bn2")
    return residual_output(y, shortcut, name, activate)


def _tv_bottleneck_block(x, planes, stride, kind, name, activate=True):
    inplanes = x.shape[-1]
    build, stride_scope = _conv_builder(kind)
    mid = _midplanes(inplanes, planes)
    shortcut = x
    if stride != 1 or inplanes != planes * 4:
        shortcut = _shortcut(x, planes * 4, stride, stride_scope, f"{name}_shortcut")
    y = conv_bn(x, planes, 1, name=f"{name}_a")
    y = build(y, planes, mid, stride, f"{name}_b_conv")
    y = layers.ReLU(name=f"{name}_b_relu")(batch_norm(y, f"{name}_b_bn"))
    y = conv_bn(y, planes * 4, 1, name=f"{name}_c", activation=None)
    return residual_output(y, shortcut, name, activate)


def _tv_stem(x, kind):
    if kind == "2plus1d":
        x = conv_bn(x, 45, (1, 7, 7), (1, 2, 2), name="stem_spatial")
        return conv_bn(x, 64, (3, 1, 1), 1, name="stem_temporal")
    return conv_bn(x, 64, (3, 7, 7), (1, 2, 2), name="stem")


def video_resnet(
    depths,
    conv_kinds,
    stem_kind,
    bottleneck=False,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    classes=400,
    classifier_activation="softmax",
    sgs=None,
    name="video_resnet",
):
    """torchvision VideoResNet: a stem, four stages of basic or bottleneck
    blocks (`conv_kinds` per stage: "3d", "2d" or "2plus1d"), average pooling
    and a linear classifier. Default input 16x112x112."""
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, (16, 112, 112, 3))
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = stages.end(_tv_stem(inputs, stem_kind), "stem")
    block = _tv_bottleneck_block if bottleneck else _tv_basic_block
    x = residual_stages(x, stages, depths, lambda y, index, stride, block_name, activate: block(
        y, WIDTHS[index], stride, conv_kinds[index], block_name, activate))
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(0.0, classes))


def _tv_model(model_name, depths, kinds, stem, bottleneck=False, atfr=False):
    def build(**kwargs):
        kwargs.setdefault("name", model_name)
        if atfr:
            kwargs.setdefault("sgs", True)
        return video_resnet(depths, kinds, stem, bottleneck, **kwargs)

    return build


def R3D_18(**kwargs):
    """R3D-18. Reference: torchvision `r3d_18` (Tran et al. 2018); 33,371,472
    parameters with 400 classes (Keras adds BN moving statistics)."""
    return _tv_model("r3d_18", (2, 2, 2, 2), ("3d",) * 4, "3d")(**kwargs)


def R3D_34(**kwargs):
    """R3D-34: torchvision's VideoResNet with BasicBlocks (3, 4, 6, 3) and 3x3x3
    convs (Tran et al. 2018, Table 2); torchvision has no preset."""
    return _tv_model("r3d_34", (3, 4, 6, 3), ("3d",) * 4, "3d")(**kwargs)


def MC3_18(**kwargs):
    """MC3-18. Reference: torchvision `mc3_18` (3D convs in res2, 2D after);
    11,695,440 parameters with 400 classes."""
    return _tv_model("mc3_18", (2, 2, 2, 2), ("3d", "2d", "2d", "2d"), "3d")(**kwargs)


def R2Plus1D_18(**kwargs):
    """R(2+1)D-18. Reference: torchvision `r2plus1d_18`; 31,505,325 parameters
    with 400 classes."""
    return _tv_model("r2plus1d_18", (2, 2, 2, 2), ("2plus1d",) * 4, "2plus1d")(**kwargs)


def R2Plus1D_34(**kwargs):
    """R(2+1)D-34: torchvision's VideoResNet, BasicBlocks (3, 4, 6, 3), (2+1)D convs."""
    return _tv_model("r2plus1d_34", (3, 4, 6, 3), ("2plus1d",) * 4, "2plus1d")(**kwargs)




# ---------------------------------------------------------------------------
# 3D ResNets used with ATFR (Hara et al., 3D-ResNets-PyTorch `resnet.py`)


def _hara_block(x, planes, stride, bottleneck, name, activate=True):
    expansion = 4 if bottleneck else 1
    shortcut = x
    if stride != 1 or x.shape[-1] != planes * expansion:
        shortcut = conv_bn(x, planes * expansion, 1, stride, name=f"{name}_shortcut",
                           activation=None)
    if bottleneck:
        y = conv_bn(x, planes, 1, name=f"{name}_a")
        y = conv_bn(y, planes, 3, stride, name=f"{name}_b")
        y = conv_bn(y, planes * 4, 1, name=f"{name}_c", activation=None)
    else:
        y = conv_bn(x, planes, 3, stride, name=f"{name}_a")
        y = conv_bn(y, planes, 3, name=f"{name}_b", activation=None)
    return residual_output(y, shortcut, name, activate)


def resnet3d(depths, bottleneck, include_top=True, weights=None, input_shape=None,
             input_tensor=None, pooling=None, classes=400, classifier_activation="softmax",
             sgs=None, name="resnet3d"):
    """Hara et al.'s 3D ResNet: 7x7x7 stem (stride 1,2,2), 3x3x3 max pool
    (stride 2), 3x3x3 convs everywhere, shortcut type B. Default input
    32x112x112 (ATFR's 32-frame setting at Hara's 112 px)."""
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, (32, 112, 112, 3))
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = conv_bn(inputs, 64, 7, (1, 2, 2), name="stem")
    x = stages.end(max_pool_torch(x, 3, 2, "stem_pool"), "stem")
    x = residual_stages(x, stages, depths,
                        lambda y, index, stride, block_name, activate: _hara_block(
                            y, WIDTHS[index], stride, bottleneck, block_name, activate))
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(0.0, classes))


def ResNet3D_18(**kwargs):
    """3D ResNet-18 as used with ATFR (seed 000). Reference: Hara et al.,
    3D-ResNets-PyTorch `generate_model(18)`, shortcut B, 7x7x7 stem."""
    kwargs.setdefault("name", "resnet3d_18")
    return resnet3d((2, 2, 2, 2), False, **kwargs)


def ResNet3D_50(**kwargs):
    """3D ResNet-50 as used with ATFR (seed 000, Fig. 3). Reference: Hara et
    al., 3D-ResNets-PyTorch `generate_model(50)`, bottlenecks, shortcut B."""
    kwargs.setdefault("name", "resnet3d_50")
    return resnet3d((3, 4, 6, 3), True, **kwargs)


# ---------------------------------------------------------------------------
# PySlowFast ResNet-50 pathways (slowfast/models/resnet_helper.py)


def pyslowfast_bottleneck(x, dim_out, dim_inner, temporal_kernel, stride, name,
                          activate=True):
    """PySlowFast's BottleneckTransform + ResBlock: Tx1x1 conv a, 1x3x3 conv b
    carrying the spatial stride, 1x1x1 conv c; conv shortcut when the shape
    changes."""
    shortcut = x
    if x.shape[-1] != dim_out or stride != 1:
        shortcut = conv_bn(x, dim_out, 1, (1, stride, stride), name=f"{name}_shortcut",
                           activation=None)
    y = conv_bn(x, dim_inner, (temporal_kernel, 1, 1), name=f"{name}_a")
    y = conv_bn(y, dim_inner, (1, 3, 3), (1, stride, stride), name=f"{name}_b")
    y = conv_bn(y, dim_out, 1, name=f"{name}_c", activation=None)
    return residual_output(y, shortcut, name, activate)


def temporal_kernels(pattern, depth):
    """PySlowFast repeats a stage's temporal-kernel pattern over its blocks."""
    return (list(pattern) * depth)[:depth]


R50_DEPTHS = (3, 4, 6, 3)
SLOW_KERNELS = ((1,), (1,), (1,), (3,), (3,))
I3D_KERNELS = ((5,), (3,), (3, 1), (3, 1), (1, 3))


def pyslowfast_resnet(kernel_basis, temporal_pool_after_res2, include_top=True, weights=None,
                      input_shape=None, input_tensor=None, pooling=None, classes=400,
                      classifier_activation="softmax", sgs=None, dropout=0.5,
                      name="pyslowfast_resnet"):
    """PySlowFast single-pathway ResNet-50 (Slow-only, I3D). Default input 8x224x224."""
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, (8, 224, 224, 3))
    # A temporal max pool after res2 commutes with the deferred ReLU.
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    stem_t = kernel_basis[0][0]
    x = conv_bn(inputs, 64, (stem_t, 7, 7), (1, 2, 2), name="stem")
    x = stages.end(max_pool_torch(x, (1, 3, 3), (1, 2, 2), "stem_pool"), "stem")
    for index, depth in enumerate(R50_DEPTHS):
        stage = STAGES[index + 1]
        kernels = temporal_kernels(kernel_basis[index + 1], depth)
        for b in range(depth):
            stride = 2 if (index > 0 and b == 0) else 1
            activate = stages.block_activates(stage, b, depth)
            x = pyslowfast_bottleneck(x, 256 * 2**index, 64 * 2**index, kernels[b], stride,
                                      f"{stage}_block{b + 1}", activate)
        if index == 0 and temporal_pool_after_res2:
            x = layers.MaxPooling3D((2, 1, 1), (2, 1, 1), name="res2_temporal_pool")(x)
        x = stages.end(x, stage)
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes))


def SlowOnly_R50(**kwargs):
    """Slow-only ResNet-50 (8x8). Reference: PySlowFast `SLOW_8x8_R50`
    (temporal kernels 1 until res4); 32,454,096 parameters with 400 classes."""
    kwargs.setdefault("name", "slow_r50")
    return pyslowfast_resnet(SLOW_KERNELS, False, **kwargs)


def I3D_R50(**kwargs):
    """I3D ResNet-50 (8x8). Reference: PySlowFast `I3D_8x8_R50` (5x7x7 stem,
    alternating 3/1 temporal kernels, temporal max pool after res2);
    28,043,472 parameters with 400 classes."""
    kwargs.setdefault("name", "i3d_r50")
    return pyslowfast_resnet(I3D_KERNELS, True, **kwargs)


# ---------------------------------------------------------------------------
# pytorchvideo R(2+1)D-50 (pytorchvideo/models/r2plus1d.py `create_r2plus1d`)


def _r2plus1d_bottleneck(x, dim_out, dim_inner, temporal_stride, spatial_stride, name,
                         activate=True):
    """pytorchvideo's 2plus1d bottleneck: 1x1x1 conv a, then conv b as a 3x1x1
    temporal conv (temporal stride) + BN + ReLU + 1x3x3 spatial conv (spatial
    stride), 1x1x1 conv c; the shortcut is a 1x1x1 conv with both strides."""
    strides = (temporal_stride, spatial_stride, spatial_stride)
    shortcut = x
    if x.shape[-1] != dim_out or strides != (1, 1, 1):
        shortcut = conv_bn(x, dim_out, 1, strides, name=f"{name}_shortcut", activation=None)
    y = conv_bn(x, dim_inner, 1, name=f"{name}_a")
    y = conv_bn(y, dim_inner, (3, 1, 1), (temporal_stride, 1, 1), name=f"{name}_b_temporal")
    y = conv_bn(y, dim_inner, (1, 3, 3), (1, spatial_stride, spatial_stride), name=f"{name}_b")
    y = conv_bn(y, dim_out, 1, name=f"{name}_c", activation=None)
    return residual_output(y, shortcut, name, activate)


def pytorchvideo_r2plus1d(depths=R50_DEPTHS, include_top=True, weights=None, input_shape=None,
                          input_tensor=None, pooling=None, classes=400,
                          classifier_activation="softmax", sgs=None, dropout=0.5,
                          name="r2plus1d_r50"):
    """pytorchvideo's R(2+1)D: a 1x7x7 stem (stride 1,2,2, no pool), bottleneck
    stages with spatial stride 2 in every stage and temporal stride 2 in res4
    and res5, average pooling, dropout and a linear classifier. Default input
    16x224x224 (at which pytorchvideo's (4, 7, 7) head pool is the global
    average used here)."""
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, (16, 224, 224, 3))
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = stages.end(conv_bn(inputs, 64, (1, 7, 7), (1, 2, 2), name="stem"), "stem")
    for index, depth in enumerate(depths):
        stage = STAGES[index + 1]
        for b in range(depth):
            first = b == 0
            activate = stages.block_activates(stage, b, depth)
            x = _r2plus1d_bottleneck(x, 256 * 2**index, 64 * 2**index,
                                     2 if (first and index >= 2) else 1, 2 if first else 1,
                                     f"{stage}_block{b + 1}", activate)
        x = stages.end(x, stage)
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes))


def R2Plus1D_R50(**kwargs):
    """R(2+1)D-50. Reference: pytorchvideo `r2plus1d_r50` (`create_r2plus1d`,
    depth 50); 28,107,600 parameters with 400 classes."""
    kwargs.setdefault("name", "r2plus1d_r50")
    return pytorchvideo_r2plus1d(**kwargs)


# ---------------------------------------------------------------------------
# The ATFR authors' 3D ResNet (Similarity-Guided-Sampling, sgs/models/
# video_model_builder.py `ResNet3D`, MODEL.ARCH "3dresnet"): no temporal
# stride anywhere, so SGS after res2 sees every input frame (B = T).

SGS_RESNET_KERNELS = (3, 1, 1, 3)  # temporal kernel of conv a in res2..res5


def sgs_resnet3d(depths, include_top=True, weights=None, input_shape=None, input_tensor=None,
                 pooling=None, classes=400, classifier_activation="softmax", sgs=None,
                 dropout=0.5, name="sgs_resnet3d"):
    """The ATFR authors' 3D ResNet: 5x7x7 stem to 8 channels (stride 1,2,2),
    1x3x3 max pool (stride 1,2,2), PySlowFast bottlenecks (Tx1x1, 1x3x3,
    1x1x1) with widths 8 -> 32 in res2 (the config's fast width) and inner
    64, 128, 256 -> 256, 512, 1024 after, temporal kernels 3, 1, 1, 3, spatial
    strides 1, 2, 2, 2 and no temporal stride; average pooling, dropout 0.5, a
    linear classifier. Default input 32x224x224, the authors' setting."""
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, (32, 224, 224, 3))
    stages = Stages(name, STAGES, sgs=sgs, pre_activation_blocks=True)
    x = conv_bn(inputs, 8, (5, 7, 7), (1, 2, 2), name="stem")
    x = stages.end(max_pool_torch(x, (1, 3, 3), (1, 2, 2), "stem_pool"), "stem")
    widths = ((32, 8), (256, 64), (512, 128), (1024, 256))
    for index, depth in enumerate(depths):
        stage = STAGES[index + 1]
        dim_out, dim_inner = widths[index]
        for b in range(depth):
            stride = 2 if (index > 0 and b == 0) else 1
            activate = stages.block_activates(stage, b, depth)
            x = pyslowfast_bottleneck(x, dim_out, dim_inner, SGS_RESNET_KERNELS[index], stride,
                                      f"{stage}_block{b + 1}", activate)
        x = stages.end(x, stage)
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes))


def SGSResNet3D_18(**kwargs):
    """The ATFR authors' 3DResNet-18 (configs/Mini_Kinetics200/3DResNet18.yaml:
    bottleneck blocks (2, 2, 2, 2)). Reference: Similarity-Guided-Sampling
    `ResNet3D`."""
    kwargs.setdefault("name", "sgs_resnet3d_18")
    return sgs_resnet3d((2, 2, 2, 2), **kwargs)


def SGSResNet3D_50(**kwargs):
    """The ATFR authors' 3DResNet-50 (configs/.../3DResNet50.yaml: bottleneck
    blocks (3, 4, 6, 3)). Reference: Similarity-Guided-Sampling `ResNet3D`."""
    kwargs.setdefault("name", "sgs_resnet3d_50")
    return sgs_resnet3d(R50_DEPTHS, **kwargs)


def _register():
    plain = {
        "r3d_18": R3D_18, "r3d_34": R3D_34, "mc3_18": MC3_18, "r2plus1d_18": R2Plus1D_18,
        "r2plus1d_34": R2Plus1D_34, "r2plus1d_r50": R2Plus1D_R50, "resnet3d_18": ResNet3D_18,
        "resnet3d_50": ResNet3D_50, "slow_r50": SlowOnly_R50, "i3d_r50": I3D_R50,
        "sgs_resnet3d_18": SGSResNet3D_18, "sgs_resnet3d_50": SGSResNet3D_50,
    }
    atfr = ("r3d_18", "r2plus1d_18", "r2plus1d_r50", "resnet3d_18", "resnet3d_50", "slow_r50",
            "i3d_r50", "sgs_resnet3d_18", "sgs_resnet3d_50")
    for key, builder in plain.items():
        register_model(key)(builder)
    for key in atfr:
        register_model(f"{key}_atfr")(_atfr(plain[key], key))


def _atfr(builder, key):
    def build(**kwargs):
        kwargs.setdefault("sgs", True)
        kwargs.setdefault("name", f"{key}_atfr")
        return builder(**kwargs)

    build.__doc__ = f"{key} with SimilarityGuidedSampling after res2 (ATFR, seed 000)."
    return build


_register()
