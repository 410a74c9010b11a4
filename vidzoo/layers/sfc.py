"""Selective Feature Compression (SFC), seed 001 (Liu, Li et al., ICCV 2021), 3.1.

SFC sits between a frozen backbone's head and tail and compresses the head's
features along time by tau:

    F_abs = Theta_abs(F_head)                              (abstraction)
    M = softmax(theta_q(pool(q))^T theta_k(k)),  q = k = F_abs      (5)
    Phi = M v,  v = F_head (untransformed)                   (3), (4)

Output: (batch, T/tau, H, W, C), the shape a frozen tail expects after a
temporal stride of tau.

No public code exists. Choices made where the paper leaves them open:

* Theta_abs: two bottleneck 3D residual blocks (1x1x1 -> 3x3x3 -> 1x1x1 with
  BatchNorm, width C/4, identity shortcut, ReLU). The paper says "two ResNet
  blocks"; with C = 512 (I3D-R50 res3) this adds ~1.2M parameters, the same
  order as the ~1.9M implied by its Table 6d.
* theta_q, theta_k: (3x1x1) Conv3D with C output channels and bias; Table
  6d's parameter differences (1x1x1 vs 3x1x1 vs 3x3x3) fit C -> C exactly.
* Attention over time: each of the T/tau query steps attends over the T key
  steps, the dot product running over all of H x W x C ("reshape Gamma" in
  Fig. 3), softmax over the T keys. By default (`scaled=True`) the logits are
  divided by sqrt(H W C), a departure from eq. 5: unscaled dot products over
  thousands of elements make the softmax one-hot, so each query copies one
  frame and theta_q gets almost no gradient. `scaled=False` is eq. 5 as written.
* TopK pooling ("the top T/tau highest activated features along time"):
  `topk="element"` (default, the literal pooling reading) keeps, for every
  (h, w, c) element independently, its floor(T/tau) largest values over time
  in temporal order, so one pooled step can mix several frames;
  `topk="frame"` ranks whole time steps by their mean activation and keeps the
  top floor(T/tau) frames whole, in temporal order.
* BatchNorm in Theta_abs uses PyTorch's defaults (momentum 0.1 = Keras 0.9,
  eps 1e-5), as the rest of the zoo.
"""

import math

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_choice, check_video_shape, top_k_indices

TOPK_MODES = ("element", "frame")


def pooled_length(frames, tau):
    """floor(T / tau), at least 1 (a small tolerance absorbs tau = 4/3 round-off)."""
    return max(1, int(math.floor(frames / tau + 1e-6)))


def topk_pool_time(x, k):
    """Per element, the k largest values over axis 1, kept in temporal order."""
    by_time_last = ops.moveaxis(x, 1, -1)
    index = ops.sort(top_k_indices(by_time_last, k), axis=-1)
    picked = ops.take_along_axis(by_time_last, index, axis=-1)
    return ops.moveaxis(picked, -1, 1)


def topk_frames(x, k):
    """The k time steps of highest mean activation, whole and in temporal order."""
    score = ops.mean(ops.cast(x, "float32"), axis=(2, 3, 4))  # (N, T)
    index = ops.sort(top_k_indices(score, k), axis=-1)
    return ops.take_along_axis(x, index[:, :, None, None, None], axis=1)


def compression_attention(query, key, value, scaled=False):
    """Eqs. (4)-(5): M = softmax over keys of query . key, output M v.

    query (N, T', ...), key (N, T, ...) are flattened per time step; value is
    (N, T, H, W, C). Returns the output (N, T', H, W, C) and M (N, T', T).
    """
    batch = ops.shape(value)[0]
    size = math.prod(query.shape[2:])  # H W C, static even when the batch is not
    query = ops.cast(ops.reshape(query, (batch, query.shape[1], -1)), "float32")
    key = ops.cast(ops.reshape(key, (batch, key.shape[1], -1)), "float32")
    logits = ops.einsum("nqd,nkd->nqk", query, key)
    if scaled:
        logits = logits / math.sqrt(size)
    attention = ops.softmax(logits, axis=-1)
    outputs = ops.einsum("nqk,nkhwc->nqhwc", ops.cast(attention, value.dtype), value)
    return outputs, attention


