"""Inception-V1 video family of seed 002 (Xie et al., ECCV 2018): I3D, I2D,
S3D, S3D-G, bottom- and top-heavy I3D/S3D, Fast-S3D.

Reference: TF-slim `nets/i3d.py` and `nets/s3dg.py` (DeepMind kinetics-i3d
builds the same I3D). Their conventions, followed here by default
(`convention="tf_slim"`): TF "same" padding; BatchNorm with offset only
(eps 1e-3); the first conv is a full kx7x7 conv even in S3D; in a separable
conv the temporal half has a bias and ReLU but no BatchNorm; self-gating
(S3D-G) has an unbiased 1x1x1 transform; the classifier
averages 2x7x7 windows (stride 1), applies a biased 1x1x1 conv and averages
the logits over time. `convention="torchvision"` builds torchvision's `s3d`
instead: PyTorch padding, BatchNorm with scale after both halves, no bias.

Endpoints keep TF-slim's names (Conv2d_1a_7x7 ... Mixed_5c) so a model can be
split at any of them. Which layers convolve in time:

* `temporal="full"`: every 3x3 (and the first 7x7) conv is 3D (I3D, S3D);
* `temporal="none"`: all 2D (I2D). Like the paper's I2D it keeps the strided
  first conv and max pools in time, and the 3x3x3 max pool in each block;
* `temporal="top_heavy"`: 2D before `transition`, 3D from it on;
* `temporal="bottom_heavy"`: 3D before `transition`, 2D from it on.

`separable=True` factorizes each 3D conv into 1xkxk then kx1x1 (S3D).
"""

from typing import Optional

import keras
from keras import layers

from vidzoo.layers import SelfGating
from vidzoo.layers.temporal_resampling import PairwiseTemporalMean
from vidzoo.zoo.common import (
    SLIM_BN,
    Stages,
    batch_norm,
    check_application_args,
    conv3d,
    finish_model,
    max_pool_torch,
    strided,
    video_input,
)
from vidzoo.zoo.registry import Variant, register_family

MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
ENDPOINTS = (
    "Conv2d_1a_7x7", "MaxPool_2a_3x3", "Conv2d_2b_1x1", "Conv2d_2c_3x3", "MaxPool_3a_3x3",
    "Mixed_3b", "Mixed_3c", "MaxPool_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
    "Mixed_4f", "MaxPool_5a_2x2", "Mixed_5b", "Mixed_5c",
)
TEMPORAL_MODES = ("full", "none", "top_heavy", "bottom_heavy")
DEFAULT_INPUT = (64, 224, 224, 3)
TORCH_S3D_BN = dict(epsilon=1e-3, momentum=0.999)


class _Builder:
    """Conv, pool and gating helpers for one convention and temporal layout.
    `frames` describes the tensor the next unit or block takes (None before
    SGS); the network's loop updates it at SGS and at temporal strides."""

    def __init__(self, convention, separable, temporal, transition, gating):
        self.torch = convention == "torchvision"
        self.separable = separable
        self.temporal = temporal
        self.transition = ENDPOINTS.index(transition) if transition else None
        self.gating = gating
        self.frames = None

    def is_3d(self, endpoint):
        index = ENDPOINTS.index(endpoint)
        if self.temporal == "full":
            return True
        if self.temporal == "none":
            return False
        if self.temporal == "top_heavy":
            return index >= self.transition
        return index < self.transition

    def _conv(self, x, filters, kernel, strides, name, use_bias=False):
        return conv3d(x, filters, kernel, strides, name=name, use_bias=use_bias,
                      padding="torch" if self.torch else "same")

    def _bn_relu(self, x, name, temporal_stride=1):
        convention = TORCH_S3D_BN if self.torch else SLIM_BN
        x = batch_norm(x, f"{name}_bn", convention, strided(self.frames, temporal_stride))
        return layers.ReLU(name=f"{name}_relu")(x)

    def unit(self, x, filters, kernel, strides, name, separable=None):
        """Conv3D + BN + ReLU, or the separable pair when `separable` and kt > 1."""
        kt, kh, kw = kernel
        st, sh, sw = strides
        separable = self.separable if separable is None else separable
        if not (separable and kt > 1):
            return self._bn_relu(self._conv(x, filters, kernel, strides, f"{name}_conv"), name,
                                 st)
        x = self._bn_relu(self._conv(x, filters, (1, kh, kw), (1, sh, sw), f"{name}_conv"),
                          name)
        temporal = f"{name}_temporal"
        if self.torch:
            return self._bn_relu(
                self._conv(x, filters, (kt, 1, 1), (st, 1, 1), f"{temporal}_conv"), temporal, st)
        x = self._conv(x, filters, (kt, 1, 1), (st, 1, 1), f"{temporal}_conv", use_bias=True)
        return layers.ReLU(name=f"{temporal}_relu")(x)

    def gate(self, x, name):
        return SelfGating(name=f"{name}_gating")(x) if self.gating else x

    def max_pool(self, x, size, strides, name):
        if self.torch:
            if size == (2, 2, 2):
                return layers.MaxPooling3D(size, strides, name=name)(x)
            return max_pool_torch(x, size, strides, name)
        return layers.MaxPooling3D(size, strides, padding="same", name=name)(x)

    def mixed(self, x, endpoint):
        b0, b1a, b1b, b2a, b2b, b3 = MIXED[endpoint]
        kt = 3 if self.is_3d(endpoint) else 1
        n = endpoint
        branch0 = self.gate(self.unit(x, b0, (1, 1, 1), (1, 1, 1), f"{n}_b0_1x1"), f"{n}_b0")
        branch1 = self.unit(x, b1a, (1, 1, 1), (1, 1, 1), f"{n}_b1_1x1")
        branch1 = self.gate(self.unit(branch1, b1b, (kt, 3, 3), (1, 1, 1), f"{n}_b1_3x3"),
                            f"{n}_b1")
        branch2 = self.unit(x, b2a, (1, 1, 1), (1, 1, 1), f"{n}_b2_1x1")
        branch2 = self.gate(self.unit(branch2, b2b, (kt, 3, 3), (1, 1, 1), f"{n}_b2_3x3"),
                            f"{n}_b2")
        branch3 = self.max_pool(x, (3, 3, 3), (1, 1, 1), f"{n}_b3_pool")
        branch3 = self.gate(self.unit(branch3, b3, (1, 1, 1), (1, 1, 1), f"{n}_b3_1x1"),
                            f"{n}_b3")
        return layers.Concatenate(name=f"{n}_concat")([branch0, branch1, branch2, branch3])


