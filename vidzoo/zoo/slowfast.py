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
from vidzoo.zoo.registry import register_model
from vidzoo.zoo.resnet3d import R50_DEPTHS, pyslowfast_bottleneck, temporal_kernels

STAGES = ("stem", "res2", "res3", "res4", "res5")
SLOW_KERNELS = ((1,), (1,), (1,), (3,), (3,))
FAST_KERNELS = ((5,), (3,), (3,), (3,), (3,))


def fuse(slow, fast, alpha, kernel, name, resample):
    lateral = conv_bn(fast, 2 * fast.shape[-1], (kernel, 1, 1), (alpha, 1, 1),
                      name=f"{name}_fuse")
    if resample:
        lateral = MatchFrames(name=f"{name}_fuse_match")([lateral, slow])
    return layers.Concatenate(name=f"{name}_fuse_concat")([slow, lateral])


def slowfast_classifier(classes, dropout=0.5):
    def top(features):
        slow, fast = features
        pooled = [global_average_pool(x, f"head_pool_{p}")
                  for p, x in (("slow", slow), ("fast", fast))]
        x = layers.Concatenate(name="head_concat")(pooled)
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout")(x)
        return layers.Dense(classes, name="logits")(x)

    return top


def slowfast(alpha, fusion_kernel, include_top=True, weights=None, input_shape=None,
             input_tensor=None, pooling=None, classes=400, classifier_activation="softmax",
             sgs=None, beta_inv=8, dropout=0.5, name="slowfast"):
    """SlowFast ResNet-50 with speed ratio `alpha` and channel ratio 1/`beta_inv`.
    Default input 32x224x224 (the fast pathway's frames). Without the top, the
    features are the two pathways' res5 maps, or with `pooling` their pooled
    concatenation."""
    check_application_args(name, include_top, weights, classes, pooling)
    inputs, source = video_input(name, input_shape, input_tensor, (32, 224, 224, 3),
                                 min_frames=alpha, static_frames=True)
    stages = Stages(name, STAGES, sgs=sgs)
    slow = PathwaySampler(alpha, name="slow_sampler")(inputs)
    fast_width = 64 // beta_inv
    paths = {"slow": slow, "fast": inputs}
    for path, width, kernels in (("slow", 64, SLOW_KERNELS), ("fast", fast_width, FAST_KERNELS)):
        x = conv_bn(paths[path], width, (kernels[0][0], 7, 7), (1, 2, 2), name=f"stem_{path}")
        paths[path] = max_pool_torch(x, (1, 3, 3), (1, 2, 2), f"stem_{path}_pool")
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
                                              f"{stage}_{path}_block{b + 1}")
                paths[path] = x
        if index < 4:
            paths["slow"] = fuse(paths["slow"], paths["fast"], alpha, fusion_kernel, stage,
                                 resample)
        for path in ("slow", "fast"):
            paths[path] = stages.end(paths[path], stage, path)
        resample = resample or bool(stages.sgs and stages.sgs["after"] == stage)
    features = [paths["slow"], paths["fast"]]
    if not include_top and pooling:
        pool = layers.GlobalAveragePooling3D if pooling == "avg" else layers.GlobalMaxPooling3D
        pooled = [pool(name=f"{pooling}_pool_{p}")(x) for p, x in zip(("slow", "fast"), features)]
        features = layers.Concatenate(name=f"{pooling}_pool")(pooled)
        pooling = None
    return finish_model(inputs, source, features, name=name, include_top=include_top,
                        pooling=pooling, weights=weights,
                        classifier_activation=classifier_activation,
                        top=slowfast_classifier(classes, dropout))


def _variant(key, alpha, kernel, doc, atfr=False):
    def build(**kwargs):
        kwargs.setdefault("name", key)
        if atfr:
            kwargs.setdefault("sgs", True)
        return slowfast(alpha, kernel, **kwargs)

    build.__doc__ = doc
    return register_model(key)(build)


SlowFast_R50_4x16 = _variant(
    "slowfast_r50_4x16", 8, 5, "SlowFast-R50 4x16 (alpha 8, fusion kernel 5). Reference: "
    "PySlowFast SLOWFAST_4x16_R50; 34,480,216 parameters with 400 classes.")
SlowFast_R50_8x8 = _variant(
    "slowfast_r50_8x8", 4, 7, "SlowFast-R50 8x8 (alpha 4, fusion kernel 7). Reference: "
    "PySlowFast SLOWFAST_8x8_R50; 34,566,488 parameters with 400 classes.")
_variant("slowfast_r50_4x16_atfr", 8, 5, "SlowFast-R50 4x16 + ATFR (SGS per pathway after res2).",
         atfr=True)
_variant("slowfast_r50_8x8_atfr", 4, 7, "SlowFast-R50 8x8 + ATFR (SGS per pathway after res2).",
         atfr=True)
