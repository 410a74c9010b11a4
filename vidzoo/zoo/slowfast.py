"""SlowFast-R50 4x16 and 8x8 (Feichtenhofer et al., ICCV 2019).

Reference: PySlowFast `SLOWFAST_4x16_R50` and `SLOWFAST_8x8_R50` (34,480,216
and 34,566,488 parameters with 400 classes). The model takes one clip of the
fast pathway's frames (32 by default); the slow pathway takes T / alpha of
them at PySlowFast's `linspace` indices (`PathwaySampler`). Channel ratio
beta = 1/8; after the stem and res2..res4 a time-strided kx1x1 conv
(stride alpha, 2x the fast channels, BN, ReLU) fuses fast into slow by
concatenation. The classifier averages each pathway, concatenates
(2048 + 256) and applies dropout 0.5 and a linear layer.

With `sgs=` each pathway gets its own SimilarityGuidedSampling after res2
(after that stage's fusion), so the pathways' lengths B'_slow and B'_fast
become independent; the later fusions then resample the fast-to-slow lateral
to the slow pathway's length (linear interpolation in time). That
resampling is our choice; the ATFR paper's supplementary, which describes
its SlowFast variant, is not available to us.
"""

from typing import Optional

import keras
from keras import layers

from vidzoo.layers.temporal_resampling import MatchFrames, PathwaySampler
from vidzoo.zoo.common import (
    Stages,
    check_application_args,
    conv_bn,
    finish_model,
    global_average_pool,
    max_pool_torch,
    video_input,
)
from vidzoo.zoo.pyslowfast_resnet import (
    R50_DEPTHS,
    SLOW_KERNELS,
    pyslowfast_bottleneck,
    temporal_kernels,
)
from vidzoo.zoo.registry import Variant, register_family

STAGES = ("stem", "res2", "res3", "res4", "res5")
DEFAULT_INPUT = (32, 224, 224, 3)  # the fast pathway's frames
FAST_KERNELS = ((5,), (3,), (3,), (3,), (3,))


def fuse(slow, fast, alpha, kernel, name, resample, fast_frames=None):
    lateral = conv_bn(fast, 2 * fast.shape[-1], (kernel, 1, 1), (alpha, 1, 1),
                      name=f"{name}_fuse", frames=fast_frames)
    if resample:
        lateral = MatchFrames(name=f"{name}_fuse_match")([lateral, slow])
    return layers.Concatenate(name=f"{name}_fuse_concat")([slow, lateral])


def slowfast_classifier(classes, dropout=0.5):
    def top(features, frames):
        pooled = [global_average_pool(x, f"head_pool_{p}", frames=frames[p])
                  for p, x in zip(("slow", "fast"), features)]
        x = layers.Concatenate(name="head_concat")(pooled)
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout")(x)
        return layers.Dense(classes, name="logits")(x)

    return top


def slowfast(*, alpha: int, fusion_kernel: int, include_top: bool = True,
             weights: Optional[str] = None, input_shape: Optional[tuple] = None,
             input_tensor=None, pooling: Optional[str] = None, classes: int = 400,
             classifier_activation: Optional[str] = "softmax", sgs=None, beta_inv: int = 8,
             dropout: float = 0.5, default_shape: tuple = DEFAULT_INPUT,
             name: str = "slowfast") -> keras.Model:
    """SlowFast ResNet-50. Without the top, the features are the two
    pathways' res5 maps, or with `pooling` their pooled concatenation.

    Args:
      alpha: speed ratio (the slow pathway takes every alpha-th frame).
      fusion_kernel: time extent of the fast-to-slow lateral conv.
      sgs: SimilarityGuidedSampling per pathway after a stage (True: res2).
      beta_inv: the fast pathway has 1/beta_inv of the slow one's channels.
      dropout: before the classifier.
      default_shape: (T, H, W, C) of the fast pathway's input when no input
        shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, default_shape,
                                 min_frames=alpha, static_frames=True)
    stages = Stages(name, STAGES, sgs=sgs)
    slow = PathwaySampler(alpha, name="slow_sampler")(inputs)
    fast_width = 64 // beta_inv
    paths = {"slow": slow, "fast": inputs}
    for path, width, kernels in (("slow", 64, SLOW_KERNELS), ("fast", fast_width, FAST_KERNELS)):
        x = conv_bn(paths[path], width, (kernels[0][0], 7, 7), (1, 2, 2), name=f"stem_{path}")
        paths[path] = max_pool_torch(x, (1, 3, 3), (1, 2, 2), f"stem_{path}_pool")
    frames = {"slow": None, "fast": None}
    resample = False
    for index in range(5):
        stage = STAGES[index]
        if index > 0:
            depth, stride = R50_DEPTHS[index - 1], (1 if index == 1 else 2)
            for path, width, kernels in (("slow", 64, SLOW_KERNELS),
                                         ("fast", fast_width, FAST_KERNELS)):
                pattern = temporal_kernels(kernels[index], depth)
                x = paths[path]
                for b in range(depth):
                    x = pyslowfast_bottleneck(x, 4 * width * 2 ** (index - 1),
                                              width * 2 ** (index - 1), pattern[b],
                                              stride if b == 0 else 1,
                                              f"{stage}_{path}_block{b + 1}",
                                              frames=frames[path])
                paths[path] = x
        if index < 4:
            paths["slow"] = fuse(paths["slow"], paths["fast"], alpha, fusion_kernel, stage,
                                 resample, frames["fast"])
        for path in ("slow", "fast"):
            paths[path] = stages.end(paths[path], stage, path)
            frames[path] = stages.frames_after(stage, frames[path], path)
        resample = resample or bool(stages.sgs and stages.sgs["after"] == stage)
    features = [paths["slow"], paths["fast"]]
    if not include_top and pooling:
        pooled = [global_average_pool(x, f"avg_pool_{p}", frames=frames[p]) if pooling == "avg"
                  else layers.GlobalMaxPooling3D(name=f"max_pool_{p}")(x)
                  for p, x in zip(("slow", "fast"), features)]
        features = layers.Concatenate(name=f"{pooling}_pool")(pooled)
        pooling = None
    return finish_model(inputs, source, features, name=name, include_top=include_top,
                        pooling=pooling, weights=weights,
                        classifier_activation=classifier_activation,
                        top=slowfast_classifier(classes, dropout), frames=frames)


def _row(name, python_name, title, alpha, fusion_kernel, config, params):
    return Variant(name, python_name, title, slowfast,
                   dict(alpha=alpha, fusion_kernel=fusion_kernel), f"PySlowFast `{config}`",
                   DEFAULT_INPUT, params, ("atfr",),
                   notes="The ATFR variant has SGS per pathway after res2.")


VARIANTS = (
    _row("slowfast_r50_4x16", "SlowFast_R50_4x16", "SlowFast-R50 4x16 (alpha 8, fusion "
         "kernel 5)", 8, 5, "SLOWFAST_4x16_R50", 34_480_216),
    _row("slowfast_r50_8x8", "SlowFast_R50_8x8", "SlowFast-R50 8x8 (alpha 4, fusion kernel 7)",
         4, 7, "SLOWFAST_8x8_R50", 34_566_488),
)
register_family(VARIANTS)
