"""Temporal clustering and aggregation, seed 004 (Liu, Pintea et al., CVPR 2021), 3.3.

Each frame's activations are sign-binarized (x > 0), neighbouring frames are
compared by normalized Hamming distance H_i = H(x_i, x_{i+1}), and the clip is
cut into g contiguous clusters whose activations are averaged:

* "cumulative" (eq. 8): C_i = sum_{j<i} H_j; frame i goes to cluster
  ceil(g C_i / C_N). Frame 1 has C_1 = 0 and joins cluster 1.
* "slope": cut after the g-1 largest neighbour distances (ties: earliest).
* "uniform": g equal segments, no distances (the paper's "Ours-uniform").

Definitions where the paper is silent (tested in tests/test_temporal_clustering.py):

* Always exactly g contiguous, non-empty clusters when a clip has T >= g
  valid frames. The released code drops the last cumulative cluster; the
  paper does not, and neither do we. If the cumulative rule would leave a
  cluster empty (one large jump), its start moves by the least amount that
  keeps every cluster non-empty.
* All frames identical (C_N = 0): every method falls back to uniform.
* T < g: the clip is padded by repeating its last frame (the paper's rule
  for short videos), so clusters 1..T hold one frame each and the rest repeat
  the last frame.
* Padded clips: pass a (batch, T) mask whose valid frames form a prefix;
  clustering and means use only the valid frames.

The assignment is integer and carries no gradient; gradients flow through the
cluster means.
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import (
    check_choice,
    check_video_shape,
    features_and_counts_spec,
)

METHODS = ("cumulative", "slope", "uniform")


def neighbour_hamming_distances(x):
    """(N, T, ...) -> (N, T-1) normalized Hamming distances of sign(x > 0)."""
    x = ops.stop_gradient(x)
    signs = ops.reshape(x > 0, (ops.shape(x)[0], ops.shape(x)[1], -1))
    changed = ops.not_equal(signs[:, 1:], signs[:, :-1])
    return ops.mean(ops.cast(changed, "float32"), axis=-1)


def _cumulative_starts(distances, lengths, num_clusters):
    """Raw starts (N, g-1): frames with g C_i / C_N <= k precede cluster k+1."""
    cumulative = ops.pad(ops.cumsum(distances, axis=1), [(0, 0), (1, 0)])  # C_i
    frames = ops.shape(cumulative)[1]
    valid = ops.arange(frames)[None, :] < lengths[:, None]
    total = ops.max(ops.where(valid, cumulative, 0.0), axis=1, keepdims=True)
    ratio = num_clusters * cumulative / ops.maximum(total, 1e-12)
    ks = ops.cast(ops.arange(1, num_clusters), "float32")
    before = ops.logical_and(valid[:, None, :], ratio[:, None, :] <= ks[None, :, None] + 1e-5)
    return ops.sum(ops.cast(before, "int32"), axis=2)


def _slope_starts(distances, lengths, num_clusters):
    """Raw starts (N, g-1): one frame after each of the g-1 largest distances."""
    neighbours = ops.shape(distances)[1]
    valid = ops.arange(neighbours)[None, :] < (lengths[:, None] - 1)
    scores = ops.where(valid, distances, -1.0)
    scores = ops.pad(scores, [(0, 0), (0, num_clusters - 1)], constant_values=-2.0)
    _, cuts = ops.top_k(scores, k=num_clusters - 1, sorted=True)
    return ops.sort(ops.cast(cuts, "int32") + 1, axis=1)


def _uniform_starts(lengths, num_clusters):
    ks = ops.arange(1, num_clusters, dtype="int32")
    return (ks[None, :] * lengths[:, None]) // num_clusters


def _non_empty(starts, lengths, num_clusters):
    """Least change to raw starts that makes g strictly increasing cluster starts."""
    fixed, previous = [], ops.zeros_like(lengths)
    for k in range(1, num_clusters):
        upper = lengths - num_clusters + k
        start = ops.minimum(ops.maximum(starts[:, k - 1], previous + 1), upper)
        fixed.append(start)
        previous = start
    return ops.stack(fixed, axis=1)


def cluster_starts(distances, lengths, num_clusters, method):
    """First frame index of each of the g clusters, (N, g) int32."""
    lengths = ops.cast(lengths, "int32")
    zero = ops.zeros_like(lengths)[:, None]
    if num_clusters == 1:
        return zero
    uniform = _uniform_starts(lengths, num_clusters)
    if method == "uniform":
        starts = uniform
    else:
        raw = (_cumulative_starts if method == "cumulative" else _slope_starts)(
            distances, lengths, num_clusters
        )
        valid = ops.arange(ops.shape(distances)[1])[None, :] < (lengths[:, None] - 1)
        moving = ops.any(ops.logical_and(valid, distances > 0), axis=1)
        starts = ops.where(moving[:, None], raw, uniform)
    starts = _non_empty(starts, lengths, num_clusters)
    short = ops.minimum(
        ops.arange(1, num_clusters, dtype="int32")[None, :], lengths[:, None] - 1
    )
    starts = ops.where((lengths < num_clusters)[:, None], short, starts)
    return ops.concatenate([zero, starts], axis=1)


def cluster_membership(starts, lengths, frames):
    """(N, T, g) 0/1 membership: cluster k spans frames [s_k, max(s_{k+1}, s_k + 1))."""
    lengths = ops.cast(lengths, "int32")
    next_starts = ops.concatenate([starts[:, 1:], lengths[:, None]], axis=1)
    ends = ops.maximum(next_starts, starts + 1)
    t = ops.arange(frames, dtype="int32")[None, :, None]
    inside = ops.logical_and(t >= starts[:, None, :], t < ends[:, None, :])
    return ops.cast(inside, "float32")


def temporal_clustering(x, num_clusters, method="cumulative", mask=None):
    """Cluster (N, T, H, W, C) into (N, g, H, W, C) means; also (N, g) sizes."""
    check_choice(method, METHODS, "method", "temporal_clustering")
    frames = ops.shape(x)[1]
    if mask is None:
        lengths = ops.full((ops.shape(x)[0],), frames, dtype="int32")
    else:
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        lengths = ops.maximum(lengths, 1)
    distances = neighbour_hamming_distances(x)
    starts = cluster_starts(distances, lengths, num_clusters, method)
    membership = cluster_membership(starts, lengths, frames)
    sizes = ops.sum(membership, axis=1)
    weights = membership / sizes[:, None, :]
    means = ops.einsum("ntk,nthwc->nkhwc", weights, ops.cast(x, "float32"))
    return ops.cast(means, x.dtype), ops.cast(sizes, "int32")


@keras.saving.register_keras_serializable(package="vidzoo")
class TemporalClustering(layers.Layer):
    """Group a clip's frames into g contiguous clusters and average each.

    Call on `features` (batch, T, H, W, C) or on `[features, mask]` with a
    (batch, T) mask of valid frames (a prefix) for clips padded to a fixed
    length. Returns (batch, g, H, W, C), plus the (batch, g) int32 cluster
    sizes when `return_cluster_sizes=True`.
    """

    def __init__(self, num_clusters=8, method="cumulative", return_cluster_sizes=False, **kwargs):
        super().__init__(**kwargs)
        check_choice(method, METHODS, "method", type(self).__name__)
        if int(num_clusters) < 1:
            raise ValueError(
                f"TemporalClustering: num_clusters must be >= 1; got {num_clusters}."
            )
        self.num_clusters = int(num_clusters)
        self.method = method
        self.return_cluster_sizes = return_cluster_sizes

    @staticmethod
    def _split(inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(
                    "TemporalClustering takes features or [features, mask]; "
                    f"got {len(inputs)} inputs."
                )
            return inputs[0], inputs[1]
        return inputs, None

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            features_shape, mask_shape = input_shape
            if len(mask_shape) != 2:
                raise ValueError(
                    f"TemporalClustering: mask must be (batch, T); got shape {tuple(mask_shape)}."
                )
        else:
            features_shape = input_shape
        check_video_shape(features_shape, type(self).__name__)

    def call(self, inputs):
        features, mask = self._split(inputs)
        means, sizes = temporal_clustering(features, self.num_clusters, self.method, mask)
        if self.return_cluster_sizes:
            return means, sizes
        return means

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        shape = (input_shape[0], self.num_clusters) + tuple(input_shape[2:])
        if self.return_cluster_sizes:
            return shape, (input_shape[0], self.num_clusters)
        return shape

    def compute_output_spec(self, inputs):
        features, _ = self._split(inputs)
        shape = self.compute_output_shape(features.shape)
        return features_and_counts_spec(shape, self.compute_dtype, self.return_cluster_sizes)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_clusters=self.num_clusters,
            method=self.method,
            return_cluster_sizes=self.return_cluster_sizes,
        )
        return config
