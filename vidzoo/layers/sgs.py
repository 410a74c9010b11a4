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

The bins are computed in the normalized coordinate u_t = 2B Delta_t /
Delta_max (bin centres 1, 3, ..., 2B - 1, half-width 1), as the released code
does. Autodiff differentiates u, Delta_max included; the kernel's own
gradient is eq. (8)'s slope with respect to u (+1 / -1 / 0), so
dPsi/dDelta_t = slope / gamma plus the path through Delta_max. That is the
true gradient of the forward function, which does not change when all Delta
are scaled (sum_t Delta_t dL/dDelta_t = 0). docs/layers.md lists the choices
where the paper is silent or its released code differs.
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
KRONECKER_GRADIENTS = ("straight_through", "none")


def _at_least_float32(x):
    """float16 / bfloat16 -> float32; float32 and float64 stay (bin edges need
    the precision, and float64 lets tests take exact finite differences)."""
    if keras.backend.standardize_dtype(x.dtype) == "float64":
        return x
    return ops.cast(x, "float32")


def bin_positions(delta, num_bins):
    """u_t = 2B Delta_t / Delta_max, (N, T) in [0, 2B], differentiable.

    A frame with Delta_t = Delta_max is pinned to 2B exactly (graph rewrites of
    x / max must not move it off the edge); u of that frame is 2B identically,
    so pinning it changes no gradient. A clip with Delta_max = 0 has every u at
    2B (all on an edge: see `_degenerate_fallback`).
    """
    delta_max = ops.max(delta, axis=1, keepdims=True)
    safe_max = ops.where(delta_max > 0, delta_max, ops.ones_like(delta_max))
    position = 2.0 * num_bins * (delta / safe_max)
    return ops.where(delta >= delta_max, 2.0 * num_bins * ops.ones_like(delta), position)


def _offsets(position, num_bins):
    """(u_t - centre_b) as (N, B, T), centres 2b - 1."""
    centre = 2.0 * ops.cast(ops.arange(1, num_bins + 1), position.dtype) - 1.0
    return position[:, None, :] - centre[None, :, None]


def _degenerate_fallback(weights, centre_weight):
    """Clips with no active bin get bin 1 holding every frame at `centre_weight`."""
    num_bins = ops.shape(weights)[1]
    empty = ops.sum(ops.stop_gradient(weights), axis=(1, 2)) <= 0  # (N,)
    first_bin = ops.cast(ops.arange(num_bins) == 0, weights.dtype)  # (B,)
    fallback = first_bin[None, :, None] * centre_weight  # (N or 1, B, T)
    fallback = ops.broadcast_to(fallback, ops.shape(weights))
    return ops.where(empty[:, None, None], fallback, weights)


def linear_kernel_of_positions(position, num_bins, edge_epsilon=0.0):
    """Eq. (6) on u: Psi (N, B, T) = max(0, 1 + eps - |u - centre|), whose
    gradient is eq. (8)'s slope in u: +1 for u <= centre, -1 beyond, 0 outside."""

    @ops.custom_gradient
    def kernel(position):
        offsets = _offsets(position, num_bins)
        distance = ops.abs(offsets)
        support = distance < 1.0 + edge_epsilon
        weights = ops.where(support, 1.0 + edge_epsilon - distance, 0.0)
        slope = ops.cast(ops.where(support, ops.where(offsets <= 0.0, 1.0, -1.0), 0.0),
                         position.dtype)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.sum(upstream * slope, axis=1)

        return weights, grad

    return kernel(position)


def kronecker_kernel_of_positions(position, num_bins, edge_epsilon=0.0,
                                  gradient="straight_through"):
    """Eq. (5) on u: members of a bin averaged, Psi = member / count_b.

    The kernel is piecewise constant. gradient="straight_through" passes the
    released `DeltaKernel`'s surrogate, dL/du_t = sum_b dL/dPsi_bt * Psi_bt
    (upstream masked to the bin's members, divided by its count), so f_s
    trains; "none" passes nothing to u (f_s gets no gradient).
    """
    check_choice(gradient, KRONECKER_GRADIENTS, "kronecker_gradient", "Kronecker kernel")

    def forward(position):
        member = ops.cast(ops.abs(_offsets(position, num_bins)) < 1.0 + edge_epsilon,
                          position.dtype)
        count = ops.sum(member, axis=2, keepdims=True)
        return member / ops.maximum(count, 1.0)

    if gradient == "none":
        return forward(ops.stop_gradient(position))

    @ops.custom_gradient
    def kernel(position):
        weights = forward(position)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.sum(upstream * weights, axis=1)

        return weights, grad

    return kernel(position)


