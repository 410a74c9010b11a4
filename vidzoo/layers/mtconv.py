"""Multi-temporal convolutions, seed 003 (Stergiou and Poppe), section III.

* `MTConv`: a local branch L on floor(rC_in) input channels
  (Conv3D + BN + ReLU -> floor(rC_out) channels) and a prolonged branch P with
  the other channels. P takes the local output and the remaining input
  channels, shrinks both 2x in space (SoftPool) and 2x in time (triplet cosine
  frame selection), convolves each (Conv3D + BN), resizes both trilinearly back
  to the local output's size, adds them and applies the activation (computed
  as one resize of the sum, which is equal). The two branches are
  concatenated: [L, P].
* `SoftPool3D`: softmax-weighted pooling, sum_i softmax(a)_i a_i per window.
* `TripletCosineSelection`: per frame the spatial sum of activations; each
  frame's score is its cosine similarity to the previous plus to the next
  frame; the floor(T/2) frames with the lowest scores are kept, in temporal
  order. A clip end has one neighbour; its similarity counts twice.
* `SqueezeAndRecursion`: the block input averaged over space, a 2-layer GRU
  over time, its per-frame outputs multiplying the block's activations.
* `MTBlock`: a bottleneck residual block of three MTConvs (1x1x1, 3x3x3,
  1x1x1) whose output is scaled by `SqueezeAndRecursion` and added to the
  shortcut.

The seed's equations were lost in text extraction; this follows the prose.
The released code differs in places (it keeps the *most* similar frames,
squares the cosine, and uses average pooling); we follow the paper's text. The
GRU is the paper's (Cho et al.) formulation, `reset_after=False`;
`reset_after=True` matches PyTorch's nn.GRU used by the released code.
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_video_shape, spatial_mean, trilinear_resize


def soft_pool(x, pool_size=(1, 2, 2)):
    """SoftPool over windows of `pool_size` (stride = size, 'same' padding).

    Computed in float32 (TF has no float16 CPU kernel for 3D pooling, and the
    exponentials want the range); exp(a - m) with m the per-(clip, channel)
    maximum cancels in the ratio. Zero padding adds nothing to either sum.
    """
    values = ops.cast(x, "float32")
    shift = ops.stop_gradient(ops.max(values, axis=(1, 2, 3), keepdims=True))
    weights = ops.exp(values - shift)
    numerator = ops.average_pool(values * weights, pool_size, pool_size, padding="same")
    denominator = ops.average_pool(weights, pool_size, pool_size, padding="same")
    return ops.cast(numerator / denominator, x.dtype)


def triplet_cosine_scores(x):
    """(N, T, H, W, C) -> (N, T): cos(f_t, f_t-1) + cos(f_t, f_t+1) of frame sums."""
    frames = ops.sum(ops.cast(ops.stop_gradient(x), "float32"), axis=(2, 3))
    unit = frames / ops.maximum(ops.norm(frames, axis=-1, keepdims=True), 1e-6)
    pair = ops.sum(unit[:, 1:] * unit[:, :-1], axis=-1)  # (N, T-1)
    with_previous = ops.concatenate([pair[:, :1], pair], axis=1)
    with_next = ops.concatenate([pair, pair[:, -1:]], axis=1)
    return with_previous + with_next


def take_frames(x, index):
    """(N, T, H, W, C), (N, K) frame indices -> (N, K, H, W, C): clip n's frames index[n].

    One gather of whole frames from the (clip, frame)-flattened tensor.
    `ops.take_along_axis` would broadcast the index to the full output shape
    and gather element by element: that made MTNet-S r = 0.875 about 35 ms
    slower per clip on CPU (docs/mtconv_profile.md).
    """
    shape = ops.shape(x)
    frames_of_clips = ops.reshape(x, (-1,) + tuple(shape[2:]))
    first_frame = ops.arange(ops.shape(index)[0], dtype=index.dtype)[:, None] * shape[1]
    picked = ops.take(frames_of_clips, ops.reshape(index + first_frame, (-1,)), axis=0)
    return ops.reshape(picked, (-1, index.shape[1]) + tuple(shape[2:]))


def triplet_cosine_select(x):
    """Keep the floor(T/2) least self-similar frames, in temporal order (T >= 2)."""
    keep = max(1, x.shape[1] // 2)
    _, index = ops.top_k(-triplet_cosine_scores(x), k=keep, sorted=True)
    return take_frames(x, ops.sort(index, axis=-1))


@keras.saving.register_keras_serializable(package="vidzoo")
class SoftPool3D(layers.Layer):
    """SoftPool (Stergiou et al.) on (batch, T, H, W, C); default 1x2x2 windows."""

    def __init__(self, pool_size=(1, 2, 2), **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(int(s) for s in pool_size)

    def build(self, input_shape):
        check_video_shape(input_shape, type(self).__name__)

    def call(self, inputs):
        return soft_pool(inputs, self.pool_size)

    def compute_output_shape(self, input_shape):
        shape = [input_shape[0]]
        for length, size in zip(input_shape[1:4], self.pool_size):
            shape.append(None if length is None else -(-length // size))
        return tuple(shape) + (input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size)
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class TripletCosineSelection(layers.Layer):
    """Temporal 2x reduction by triplet cosine frame selection; needs T >= 2."""

    def build(self, input_shape):
        input_shape = check_video_shape(input_shape, type(self).__name__, min_frames=2)
        if input_shape[1] is None:
            raise ValueError(
                f"TripletCosineSelection needs a static number of frames; got {input_shape}."
            )

    def call(self, inputs):
        return triplet_cosine_select(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], max(1, input_shape[1] // 2)) + tuple(input_shape[2:])


# PyTorch's BatchNorm3d defaults (momentum 0.1, i.e. Keras 0.9; eps 1e-5), as
# in the released code and the X3D skeleton MTNet is built on. Keras' default
# momentum 0.99 left MTNet's moving statistics 38% at their initial values
# after 96 training steps, and its validation accuracy at chance.
BATCH_NORM = dict(momentum=0.9, epsilon=1e-5)


def _conv_bn(filters, kernel_size, strides, name, dtype):
    conv = layers.Conv3D(filters, kernel_size, strides, padding="same", use_bias=False,
                         name=f"{name}_conv", dtype=dtype)
    norm = layers.BatchNormalization(name=f"{name}_bn", dtype=dtype, **BATCH_NORM)
    return conv, norm


def _build_chain(chain, shape):
    for layer in chain:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


def _reduced_shape(shape):
    """Shape after 1x2x2 SoftPool and 2x frame selection."""
    frames = None if shape[1] is None else max(1, shape[1] // 2)
    return (shape[0], frames, -(-shape[2] // 2), -(-shape[3] // 2), shape[4])


@keras.saving.register_keras_serializable(package="vidzoo")
class MTConv(layers.Layer):
    """Multi-temporal convolution: local and prolonged branches (module doc).

    Args:
      filters: output channels C_out.
      kernel_size: Conv3D kernel of both branches.
      strides: Conv3D strides.
      ratio: r, the local share of the channels (0.875 by default). r = 1
        keeps the local branch alone: a standard Conv3D + BN + activation,
        the paper's reference point in Table VI(a).
      activation: applied to both branches' outputs ("relu"; None for a block's
        last conv before the residual addition).
    """

    def __init__(self, filters, kernel_size=3, strides=1, ratio=0.875, activation="relu",
                 **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"MTConv: ratio must be in (0, 1]; got {ratio}.")
        self.filters = int(filters)
        self.kernel_size = kernel_size
        self.strides = strides
        self.ratio = float(ratio)
        self.activation = activation
        self.local_filters = int(self.filters * self.ratio)
        if self.local_filters < 1 or (self.has_prolonged and
                                      self.filters - self.local_filters < 1):
            raise ValueError(
                f"MTConv: filters={filters} with ratio={ratio} leaves a branch with no "
                "output channels; use more filters."
            )

    def build(self, input_shape):
        input_shape = check_video_shape(input_shape, type(self).__name__, min_frames=2)
        if input_shape[1] is None:
            raise ValueError(f"MTConv needs a static number of frames; got {input_shape}.")
        self.local_in = int(input_shape[-1] * self.ratio)
        if self.local_in < 1 or (self.has_prolonged and input_shape[-1] - self.local_in < 1):
            raise ValueError(
                f"MTConv: {input_shape[-1]} input channels with ratio={self.ratio} leave a "
                "branch with no input channels; the input needs more channels."
            )
        dtype = self.dtype_policy
        self.local = _conv_bn(self.local_filters, self.kernel_size, self.strides, "local", dtype)
        local_in_shape = input_shape[:-1] + (self.local_in,)
        local_out = _build_chain(self.local, local_in_shape)
        self.output_size = tuple(local_out[1:4])
        if not self.has_prolonged:
            return
        prolonged = self.filters - self.local_filters
        self.from_local = _conv_bn(prolonged, self.kernel_size, 1, "prolonged_from_local", dtype)
        self.from_input = _conv_bn(prolonged, self.kernel_size, self.strides,
                                   "prolonged_from_input", dtype)
        rest_in_shape = input_shape[:-1] + (input_shape[-1] - self.local_in,)
        _build_chain(self.from_local, _reduced_shape(local_out))
        _build_chain(self.from_input, _reduced_shape(rest_in_shape))

    @property
    def has_prolonged(self):
        return self.ratio < 1.0

    def _activate(self, x):
        return ops.relu(x) if self.activation == "relu" else x

    @staticmethod
    def _reduce(x):
        return triplet_cosine_select(soft_pool(x)) if x.shape[1] >= 2 else soft_pool(x)

    def call(self, inputs, training=None):
        local_in = inputs[..., : self.local_in]
        rest_in = inputs[..., self.local_in :]
        conv, norm = self.local
        local = self._activate(norm(conv(local_in), training=training))
        if not self.has_prolonged:
            return local
        # Both reduced paths have the same size (pool and select commute with the
        # local conv's spatial stride), and the resize is linear, so the sum is
        # resized once: resize(a) + resize(b) = resize(a + b).
        reduced = 0
        for (conv, norm), source in ((self.from_local, local), (self.from_input, rest_in)):
            reduced = reduced + norm(conv(self._reduce(source)), training=training)
        prolonged = trilinear_resize(reduced, self.output_size)
        return ops.concatenate([local, self._activate(prolonged)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_size + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            ratio=self.ratio,
            activation=self.activation,
        )
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class SqueezeAndRecursion(layers.Layer):
    """Global aggregated feature importance: per-frame GRU gates for activations.

    Call on `[block_input, activations]`; the block input is averaged over space
    and run through `num_layers` stacked GRUs with `units` = activation channels;
    the per-frame outputs multiply the activations (same number of frames).
    """

    def __init__(self, num_layers=2, reset_after=False, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.reset_after = reset_after

    def build(self, input_shape):
        block_shape, act_shape = input_shape
        check_video_shape(block_shape, type(self).__name__)
        check_video_shape(act_shape, type(self).__name__)
        if block_shape[1] != act_shape[1]:
            raise ValueError(
                "SqueezeAndRecursion needs block input and activations with the same "
                f"number of frames; got {tuple(block_shape)} and {tuple(act_shape)}."
            )
        units = act_shape[-1]
        self.grus = []
        shape = (block_shape[0], block_shape[1], block_shape[-1])
        for index in range(self.num_layers):
            gru = layers.GRU(units, return_sequences=True, reset_after=self.reset_after,
                             name=f"gru{index + 1}", dtype=self.dtype_policy)
            gru.build(shape)
            shape = (shape[0], shape[1], units)
            self.grus.append(gru)

    def call(self, inputs):
        block_input, activations = inputs
        gates = spatial_mean(block_input)
        for gru in self.grus:
            gates = gru(gates)
        return activations * gates[:, :, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, reset_after=self.reset_after)
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class MTBlock(layers.Layer):
    """Bottleneck residual block of MTConvs with GRU squeeze-and-recursion.

    x -> MTConv(width, 1x1x1) -> MTConv(width, 3x3x3, stride (1, s, s))
      -> MTConv(filters, 1x1x1, no activation) -> * SqueezeAndRecursion(x)
      -> + shortcut(x) -> ReLU. The shortcut is identity, or a strided 1x1x1
    Conv3D + BN when the shape changes. Only spatial strides (X3D has none in time).
    """

    def __init__(self, filters, width=None, spatial_stride=1, ratio=0.875, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.width = int(width or filters)
        self.spatial_stride = int(spatial_stride)
        self.ratio = float(ratio)

    def build(self, input_shape):
        input_shape = check_video_shape(input_shape, type(self).__name__, min_frames=2)
        stride = (1, self.spatial_stride, self.spatial_stride)
        dtype = self.dtype_policy
        self.convs = [
            MTConv(self.width, 1, ratio=self.ratio, name="mtconv_a", dtype=dtype),
            MTConv(self.width, 3, stride, ratio=self.ratio, name="mtconv_b", dtype=dtype),
            MTConv(self.filters, 1, ratio=self.ratio, activation=None, name="mtconv_c",
                   dtype=dtype),
        ]
        output_shape = _build_chain(self.convs, input_shape)
        self.importance = SqueezeAndRecursion(name="squeeze_recursion", dtype=dtype)
        self.importance.build((input_shape, output_shape))
        self.shortcut = None
        if tuple(input_shape[1:]) != tuple(output_shape[1:]):
            self.shortcut = _conv_bn(self.filters, 1, stride, "shortcut", dtype)
            _build_chain(self.shortcut, input_shape)
        self.output_shape_ = output_shape

    def call(self, inputs, training=None):
        x = inputs
        for conv in self.convs:
            x = conv(x, training=training)
        x = self.importance([inputs, x])
        shortcut = inputs
        if self.shortcut is not None:
            conv, norm = self.shortcut
            shortcut = norm(conv(inputs), training=training)
        return ops.relu(x + shortcut)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.output_shape_[1:])

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, width=self.width,
                      spatial_stride=self.spatial_stride, ratio=self.ratio)
        return config