@keras.saving.register_keras_serializable(package="vidzoo")
class TopKPooling(layers.Layer):
    """TopK pooling along time with downsample ratio (tau, 1, 1); needs static T.

    Args:
      tau: downsample ratio; floor(T / tau) steps are kept.
      mode: "element" (top values per (h, w, c) element) or "frame" (top time
        steps by mean activation, kept whole).
    """

    def __init__(self, tau=2.0, mode="element", **kwargs):
        super().__init__(**kwargs)
        if tau < 1:
            raise ValueError(f"TopKPooling: tau must be >= 1; got {tau}.")
        self.tau = float(tau)
        self.mode = check_choice(mode, TOPK_MODES, "mode", "TopKPooling")

    def build(self, input_shape):
        input_shape = check_video_shape(input_shape, type(self).__name__)
        if input_shape[1] is None:
            raise ValueError(
                "TopKPooling needs a static number of frames to size its output; "
                f"got input shape {input_shape}."
            )

    def call(self, inputs):
        pool = topk_pool_time if self.mode == "element" else topk_frames
        return pool(inputs, pooled_length(inputs.shape[1], self.tau))

    def compute_output_shape(self, input_shape):
        frames = pooled_length(input_shape[1], self.tau)
        return (input_shape[0], frames) + tuple(input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update(tau=self.tau, mode=self.mode)
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class BottleneckBlock3D(layers.Layer):
    """3D ResNet bottleneck block (1x1x1, 3x3x3, 1x1x1 + identity), stride 1."""

    def __init__(self, width_ratio=0.25, **kwargs):
        super().__init__(**kwargs)
        self.width_ratio = float(width_ratio)

    def build(self, input_shape):
        channels = check_video_shape(input_shape, type(self).__name__)[-1]
        width = max(1, int(channels * self.width_ratio))
        spec = [(width, 1), (width, 3), (channels, 1)]
        self.convs, self.norms = [], []
        shape = tuple(input_shape)
        for index, (filters, size) in enumerate(spec):
            conv = layers.Conv3D(
                filters, size, padding="same", use_bias=False,
                name=f"conv{index + 1}", dtype=self.dtype_policy,
            )
            norm = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn{index + 1}",
                                             dtype=self.dtype_policy)
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            norm.build(shape)
            self.convs.append(conv)
            self.norms.append(norm)

    def call(self, inputs, training=None):
        x = inputs
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = norm(conv(x), training=training)
            if index < len(self.convs) - 1:
                x = ops.relu(x)
        return ops.relu(x + inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(width_ratio=self.width_ratio)
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class SelectiveFeatureCompression(layers.Layer):
    """SFC: compress (batch, T, H, W, C) head features to (batch, T/tau, H, W, C).

    Args:
      tau: temporal compression ratio (2 by default; 4/3, 2, 4 in Table 3).
      abstraction_blocks: residual blocks in Theta_abs (2 in the paper).
      bottleneck_ratio: width of those blocks relative to C.
      scaled: divide attention logits by sqrt(H W C) (default; False is eq. 5
        as written, whose softmax saturates on large feature maps).
      topk: TopK pooling mode, "element" or "frame" (see `TopKPooling`).
      return_attention: also return M, (batch, T/tau, T).
    """

    def __init__(
        self, tau=2.0, abstraction_blocks=2, bottleneck_ratio=0.25, scaled=True,
        topk="element", return_attention=False, **kwargs,
    ):
        super().__init__(**kwargs)
        if tau < 1:
            raise ValueError(f"SelectiveFeatureCompression: tau must be >= 1; got {tau}.")
        self.tau = float(tau)
        self.abstraction_blocks = int(abstraction_blocks)
        self.bottleneck_ratio = float(bottleneck_ratio)
        self.scaled = bool(scaled)
        self.topk = check_choice(topk, TOPK_MODES, "topk", type(self).__name__)
        self.return_attention = return_attention

    def build(self, input_shape):
        input_shape = check_video_shape(input_shape, type(self).__name__)
        if input_shape[1] is None:
            raise ValueError(
                "SelectiveFeatureCompression needs a static number of frames (T/tau "
                f"sizes its output); got input shape {input_shape}."
            )
        channels = input_shape[-1]
        self.abstraction = [
            BottleneckBlock3D(self.bottleneck_ratio, name=f"abstraction{i + 1}",
                              dtype=self.dtype_policy)
            for i in range(self.abstraction_blocks)
        ]
        for block in self.abstraction:
            block.build(input_shape)
        self.pool = TopKPooling(self.tau, self.topk, name="topk_pool", dtype=self.dtype_policy)
        self.theta_q = layers.Conv3D(channels, (3, 1, 1), padding="same", name="theta_q",
                                     dtype=self.dtype_policy)
        self.theta_k = layers.Conv3D(channels, (3, 1, 1), padding="same", name="theta_k",
                                     dtype=self.dtype_policy)
        self.pool.build(input_shape)
        self.theta_q.build(self.pool.compute_output_shape(input_shape))
        self.theta_k.build(input_shape)

    def call(self, inputs, training=None):
        abstract = inputs
        for block in self.abstraction:
            abstract = block(abstract, training=training)
        query = self.theta_q(self.pool(abstract))
        key = self.theta_k(abstract)
        outputs, attention = compression_attention(query, key, inputs, self.scaled)
        if self.return_attention:
            return outputs, attention
        return outputs

    def compute_output_shape(self, input_shape):
        frames = pooled_length(input_shape[1], self.tau)
        shape = (input_shape[0], frames) + tuple(input_shape[2:])
        if self.return_attention:
            return shape, (input_shape[0], frames, input_shape[1])
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(
            tau=self.tau,
            abstraction_blocks=self.abstraction_blocks,
            bottleneck_ratio=self.bottleneck_ratio,
            scaled=self.scaled,
            topk=self.topk,
            return_attention=self.return_attention,
        )
        return config