def linear_kernel_weights(delta, num_bins, edge_epsilon=0.0):
    """Eq. (6) weights Psi (N, B, T) of similarity values Delta (N, T)."""
    weights = linear_kernel_of_positions(bin_positions(delta, num_bins), num_bins, edge_epsilon)
    return _degenerate_fallback(weights, ops.ones_like(delta)[:, None, :])


def kronecker_kernel_weights(delta, num_bins, edge_epsilon=0.0, gradient="straight_through"):
    """Eq. (5) weights Psi (N, B, T) of similarity values Delta (N, T)."""
    weights = kronecker_kernel_of_positions(bin_positions(delta, num_bins), num_bins,
                                            edge_epsilon, gradient)
    frames = ops.cast(ops.shape(delta)[1], delta.dtype)
    return _degenerate_fallback(weights, ops.ones_like(delta)[:, None, :] / frames)


def active_bins(weights):
    """Non-empty bins (N, B) bool and their count B' per clip (N,) int32."""
    active = ops.sum(ops.stop_gradient(weights), axis=2) > 0
    return active, ops.sum(ops.cast(active, "int32"), axis=1)


def compact_active_bins(weights, cut=True):
    """Move each clip's non-empty bins to the front, keep their order.

    Returns the reordered weights, cut to the batch's largest B' (or all B
    rows with `cut=False`), and the per-clip active bin counts B' (int32,
    shape (N,)). Rows past a clip's B' are zero: the layers after SGS take a
    clip's first B' frames as its real ones.
    """
    num_bins = ops.shape(weights)[1]
    active, counts = active_bins(weights)
    target = ops.cumsum(ops.cast(active, "int32"), axis=1) - 1  # new slot of each active bin
    slots = ops.arange(num_bins, dtype="int32")
    moves = ops.logical_and(
        active[:, None, :], ops.equal(target[:, None, :], slots[None, :, None])
    )  # (N, new slot, old bin)
    weights = ops.einsum("njk,nkt->njt", ops.cast(moves, weights.dtype), weights)
    if not cut:
        return weights, counts
    return weights[:, : _batch_length(counts)], counts


STATIC_SHAPE_ERROR = (
    "SimilarityGuidedSampling with drop_empty_bins=True returns a data-dependent number "
    "of frames (the batch's largest B'), which {} cannot trace: it needs static shapes. "
    "Build the model with drop_empty_bins=False (all B bins kept, empty ones zero; the "
    "frame-masked layers after SGS use the counts) or run it eagerly "
    "(run_eagerly=True / jit_compile=False).")


def _batch_length(counts):
    """max(counts) as a slice bound. TF slices to a run-time length in graphs
    too; JAX needs a concrete value, which jax.jit cannot give (a clear error,
    not JAX's tracer message deep in the model)."""
    length = ops.max(counts)
    if keras.backend.backend() != "jax":
        return length
    import jax  # only to name the tracing error on this backend

    try:
        return int(length)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError):
        raise ValueError(STATIC_SHAPE_ERROR.format("jax.jit")) from None


def similarity_guided_sampling(
    features, delta, num_bins, kernel="linear", edge_epsilon=0.0, drop_empty_bins=True,
    kronecker_gradient="straight_through",
):
    """The SGS sampling core, eqs. (2)-(8).

    Args:
      features: (N, T, H, W, C) temporal feature maps I_t.
      delta: (N, T) similarity values Delta_t.
      num_bins: B, a Python int.
      kernel: "linear" (eq. 6) or "kronecker" (eq. 5).
      edge_epsilon: widens kernel support to (1 + eps) gamma (see module doc).
      drop_empty_bins: cut the batch to its largest B' (output length is
        data dependent: TF and torch backends, or eager JAX). If False all B
        rows are kept. Either way each clip's active bins come first, in
        order, then zero rows, so the static output is the dynamic one
        zero-padded to B and the frame-masked layers after SGS see the same
        real frames in both.
      kronecker_gradient: "straight_through" (released code) or "none"; see
        `kronecker_kernel_of_positions`.

    Returns:
      outputs (N, B' or B, H, W, C) and active bin counts B' (N,) int32.
    """
    check_choice(kernel, KERNELS, "kernel", "similarity_guided_sampling")
    features = ops.convert_to_tensor(features)  # NumPy in: torch ops need tensors
    delta = _at_least_float32(ops.convert_to_tensor(delta))
    if kernel == "linear":
        weights = linear_kernel_weights(delta, num_bins, edge_epsilon)
    else:
        weights = kronecker_kernel_weights(delta, num_bins, edge_epsilon, kronecker_gradient)
    weights, counts = compact_active_bins(weights, cut=drop_empty_bins)
    weights = ops.cast(weights, features.dtype)
    outputs = ops.einsum("nbt,nthwc->nbhwc", weights, features)
    return outputs, counts