def _reduced_pool(x, size=(2, 7, 7)):
    """TF-slim's reduced_kernel_size_3d: the window shrinks to a smaller map."""
    dims = x.shape[1:4]
    return tuple(k if d is None else min(k, d) for k, d in zip(size, dims))


def inception_classifier(classes, dropout=0.2):
    """2x7x7 average pool (stride 1), dropout, biased 1x1x1 conv, mean of the
    logits over the remaining positions (TF-slim and torchvision)."""

    def top(x, frames=None):
        # TF-slim's head averages windows of frames and then the logits; with
        # SGS upstream, padded frames enter both (no masked equivalent yet).
        window = _reduced_pool(x)
        if x.shape[1] is None:
            x = layers.AveragePooling3D((1,) + window[1:], strides=1, name="head_pool")(x)
            x = PairwiseTemporalMean(name="head_temporal_pool")(x)
        else:
            x = layers.AveragePooling3D(window, strides=1, name="head_pool")(x)
        x = layers.Dropout(dropout, name="head_dropout")(x)
        x = layers.Conv3D(classes, 1, name="logits_conv")(x)
        return layers.GlobalAveragePooling3D(name="logits")(x)

    return top


def inception3d(
    *,
    separable: bool = False,
    gating: bool = False,
    temporal: str = "full",
    transition: Optional[str] = None,
    first_temporal_kernel: int = 7,
    convention: str = "tf_slim",
    include_top: bool = True,
    weights: Optional[str] = None,
    input_shape: Optional[tuple] = None,
    input_tensor=None,
    pooling: Optional[str] = None,
    classes: int = 400,
    classifier_activation: Optional[str] = "softmax",
    dropout: float = 0.2,
    sgs=None,
    default_shape: tuple = DEFAULT_INPUT,
    name: str = "inception3d",
) -> keras.Model:
    """Inception-V1 video network (module docstring).

    Args:
      separable: factorize 3D convs (S3D).
      gating: self-gating after Conv2d_2c_3x3 and every block branch (S3D-G).
      temporal, transition: which convs are 3D (module docstring).
      first_temporal_kernel: time extent of the first conv when it is 3D
        (7 as in I3D and the paper; TF-slim's `s3dg()` defaults to 3).
      convention: "tf_slim" (default) or "torchvision".
      sgs: SimilarityGuidedSampling after an endpoint (True: Conv2d_2c_3x3,
        the second stage).
      default_shape: (T, H, W, C) when no input shape or tensor is given.
      The other arguments are keras.applications'.
    """
    check_application_args(name, include_top, weights, classes, pooling)
    if temporal not in TEMPORAL_MODES:
        raise ValueError(f"{name}: temporal must be one of {TEMPORAL_MODES}; got {temporal!r}.")
    heavy = temporal in ("top_heavy", "bottom_heavy")
    if heavy and transition not in ENDPOINTS:
        raise ValueError(
            f"{name}: temporal={temporal!r} needs `transition`, one of the endpoints "
            f"{list(ENDPOINTS)}; got {transition!r}."
        )
    if convention not in ("tf_slim", "torchvision"):
        raise ValueError(f"{name}: convention must be 'tf_slim' or 'torchvision'; "
                         f"got {convention!r}.")
    if first_temporal_kernel not in (1, 3, 5, 7):
        raise ValueError(f"{name}: first_temporal_kernel must be 1, 3, 5 or 7; "
                         f"got {first_temporal_kernel}.")
    inputs, source = video_input(name, input_shape, input_tensor, default_shape,
                                 min_frames=2 if temporal == "full" else 1)
    build = _Builder(convention, separable, temporal, transition if heavy else None, gating)
    stages = Stages(name, ENDPOINTS, sgs=sgs, default_after="Conv2d_2c_3x3")
    kt = first_temporal_kernel if build.is_3d("Conv2d_1a_7x7") else 1
    # TF-slim's s3dg builds the first conv as a full 3D conv even in S3D.
    x = build.unit(inputs, 64, (kt, 7, 7), (2, 2, 2), "Conv2d_1a_7x7",
                   separable=separable and build.torch)

    def end(x, endpoint):
        x = stages.end(x, endpoint)
        build.frames = stages.frames_after(endpoint, build.frames)
        return x

    x = end(x, "Conv2d_1a_7x7")
    x = end(build.max_pool(x, (1, 3, 3), (1, 2, 2), "MaxPool_2a"), "MaxPool_2a_3x3")
    x = end(build.unit(x, 64, (1, 1, 1), (1, 1, 1), "Conv2d_2b_1x1"), "Conv2d_2b_1x1")
    kt = 3 if build.is_3d("Conv2d_2c_3x3") else 1
    x = build.gate(build.unit(x, 192, (kt, 3, 3), (1, 1, 1), "Conv2d_2c_3x3"), "Conv2d_2c")
    x = end(x, "Conv2d_2c_3x3")
    x = end(build.max_pool(x, (1, 3, 3), (1, 2, 2), "MaxPool_3a"), "MaxPool_3a_3x3")
    for endpoint in ENDPOINTS[5:]:
        if endpoint == "MaxPool_4a_3x3":
            x = build.max_pool(x, (3, 3, 3), (2, 2, 2), "MaxPool_4a")
            build.frames = strided(build.frames, 2)
        elif endpoint == "MaxPool_5a_2x2":
            x = build.max_pool(x, (2, 2, 2), (2, 2, 2), "MaxPool_5a")
            build.frames = strided(build.frames, 2)
        else:
            x = build.mixed(x, endpoint)
        x = end(x, endpoint)
    return finish_model(inputs, source, x, name=name, include_top=include_top, pooling=pooling,
                        weights=weights, classifier_activation=classifier_activation,
                        top=inception_classifier(classes, dropout), frames=build.frames)


