"""Similarity Guided Sampling (SGS), seed 000 (Fayyaz, Bahrami et al., CVPR 2021).

SGS maps each temporal feature map I_t to an L-dimensional embedding Z_t,
takes a scalar Delta_t from it, splits [0, Delta_max] into B similarity bins
and sums (linear kernel) or averages (Kronecker kernel) the frames that fall
into each bin. Empty bins are dropped, so the number of output frames B' <= B
adapts to each clip's redundancy.

Equations (section 4 of the paper), with B bins:

    Delta_t = ||Z_t||                                    (1)
    gamma = Delta_max / 2B,  beta_b = (2b - 1) gamma     (2), (3)
    O_b = sum_t I_t Psi(Delta_t, beta_b)                 (4)
    Kronecker: Psi = delta(floor(|Delta_t - beta_b| / gamma)) / count_b   (5)
    linear:    Psi = max(0, 1 - |Delta_t - beta_b| / gamma)               (6)
    dO_b/dI_t = Psi (7);  dO_b/dDelta_t = I_t * {+1/gamma, -1/gamma, 0}  (8)

Choices where the paper is silent or its released code differs (documented in
docs/layers.md as well):

* `similarity="magnitude"` is eq. (1). `"distance_to_mean"` is what the
  authors' released code does: Delta_t = ||Z_t - mean_t Z_t||.
* Eqs. (5)/(6) have open support |Delta - beta| < gamma, so a frame exactly on a
  bin edge - always the frame with Delta_t = Delta_max - gets zero weight.
  The released code adds 1e-7 to the linear kernel so edge frames keep a
  negligible weight and their bin counts as active. `edge_epsilon` widens the
  support to |Delta - beta| < (1 + eps) gamma: 0 (default) is the paper,
  1e-7 is the released code.
* A clip whose frames all sit on bin edges (all Delta_t equal, e.g. identical
  frames, or Delta_max = 0) would have no active bin. It is treated as if all
  its frames sat at the centre of bin 1: B' = 1 and O_1 is their sum (linear)
  or mean (Kronecker). Output is always finite.
* In eq. (8) gamma and beta are constants (the gradient does not flow through
  Delta_max), as the paper writes it and as the released code does.
* The Kronecker kernel is piecewise constant: it passes no gradient to Delta.
* f_s: spatial average, pointwise layer with C units, ReLU, pointwise layer
  with L units (the paper's "two 1D convolutions with kernel size 1"; it does
  not name the activation, the released code uses ReLU).
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import (
    check_choice,
    check_video_shape,
    features_and_counts_spec,
    spatial_mean,
)

KERNELS = ("linear", "kronecker")
SIMILARITIES = ("magnitude", "distance_to_mean")


def _normalized_offsets(delta, num_bins):
    """Eqs. (2)-(3) in units of gamma: (Delta_t - beta_b) / gamma as (N, B, T),
    gamma (N, 1) and a flag gamma > 0.

    Computed as u_t - (2b - 1) with u_t = 2B Delta_t / Delta_max, so a frame
    with Delta_t = Delta_max lands exactly on the last bin's edge (no round-off).
    """
    delta_max = ops.max(delta, axis=1, keepdims=True)
    has_width = delta_max[:, 0] > 0
    safe_max = ops.where(delta_max > 0, delta_max, ops.ones_like(delta_max))
    position = 2.0 * num_bins * (delta / safe_max)  # (N, T) in [0, 2B]
    # Pin Delta_max frames to 2B exactly: graph rewrites (x * 1/max) must not
    # move them off the edge and flip their bin between eager and tf.function.
    position = ops.where(delta >= delta_max, 2.0 * num_bins, position)
    centre = 2.0 * ops.cast(ops.arange(1, num_bins + 1), delta.dtype) - 1.0
    offsets = position[:, None, :] - centre[None, :, None]
    safe_gamma = safe_max / (2.0 * num_bins)
    return offsets, safe_gamma, has_width


def _degenerate_fallback(weights, centre_weight):
    """Clips with no active bin get bin 1 holding every frame at `centre_weight`."""
    num_bins = ops.shape(weights)[1]
    empty = ops.sum(weights, axis=(1, 2)) <= 0  # (N,)
    first_bin = ops.cast(ops.arange(num_bins) == 0, weights.dtype)  # (B,)
    fallback = first_bin[None, :, None] * centre_weight  # (N or 1, B, T)
    fallback = ops.broadcast_to(fallback, ops.shape(weights))
    return ops.where(empty[:, None, None], fallback, weights)


def linear_kernel_weights(delta, num_bins, edge_epsilon=0.0):
    """Eq. (6) weights Psi (N, B, T) with the eq. (8) gradient w.r.t. Delta."""

    @ops.custom_gradient
    def kernel(delta):
        offsets, gamma, has_width = _normalized_offsets(delta, num_bins)
        distance = ops.abs(offsets)
        support = distance < 1.0 + edge_epsilon
        weights = ops.where(support, 1.0 + edge_epsilon - distance, 0.0)
        weights = _degenerate_fallback(weights, ops.ones_like(delta)[:, None, :])
        # Eq. (8): +1/gamma on the rising side (Delta <= beta), -1/gamma beyond.
        side = ops.where(offsets <= 0.0, 1.0, -1.0)
        slope = ops.where(support, side, 0.0) / gamma[:, :, None]
        slope = ops.where(has_width[:, None, None], slope, 0.0)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.sum(upstream * slope, axis=1)

        return weights, grad

    return kernel(delta)


def kronecker_kernel_weights(delta, num_bins, edge_epsilon=0.0):
    """Eq. (5) weights Psi (N, B, T): frames in a bin averaged; no gradient."""
    delta = ops.stop_gradient(delta)
    offsets, _, _ = _normalized_offsets(delta, num_bins)
    member = ops.cast(ops.abs(offsets) < 1.0 + edge_epsilon, delta.dtype)
    count = ops.sum(member, axis=2, keepdims=True)
    weights = member / ops.maximum(count, 1.0)
    frames = ops.cast(ops.shape(delta)[1], delta.dtype)
    centre_weight = ops.ones_like(delta)[:, None, :] / frames
    return _degenerate_fallback(weights, centre_weight)


def active_bins(weights):
    """Non-empty bins (N, B) bool and their count B' per clip (N,) int32."""
    active = ops.sum(ops.stop_gradient(weights), axis=2) > 0
    return active, ops.sum(ops.cast(active, "int32"), axis=1)