def scale_gradient(x, scale):
    """`x` in the forward pass; its gradient times `scale` in the backward."""
    if scale == 1.0:
        return x
    frozen = ops.stop_gradient(x)
    return frozen if scale == 0.0 else frozen + scale * (x - frozen)


def hidden_width(hidden_units, channels):
    """f_s's hidden width: None -> C (the paper), "half" -> C // 2 (released
    code), or an int."""
    if hidden_units is None:
        return channels
    if hidden_units == "half":
        return max(channels // 2, 1)
    return int(hidden_units)


@keras.saving.register_keras_serializable(package="vidzoo")
class SimilarityGuidedSampling(layers.Layer):
    """Similarity Guided Sampling layer (seed 000, section 4).

    Input (batch, T, H, W, C); output (batch, B', H, W, C) where B' <= B is the
    batch's largest number of non-empty bins (rows beyond a clip's own B' are
    zero). With `return_active_bins=True` the layer returns
    `(outputs, active_bins)` with the per-clip B' as int32 (batch,), for FLOPs
    accounting and histograms.

    f_s is a spatial average, a pointwise layer of `hidden_units` with ReLU and
    a pointwise layer of L units (section 4.1); the released code adds a
    BatchNorm over Z (`embedding_norm=True`) and uses C/2 hidden units
    (`hidden_units="half"`).

    Args:
      num_bins: B; None means B = T (the paper's default).
      embedding_dim: L, the similarity space size (8 in the paper, Table 3).
      similarity: "magnitude" (eq. 1, default) or "distance_to_mean"
        (released code).
      kernel: "linear" (eq. 6, default) or "kronecker" (eq. 5).
      edge_epsilon: kernel support widening; 0 = paper, 1e-7 = released code.
      hidden_units: f_s's hidden width: None = C (paper), "half" = C // 2
        (released code), or an int.
      embedding_norm: BatchNorm over the L embedding channels (released code).
      kronecker_gradient: "straight_through" (released code's masked
        surrogate, f_s trains) or "none" (eq. 5 is piecewise constant).
      similarity_gradient_scale: multiplies the gradient that reaches Delta
        (the released code's GRAD_SCALE_VAL, 1.0 there): 1.0 is the paper's
        eq. 8, 0.0 keeps f_s at its initialization; the forward pass is
        unchanged. The default 0.1 won the ATFR study from scratch
        (docs/layers.md).
      drop_empty_bins: see `similarity_guided_sampling`. Set False for XLA/JAX
        jit, which need static shapes; outputs then keep B rows (the active
        bins first, then zeros).
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
        embedding_norm=False,
        kronecker_gradient="straight_through",
        similarity_gradient_scale=0.1,
        drop_empty_bins=True,
        return_active_bins=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        check_choice(similarity, SIMILARITIES, "similarity", name)
        check_choice(kernel, KERNELS, "kernel", name)
        check_choice(kronecker_gradient, KRONECKER_GRADIENTS, "kronecker_gradient", name)
        if num_bins is not None and int(num_bins) < 1:
            raise ValueError(f"{name}: num_bins must be >= 1 or None; got {num_bins}.")
        if int(embedding_dim) < 1:
            raise ValueError(f"{name}: embedding_dim must be >= 1; got {embedding_dim}.")
        if similarity_gradient_scale < 0:
            raise ValueError(f"{name}: similarity_gradient_scale must be >= 0; got "
                             f"{similarity_gradient_scale}.")
        if edge_epsilon < 0:
            raise ValueError(f"{name}: edge_epsilon must be >= 0; got {edge_epsilon}.")
        if not (hidden_units is None or hidden_units == "half"
                or (isinstance(hidden_units, int) and hidden_units >= 1)):
            raise ValueError(
                f"{name}: hidden_units must be None (C units), 'half' (C // 2) or a "
                f"positive int; got {hidden_units!r}."
            )
        self.num_bins = None if num_bins is None else int(num_bins)
        self.embedding_dim = int(embedding_dim)
        self.similarity = similarity
        self.kernel = kernel
        self.edge_epsilon = float(edge_epsilon)
        self.hidden_units = hidden_units
        self.embedding_norm = bool(embedding_norm)
        self.kronecker_gradient = kronecker_gradient
        self.similarity_gradient_scale = float(similarity_gradient_scale)
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
        hidden = hidden_width(self.hidden_units, channels)
        self.embed_hidden = layers.Dense(hidden, activation="relu", name="embed_hidden",
                                         dtype=self.dtype_policy)
        self.embed_out = layers.Dense(self.embedding_dim, name="embed_out",
                                      dtype=self.dtype_policy)
        self.embed_hidden.build((None, None, channels))
        self.embed_out.build((None, None, hidden))
        self.embed_norm = None
        if self.embedding_norm:
            # PyTorch BatchNorm1d defaults (momentum 0.1 = Keras 0.9, eps 1e-5),
            # moments over batch and time per embedding channel, as released.
            self.embed_norm = layers.BatchNormalization(
                momentum=0.9, epsilon=1e-5, name="embed_norm", dtype=self.dtype_policy)
            self.embed_norm.build((None, None, self.embedding_dim))

    def embeddings(self, inputs, training=None):
        """Z (batch, T, L) = f_s(I)."""
        embedding = self.embed_out(self.embed_hidden(spatial_mean(inputs)))
        if self.embed_norm is not None:
            embedding = self.embed_norm(embedding, training=training)
        return embedding

    def similarity_values(self, inputs, training=None):
        """Delta_t (batch, T), float32 or wider, from f_s's embeddings Z_t."""
        embedding = _at_least_float32(self.embeddings(inputs, training=training))
        if self.similarity == "distance_to_mean":
            embedding = embedding - ops.mean(embedding, axis=1, keepdims=True)
        delta = ops.sqrt(ops.sum(ops.square(embedding), axis=-1) + 1e-12)
        return scale_gradient(delta, self.similarity_gradient_scale)

    def call(self, inputs, training=None):
        num_bins = self.num_bins or inputs.shape[1]
        outputs, counts = similarity_guided_sampling(
            inputs,
            self.similarity_values(inputs, training=training),
            num_bins,
            kernel=self.kernel,
            edge_epsilon=self.edge_epsilon,
            drop_empty_bins=self.drop_empty_bins,
            kronecker_gradient=self.kronecker_gradient,
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

    def compute_output_spec(self, inputs, training=None):
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
            embedding_norm=self.embedding_norm,
            kronecker_gradient=self.kronecker_gradient,
            similarity_gradient_scale=self.similarity_gradient_scale,
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


class FrameMaskOptions:
    """What the layers of `[features, counts]` after SGS share: the temporal
    stride since SGS, `mask_lone_clip`, their config, and their output shape
    (the features')."""

    def __init__(self, temporal_stride=1, mask_lone_clip=True, **kwargs):
        super().__init__(**kwargs)
        self.temporal_stride = int(temporal_stride)
        self.mask_lone_clip = bool(mask_lone_clip)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(temporal_stride=self.temporal_stride, mask_lone_clip=self.mask_lone_clip)
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class FrameMaskedBatchNormalization(FrameMaskOptions, layers.BatchNormalization):
    """BatchNormalization of `[features, counts]` downstream of SGS: training
    moments use each clip's first ceil(B' / temporal_stride) frames only, and
    the padded frames come out as zeros. Weights are BatchNormalization's.

    `mask_lone_clip=False` skips the mask when the batch is statically one
    clip: SGS that drops empty bins pads a clip only to the length of the
    other clips of its batch, so a lone clip has no padded frames, and batch-1 inference need not
    pay for the mask (docs/benchmarks.md measures what it costs)."""

    def build(self, input_shape):
        super().build(input_shape[0])
        self.input_spec = None  # the base spec describes one input; this layer takes two

    def call(self, inputs, training=None):
        features, counts = inputs
        if _lone_unpadded_clip(features, self.mask_lone_clip):
            return super().call(features, training=training)
        weights = _frame_weights(counts, features, self.temporal_stride)
        outputs = super().call(features, training=training, mask=weights[..., 0] > 0)
        return outputs * ops.cast(weights, outputs.dtype)


@keras.saving.register_keras_serializable(package="vidzoo")
class FrameMaskedGlobalAveragePooling3D(layers.Layer):
    """Global average of `[features, counts]` over each clip's real frames
    (first ceil(B' / temporal_stride)) and all pixels. `mask_lone_clip` as in
    `FrameMaskedBatchNormalization`."""

    def __init__(self, temporal_stride=1, keepdims=False, mask_lone_clip=True, **kwargs):
        super().__init__(**kwargs)
        self.temporal_stride = int(temporal_stride)
        self.keepdims = keepdims
        self.mask_lone_clip = bool(mask_lone_clip)

    def call(self, inputs):
        features, counts = inputs
        if _lone_unpadded_clip(features, self.mask_lone_clip):
            return ops.mean(features, axis=(1, 2, 3), keepdims=self.keepdims)
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
        config.update(temporal_stride=self.temporal_stride, keepdims=self.keepdims,
                      mask_lone_clip=self.mask_lone_clip)
        return config


def _lone_unpadded_clip(features, mask_lone_clip):
    """True when the mask can be skipped: the batch is statically one clip and
    the layer was told that a lone clip is never padded."""
    return not mask_lone_clip and features.shape[0] == 1
