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

from typing import Optional, Sequence

import keras
from keras import layers

from vidzoo.layers import TemporalShift
from vidzoo.zoo.common import (
    Stages,
    check_application_args,
    conv_bn,
    finish_model,
    linear_classifier,
    max_pool_torch,
    recomputed,
    residual_stages,
    resnet_stride,
    video_input,
)
from vidzoo.zoo.registry import Variant, register_family

STAGES = ("stem", "res2", "res3", "res4", "res5")
WIDTHS = (64, 128, 256, 512)
DEFAULT_INPUT = (8, 224, 224, 3)


def _frame_conv_bn(x, filters, size, stride, name, activation="relu"):
    return conv_bn(x, filters, (1, size, size), (1, stride, stride), name=name,
                   activation=activation)


def _tsm_block(x, planes, stride, bottleneck, shift_div, name, shift=True):
    expansion = 4 if bottleneck else 1
    shortcut = x
    if stride != 1 or x.shape[-1] != planes * expansion:
        shortcut = _frame_conv_bn(x, planes * expansion, 1, stride, f"{name}_shortcut",
                                  activation=None)
    y = TemporalShift(shift_div, name=f"{name}_shift")(x) if shift else x
    if bottleneck:
        y = _frame_conv_bn(y, planes, 1, 1, f"{name}_a")
        y = _frame_conv_bn(y, planes, 3, stride, f"{name}_b")
        y = _frame_conv_bn(y, planes * 4, 1, 1, f"{name}_c", activation=None)
    else:
        y = _frame_conv_bn(y, planes, 3, stride, f"{name}_a")
        y = _frame_conv_bn(y, planes, 3, 1, f"{name}_b", activation=None)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def tsm_resnet(*, depths: Sequence[int], bottleneck: bool, include_top: bool = True,
               weights: Optional[str] = None, input_shape: Optional[tuple] = None,
               input_tensor=None, pooling: Optional[str] = None, classes: int = 400,
               classifier_activation: Optional[str] = "softmax", shift_div: int = 8,
               temporal_clustering=None, frame_mask: bool = False, dropout: float = 0.5,
               recompute: Sequence[str] = (), unshifted: Sequence[str] = (),
               default_shape: tuple = DEFAULT_INPUT, name: str = "tsm_resnet") -> keras.Model:
    """TSM on a torchvision ResNet.

    Args:
      depths: blocks in res2..res5.
      bottleneck: bottleneck blocks (ResNet-50) instead of basic ones.
      shift_div: 1/shift_div of the channels shift each way in time.
      temporal_clustering: `TemporalClustering` arguments (dict) or True, to
        cluster the frames after res2 (seed 004); None for plain TSM.
      frame_mask: with clustering, take `[video, mask]`, the mask (batch, T)
        marking the real frames of a padded video.
      dropout: before the classifier.
      recompute: stages ("stem", "res2", ...) whose stem or blocks recompute
        their activations in the backward pass instead of keeping them
        (gradient checkpointing, one segment per block): for full-video
        training, where the stages before clustering see every frame.
      unshifted: stages ("res2", ...) whose blocks do not shift: the full-video
        paper's released code leaves res2, before the clustering, unshifted.
      default_shape: (T, H, W, C) when no input shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    if frame_mask and not temporal_clustering:
        raise ValueError(f"{name}: frame_mask=True only applies with temporal_clustering.")
    inputs, source = video_input(name, input_shape, input_tensor, default_shape)
    stages = Stages(name, STAGES, temporal_clustering=temporal_clustering)
    model_inputs = inputs
    if frame_mask:
        stages.mask = layers.Input(shape=(inputs.shape[1],), name="mask")
        model_inputs = [inputs, stages.mask]
    recompute = _stage_names(name, "recompute", recompute, STAGES)
    unshifted = _stage_names(name, "unshifted", unshifted, STAGES[1:])

    def segment(build, y, segment_name, stage):
        return recomputed(build, y, segment_name) if stage in recompute else build(y)

    def stem(y):
        y = _frame_conv_bn(y, 64, 7, 2, "stem")
        return max_pool_torch(y, (1, 3, 3), (1, 2, 2), "stem_pool")

    def block(y, index, b, block_name, *_):
        stage = STAGES[index + 1]
        return segment(lambda z: _tsm_block(z, WIDTHS[index], resnet_stride(index, b),
                                             bottleneck, shift_div, block_name,
                                             shift=stage not in unshifted),
                       y, block_name, stage)

    x = stages.end(segment(stem, inputs, "stem_segment", "stem"), "stem")
    # Temporal clustering keeps every cluster real: no frame mask downstream.
    x, _ = residual_stages(x, stages, depths, block)
    return finish_model(model_inputs, source, x, name=name, include_top=include_top,
                        pooling=pooling, weights=weights,
                        classifier_activation=classifier_activation,
                        top=linear_classifier(dropout, classes))


def _stage_names(name, argument, value, allowed):
    """`value` (a stage name or a sequence of them) as a tuple, checked."""
    names = (value,) if isinstance(value, str) else tuple(value)
    unknown = set(names) - set(allowed)
    if unknown:
        raise ValueError(f"{name}: {argument} takes stage names {list(allowed)}; got "
                         f"{sorted(unknown)}.")
    return names


REFERENCE = "temporal-shift-module `TSN(is_shift=True, shift_place='blockres', shift_div=8)`"
VARIANTS = (
    Variant("tsm_r18", "TSM_R18", "TSM-ResNet-18: torchvision resnet18 per frame with temporal "
            "shift", tsm_resnet, dict(depths=(2, 2, 2, 2), bottleneck=False), REFERENCE,
            DEFAULT_INPUT, adaptations=("clustering",)),
    Variant("tsm_r50", "TSM_R50", "TSM-ResNet-50", tsm_resnet,
            dict(depths=(3, 4, 6, 3), bottleneck=True), REFERENCE + ", ResNet-50 backbone",
            DEFAULT_INPUT, 24_327_632, ("clustering",)),
)
register_family(VARIANTS)