def compact_active_bins(weights):
    """Move each clip's non-empty bins to the front, keep their order.

    Returns the reordered weights cut to the batch's largest B' and the
    per-clip active bin counts B' (int32, shape (N,)). Rows past a clip's B'
    are zero.
    """
    num_bins = ops.shape(weights)[1]
    active, counts = active_bins(weights)
    target = ops.cumsum(ops.cast(active, "int32"), axis=1) - 1  # new slot of each active bin
    slots = ops.arange(num_bins, dtype="int32")
    moves = ops.logical_and(
        active[:, None, :], ops.equal(target[:, None, :], slots[None, :, None])
    )  # (N, new slot, old bin)
    weights = ops.einsum("njk,nkt->njt", ops.cast(moves, weights.dtype), weights)
    return weights[:, : ops.max(counts)], counts


def similarity_guided_sampling(
    features, delta, num_bins, kernel="linear", edge_epsilon=0.0, drop_empty_bins=True
):
    """The SGS sampling core, eqs. (2)-(8).

    Args:
      features: (N, T, H, W, C) temporal feature maps I_t.
      delta: (N, T) similarity values Delta_t.
      num_bins: B, a Python int.
      kernel: "linear" (eq. 6) or "kronecker" (eq. 5).
      edge_epsilon: widens kernel support to (1 + eps) gamma (see module doc).
      drop_empty_bins: compact active bins to the front and cut the batch to
        its largest B' (output length is data dependent: TF and torch
        backends, or eager JAX). If False all B bins are kept.

    Returns:
      outputs (N, B' or B, H, W, C) and active bin counts B' (N,) int32.
    """
    check_choice(kernel, KERNELS, "kernel", "similarity_guided_sampling")
    delta = ops.cast(delta, "float32")
    if kernel == "linear":
        weights = linear_kernel_weights(delta, num_bins, edge_epsilon)
    else:
        weights = kronecker_kernel_weights(delta, num_bins, edge_epsilon)
    if drop_empty_bins:
        weights, counts = compact_active_bins(weights)
    else:
        _, counts = active_bins(weights)
    weights = ops.cast(weights, features.dtype)
    outputs = ops.einsum("nbt,nthwc->nbhwc", weights, features)
    return outputs, counts


