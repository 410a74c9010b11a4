"""TSM-ResNet-18/50 (Lin et al., ICCV 2019), the backbone of seed 004.

Reference: the temporal-shift-module repository (`ops/models.py`, `TSN` with
`is_shift=True, shift_place="blockres", shift_div=8`): a torchvision 2D
ResNet applied to every frame, with `TemporalShift` on the input of each
residual branch's first conv, dropout 0.5 and a linear classifier per frame,
averaged over frames. TSM-R50 has 24,327,632 parameters with 400 classes.

The model takes (batch, T, H, W, 3). A 2D conv on every frame is a Conv3D
with a 1xkxk kernel, which is what we build: no reshapes, so T may be None,
and ImageNet 2D kernels load by adding a leading axis. Averaging the per-frame
linear logits equals one linear layer on the frame-averaged features, which
is what the classifier computes.

`temporal_clustering=` (default placement after res2) groups the frames into
clusters (seed 004) so a whole video, padded to a fixed length, trains in one
pass; with `frame_mask=True` the model takes `[video, mask]`, the mask
(batch, T) marking the real frames.
"""

from keras import layers

from vidzoo.layers import TemporalShift
from vidzoo.zoo.common import (
    Stages,
    check_application_args,
    conv_bn,
    finish_model,
    linear_classifier,
    max_pool_torch,
    residual_stages,
    video_input,
)
from vidzoo.zoo.registry import register_model

STAGES = ("stem", "res2", "res3", "res4", "res5")
WIDTHS = (64, 128, 256, 512)


def _frame_conv_bn(x, filters, size, stride, name, activation="relu"):
    return conv_bn(x, filters, (1, size, size), (1, stride, stride), name=name,
                   activation=activation)


def _tsm_block(x, planes, stride, bottleneck, shift_div, name):
    expansion = 4 if bottleneck else 1
    shortcut = x
    if stride != 1 or x.shape[-1] != planes * expansion:
        shortcut = _frame_conv_bn(x, planes * expansion, 1, stride, f"{name}_shortcut",
                                  activation=None)
    y = TemporalShift(shift_div, name=f"{name}_shift")(x)
    if bottleneck:
        y = _frame_conv_bn(y, planes, 1, 1, f"{name}_a")
        y = _frame_conv_bn(y, planes, 3, stride, f"{name}_b")
        y = _frame_conv_bn(y, planes * 4, 1, 1, f"{name}_c", activation=None)
    else:
        y = _frame_conv_bn(y, planes, 3, stride, f"{name}_a")
        y = _frame_conv_bn(y, planes, 3, 1, f"{name}_b", activation=None)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def tsm_resnet(depths, bottleneck, include_top=True, weights=None, input_shape=None,
               input_tensor=None, pooling=None, classes=400, classifier_activation="softmax",
               shift_div=8, temporal_clustering=None, frame_mask=False, dropout=0.5,
               name="tsm_resnet"):
    """TSM on a torchvision ResNet. Default input 8x224x224."""
    check_application_args(name, include_top, weights, classes, pooling)
    if frame_mask and not temporal_clustering:
        raise ValueError(f"{name}: frame_mask=True only applies with temporal_clustering.")
    inputs, source = video_input(name, input_shape, input_tensor, (8, 224, 224, 3))
    stages = Stages(name, STAGES, temporal_clustering=temporal_clustering)
    model_inputs = inputs
    if frame_mask:
        stages.mask = layers.Input(shape=(inputs.shape[1],), name="mask")
        model_inputs = [inputs, stages.mask]
    x = _frame_conv_bn(inputs, 64, 7, 2, "stem")
    x = stages.end(max_pool_torch(x, (1, 3, 3), (1, 2, 2), "stem_pool"), "stem")
    x = residual_stages(x, stages, depths, lambda y, index, stride, block_name, _: _tsm_block(
        y, WIDTHS[index], stride, bottleneck, shift_div, block_name))
    return finish_model(model_inputs, source, x, name=name, include_top=include_top,
                        pooling=pooling, weights=weights,
                        classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes))


def TSM_R18(**kwargs):
    """TSM-ResNet-18: torchvision resnet18 per frame with temporal shift."""
    kwargs.setdefault("name", "tsm_r18")
    return tsm_resnet((2, 2, 2, 2), False, **kwargs)


def TSM_R50(**kwargs):
    """TSM-ResNet-50. Reference: temporal-shift-module, ResNet-50 backbone;
    24,327,632 parameters with 400 classes."""
    kwargs.setdefault("name", "tsm_r50")
    return tsm_resnet((3, 4, 6, 3), True, **kwargs)


def _clustered(builder, key):
    def build(**kwargs):
        kwargs.setdefault("name", f"{key}_clustering")
        kwargs.setdefault("temporal_clustering", {"num_clusters": 8, "method": "cumulative"})
        return builder(**kwargs)

    build.__doc__ = (f"{key} with cumulative temporal clustering into 8 clusters after res2 "
                     "(seed 004); set `temporal_clustering=` for other methods and sizes.")
    return build


register_model("tsm_r18")(TSM_R18)
register_model("tsm_r50")(TSM_R50)
register_model("tsm_r18_clustering")(_clustered(TSM_R18, "tsm_r18"))
register_model("tsm_r50_clustering")(_clustered(TSM_R50, "tsm_r50"))