def _row(name, python_name, title, reference, params=None, adaptations=(), notes="",
         **arguments):
    return Variant(name, python_name, title, inception3d, arguments, reference, DEFAULT_INPUT,
                   params, adaptations, notes=notes)


SEED = "seed 002 on TF-slim `s3dg.py`'s blocks"
VARIANTS = (
    _row("i3d", "I3D", "I3D (Carreira and Zisserman)", "TF-slim `i3d.py` / DeepMind "
         "kinetics-i3d", 12_689_984, ("atfr",),
         notes="The ATFR variant has SGS after Conv2d_2c_3x3 (the second stage)."),
    _row("i2d", "I2D", "I2D (seed 002, section 4.1): I3D with every conv 2D", SEED,
         temporal="none"),
    _row("s3d", "S3D", "S3D: I3D with separable 3D convs", "TF-slim `s3dg.py` without gating, "
         "7x7x7 first conv", 8_337_152, separable=True),
    _row("s3d_g", "S3D_G", "S3D-G: S3D with self-gating", "TF-slim `s3dg.py` with a 7x7x7 first "
         "conv", 9_556_480, notes="first_temporal_kernel=3, TF-slim's default, gives 9,518,848.",
         separable=True, gating=True),
    _row("s3d_torchvision", "S3D_TORCHVISION", "S3D as torchvision builds it", "torchvision "
         "`s3d`", 8_320_048, separable=True, convention="torchvision"),
    _row("fast_s3d", "FAST_S3D", "Fast-S3D (seed 002, section 4.4): top-heavy S3D, separable 3D "
         "convs from Mixed_4b on and 2D below", SEED,
         notes="The paper's 'top 2 layers' is ambiguous; we take the stage boundary of its Fig. "
         "7 (docs/zoo.md has the FLOP ratios). Pass `transition=` to move it.",
         separable=True, temporal="top_heavy", transition="Mixed_4b"),
    _row("i3d_top_heavy", "TOP_HEAVY_I3D", "Top-heavy I3D: 2D below `transition` (default "
         "Mixed_4b, the paper's Fig. 7 split), 3D from it on", SEED, temporal="top_heavy",
         transition="Mixed_4b"),
    _row("i3d_bottom_heavy", "BOTTOM_HEAVY_I3D", "Bottom-heavy I3D: 3D below `transition` "
         "(default Mixed_4b), 2D from it on", SEED, temporal="bottom_heavy",
         transition="Mixed_4b"),
    _row("s3d_top_heavy", "TOP_HEAVY_S3D", "Top-heavy S3D (transition Mixed_4b by default)", SEED,
         separable=True, temporal="top_heavy", transition="Mixed_4b"),
    _row("s3d_bottom_heavy", "BOTTOM_HEAVY_S3D", "Bottom-heavy S3D (transition Mixed_4b by "
         "default)", SEED, separable=True, temporal="bottom_heavy", transition="Mixed_4b"),
)
register_family(VARIANTS)