@keras.saving.register_keras_serializable(package="vidzoo")
class SimilarityGuidedSampling(layers.Layer):
    """Similarity Guided Sampling layer (seed 000, section 4).

    Input (batch, T, H, W, C); output (batch, B', H, W, C) where B' <= B is the
    batch's largest number of non-empty bins (rows beyond a clip's own B' are
    zero). With `return_active_bins=True` the layer returns
    `(outputs, active_bins)` with the per-clip B' as int32 (batch,), for FLOPs
    accounting and histograms.

    Args:
      num_bins: B; None means B = T (the paper's default).
      embedding_dim: L, the similarity space size (8 in the paper, Table 3).
      similarity: "magnitude" (eq. 1, default) or "distance_to_mean"
        (released code).
      kernel: "linear" (eq. 6, default) or "kronecker" (eq. 5).
      edge_epsilon: kernel support widening; 0 = paper, 1e-7 = released code.
      hidden_units: width of f_s's first pointwise layer; None means C.
      drop_empty_bins: see `similarity_guided_sampling`. Set False for XLA/JAX
        jit, which need static shapes; outputs then keep all B bins.
      return_active_bins: also return B' per clip.
    """

    def __init__(
        self,
        num_bins=None,
        embedding_dim=8,
        similarity="magnitude",
        kernel="linear",
        edge_epsilon=0.0,
        hidden_units=None,
        drop_empty_bins=True,
        return_active_bins=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        check_choice(similarity, SIMILARITIES, "similarity", name)
        check_choice(kernel, KERNELS, "kernel", name)
        if num_bins is not None and int(num_bins) < 1:
            raise ValueError(f"{name}: num_bins must be >= 1 or None; got {num_bins}.")
        if int(embedding_dim) < 1:
            raise ValueError(f"{name}: embedding_dim must be >= 1; got {embedding_dim}.")
        if edge_epsilon < 0:
            raise ValueError(f"{name}: edge_epsilon must be >= 0; got {edge_epsilon}.")
        self.num_bins = None if num_bins is None else int(num_bins)
        self.embedding_dim = int(embedding_dim)
        self.similarity = similarity
        self.kernel = kernel
        self.edge_epsilon = float(edge_epsilon)
        self.hidden_units = hidden_units
        self.drop_empty_bins = drop_empty_bins
        self.return_active_bins = return_active_bins

    def build(self, input_shape):
        input_shape = check_video_shape(input_shape, type(self).__name__)
        channels = input_shape[-1]
        if self.num_bins is None and input_shape[1] is None:
            raise ValueError(
                "SimilarityGuidedSampling with num_bins=None uses B = T and needs a "
                f"static number of frames; got input shape {input_shape}. Pass num_bins."
            )
        self.embed_hidden = layers.Dense(
            self.hidden_units or channels, activation="relu", name="embed_hidden",
            dtype=self.dtype_policy,
        )
        self.embed_out = layers.Dense(
            self.embedding_dim, name="embed_out", dtype=self.dtype_policy
        )
        self.embed_hidden.build((None, None, channels))
        self.embed_out.build((None, None, self.hidden_units or channels))

    def similarity_values(self, inputs):
        """Delta_t (batch, T) in float32 from f_s's embeddings Z_t."""
        embedding = self.embed_out(self.embed_hidden(spatial_mean(inputs)))
        embedding = ops.cast(embedding, "float32")
        if self.similarity == "distance_to_mean":
            embedding = embedding - ops.mean(embedding, axis=1, keepdims=True)
        return ops.sqrt(ops.sum(ops.square(embedding), axis=-1) + 1e-12)

    def call(self, inputs):
        num_bins = self.num_bins or inputs.shape[1]
        outputs, counts = similarity_guided_sampling(
            inputs,
            self.similarity_values(inputs),
            num_bins,
            kernel=self.kernel,
            edge_epsilon=self.edge_epsilon,
            drop_empty_bins=self.drop_empty_bins,
        )
        if self.return_active_bins:
            return outputs, counts
        return outputs

    def compute_output_shape(self, input_shape):
        frames = None if self.drop_empty_bins else (self.num_bins or input_shape[1])
        shape = (input_shape[0], frames) + tuple(input_shape[2:])
        if self.return_active_bins:
            return shape, (input_shape[0],)
        return shape

    def compute_output_spec(self, inputs):
        shape = self.compute_output_shape(inputs.shape)
        return features_and_counts_spec(shape, self.compute_dtype, self.return_active_bins)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_bins=self.num_bins,
            embedding_dim=self.embedding_dim,
            similarity=self.similarity,
            kernel=self.kernel,
            edge_epsilon=self.edge_epsilon,
            hidden_units=self.hidden_units,
            drop_empty_bins=self.drop_empty_bins,
            return_active_bins=self.return_active_bins,
        )
        return config


# ---------------------------------------------------------------------------
# Layers downstream of SGS: each clip keeps only its own B' frames.
#
# SGS pads every clip of a batch to the batch's largest B' with zero frames.
# Left alone, those frames pass through BatchNorm (which turns them non-zero),
# bleed into real frames through temporal convs and enter the global average,
# so a clip's prediction would depend on the other clips of its batch and
# batch-1 inference would not match training. Downstream of SGS the zoo uses
# the two layers below: BatchNorm takes its moments over real frames only and
# re-zeroes padded frames, and the global average divides by the real frames.
# With symmetric ("torch") temporal padding, real frames stay a prefix of every
# later feature map (ceil(B' / s) frames after a temporal stride s) and a clip
# gives the same output in any batch as alone.


def valid_frames(counts, frames, temporal_stride=1):
    """(N, frames) bool: frame t holds data of a clip with B' = counts[n] after
    a further temporal stride s, i.e. t < ceil(B' / s)."""
    stride = int(temporal_stride)
    lengths = (ops.cast(counts, "int32") + stride - 1) // stride
    return ops.arange(frames, dtype="int32")[None, :] < lengths[:, None]


def _frame_weights(counts, features, temporal_stride):
    valid = valid_frames(counts, ops.shape(features)[1], temporal_stride)
    return ops.cast(valid, features.dtype)[:, :, None, None, None]


@keras.saving.register_keras_serializable(package="vidzoo")
class FrameMaskedBatchNormalization(layers.BatchNormalization):
    """BatchNormalization of `[features, counts]` downstream of SGS: training
    moments use each clip's first ceil(B' / temporal_stride) frames only, and
    the padded frames come out as zeros. Weights are BatchNormalization's."""

    def __init__(self, temporal_stride=1, **kwargs):
        super().__init__(**kwargs)
        self.temporal_stride = int(temporal_stride)

    def build(self, input_shape):
        super().build(input_shape[0])
        self.input_spec = None  # the base spec describes one input; this layer takes two

    def call(self, inputs, training=None):
        features, counts = inputs
        weights = _frame_weights(counts, features, self.temporal_stride)
        outputs = super().call(features, training=training, mask=weights[..., 0] > 0)
        return outputs * ops.cast(weights, outputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(temporal_stride=self.temporal_stride)
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class FrameMaskedGlobalAveragePooling3D(layers.Layer):
    """Global average of `[features, counts]` over each clip's real frames
    (first ceil(B' / temporal_stride)) and all pixels."""

    def __init__(self, temporal_stride=1, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.temporal_stride = int(temporal_stride)
        self.keepdims = keepdims

    def call(self, inputs):
        features, counts = inputs
        weights = _frame_weights(counts, features, self.temporal_stride)
        total = ops.sum(features * weights, axis=(1, 2, 3), keepdims=self.keepdims)
        pixels = ops.cast(ops.shape(features)[2] * ops.shape(features)[3], features.dtype)
        frames = ops.sum(weights, axis=(1, 2, 3), keepdims=self.keepdims)
        return total / ops.maximum(frames * pixels, 1.0)

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        if self.keepdims:
            return (shape[0], 1, 1, 1, shape[-1])
        return (shape[0], shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(temporal_stride=self.temporal_stride, keepdims=self.keepdims)
        return config
