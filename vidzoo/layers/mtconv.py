"""Multi-temporal convolutions, seed 003 (Stergiou and Poppe), section III.

* `MTConv`: a local branch L on floor(rC_in) input channels (conv + BN +
  activation) and a prolonged branch P on the other ceil((1 - r)C_in). P takes
  the local output (through a 1x1x1 conv + BN lateral, as the released code)
  and the remaining input channels (through the same kind of conv as L, + BN),
  each first shrunk 2x in space (SoftPool) and 2x in time (triplet cosine frame
  selection); their sum is resized trilinearly back to the local output's size
  and activated. Output: the concatenation [L, P]. With `channelwise=True`
  (MTNet's blocks, where X3D has its channelwise 3x3x3 conv) both convs are
  `DepthwiseConv3D`s and the output keeps C_in channels; otherwise they are
  dense Conv3Ds to floor(rC_out) and ceil((1 - r)C_out) channels.
* `SoftPool3D`: softmax-weighted pooling, sum_i softmax(a)_i a_i per window.
* `TripletCosineSelection`: per frame the spatial sum of activations; each
  frame's score is its cosine similarity to the previous plus to the next
  frame; the floor(T/2) frames with the lowest scores are kept, in temporal
  order. A clip end has one neighbour; its similarity counts twice.
* `SqueezeAndRecursion`: a feature map averaged over space, a 2-layer GRU
  over time, its per-frame outputs multiplying activations.
* `MTBlock`: X3D's bottleneck (1x1x1 conv, channelwise 3x3x3, 1x1x1 conv) with
  the channelwise conv an MTConv and squeeze-excitation replaced by
  SqueezeAndRecursion at the inner width.

The seed's equations were lost in text extraction; this follows the prose and
the paper's model sizes (docs/zoo.md). The released code differs in places (it
keeps the *most* similar frames, squares the cosine, and uses average
pooling); we follow the paper's text. The GRU is the paper's (Cho et al.)
formulation, `reset_after=False`; `reset_after=True` matches PyTorch's nn.GRU
used by the released code.
"""

import keras
from keras import layers, ops

from vidzoo.layers.depthwise import DepthwiseConv3D
from vidzoo.layers.pooling import factorized_pool
from vidzoo.layers.video_ops import (
    check_video_shape,
    spatial_mean,
    top_k_indices,
    trilinear_resize,
)


def pool_same(pool, values, pool_size):
    """`pool` (`ops.max_pool` or `ops.average_pool`) over windows of
    `pool_size`, stride = size, 'same' padding. Where H, W and C are static,
    as 2D pools (`factorized_pool`: the same values, and builtins in TFLite,
    which has no 3D pools)."""
    if None in tuple(values.shape[2:]):
        return pool(values, pool_size, pool_size, padding="same")
    return factorized_pool(pool, values, pool_size, pool_size, "same")


def window_maximum(values, pool_size):
    """Each element's window maximum (windows of `pool_size`, stride = size,
    'same' padding), broadcast back to the input's shape."""
    shift = pool_same(ops.max_pool, values, pool_size)
    for axis, size in zip((1, 2, 3), pool_size):
        if size > 1:
            shift = ops.repeat(shift, size, axis=axis)
    return shift[:, : values.shape[1], : values.shape[2], : values.shape[3]]


def soft_pool(x, pool_size=(1, 2, 2)):
    """SoftPool over windows of `pool_size` (stride = size, 'same' padding).

    Computed in float32 (TF has no float16 CPU kernel for 3D pooling, and the
    exponentials want the range); exp(a - m) with m each window's own maximum
    cancels in the ratio and keeps every window's largest weight at 1, so no
    window underflows to 0 / 0 however far it lies below the others. Padding
    adds nothing to either sum.
    """
    values = ops.cast(x, "float32")
    shift = ops.stop_gradient(window_maximum(values, pool_size))
    weights = ops.exp(values - shift)
    numerator = pool_same(ops.average_pool, values * weights, pool_size)
    denominator = pool_same(ops.average_pool, weights, pool_size)
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
    and gather element by element, measurably slower on CPU
    (docs/mtconv_profile.md has the figures).
    """
    shape = ops.shape(x)
    frames_of_clips = ops.reshape(x, (-1,) + tuple(shape[2:]))
    first_frame = ops.arange(ops.shape(index)[0], dtype=index.dtype)[:, None] * shape[1]
    picked = ops.take(frames_of_clips, ops.reshape(index + first_frame, (-1,)), axis=0)
    return ops.reshape(picked, (-1, index.shape[1]) + tuple(shape[2:]))


def triplet_cosine_select(x):
    """Keep the floor(T/2) least self-similar frames, in temporal order (T >= 2)."""
    keep = max(1, x.shape[1] // 2)
    index = top_k_indices(-triplet_cosine_scores(x), keep)
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


def _channelwise_bn(kernel_size, strides, name, dtype):
    """DepthwiseConv3D (spatial stride only) + BN, PyTorch's symmetric padding."""
    kernel_size = (kernel_size,) * 3 if isinstance(kernel_size, int) else tuple(kernel_size)
    strides = (strides,) * 3 if isinstance(strides, int) else tuple(strides)
    if strides[0] != 1 or strides[1] != strides[2]:
        raise ValueError(f"MTConv(channelwise=True) takes spatial strides only; got {strides}.")
    conv = DepthwiseConv3D(kernel_size, strides[1], spatial_padding="valid", name=f"{name}_conv",
                           dtype=dtype)
    conv.spatial_pad = kernel_size[1] // 2
    norm = layers.BatchNormalization(name=f"{name}_bn", dtype=dtype, **BATCH_NORM)
    return conv, norm


def _apply(pair, x, training):
    conv, norm = pair
    pad = getattr(conv, "spatial_pad", 0)
    if pad:
        x = ops.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad), (0, 0)))
    return norm(conv(x), training=training)


def _build_pair(pair, shape):
    conv, norm = pair
    pad = getattr(conv, "spatial_pad", 0)
    if pad:
        shape = (shape[0], shape[1], shape[2] + 2 * pad, shape[3] + 2 * pad, shape[4])
    return _build_chain(pair, shape)


def _build_chain(chain, shape):
    for layer in chain:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


def _reduced_shape(shape):
    """Shape after 1x2x2 SoftPool and 2x frame selection."""
    frames = None if shape[1] is None else max(1, shape[1] // 2)
    return (shape[0], frames, -(-shape[2] // 2), -(-shape[3] // 2), shape[4])


ACTIVATIONS = (None, "relu", "swish")


@keras.saving.register_keras_serializable(package="vidzoo")
class MTConv(layers.Layer):
    """Multi-temporal convolution: local and prolonged branches (module doc).

    Args:
      filters: output channels C_out (dense); None or C_in with `channelwise`.
      kernel_size: kernel of both branches' convs.
      strides: their strides (spatial only when `channelwise`).
      ratio: r, the local share of the channels (0.875 by default). r = 1
        keeps the local branch alone: a standard conv + BN + activation,
        the paper's reference point in Table VI(a).
      activation: "relu" (the paper's), "swish" or None (for a conv followed
        by a gate or a residual addition), applied to both branches.
      channelwise: channelwise (DepthwiseConv3D) branches keeping C_in channels,
        the form MTNet uses in X3D's blocks.
    """

    def __init__(self, filters=None, kernel_size=3, strides=1, ratio=0.875, activation="relu",
                 channelwise=False, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"MTConv: ratio must be in (0, 1]; got {ratio}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MTConv: activation must be one of {ACTIVATIONS}; got "
                             f"{activation!r}.")
        if filters is None and not channelwise:
            raise ValueError("MTConv: filters is required unless channelwise=True.")
        self.filters = None if filters is None else int(filters)
        self.kernel_size = kernel_size
        self.strides = strides
        self.ratio = float(ratio)
        self.activation = activation
        self.channelwise = bool(channelwise)

    @property
    def has_prolonged(self):
        return self.ratio < 1.0

    def _split(self, channels, what):
        local = int(channels * self.ratio)
        if local < 1 or (self.has_prolonged and channels - local < 1):
            raise ValueError(
                f"MTConv: {channels} {what} channels with ratio={self.ratio} leave a branch "
                "with none; use more channels."
            )
        return local

    def build(self, input_shape):
        input_shape = check_video_shape(input_shape, type(self).__name__, min_frames=2)
        if input_shape[1] is None:
            raise ValueError(f"MTConv needs a static number of frames; got {input_shape}.")
        channels = input_shape[-1]
        if self.channelwise and self.filters not in (None, channels):
            raise ValueError(f"MTConv(channelwise=True) keeps its {channels} input channels; "
                             f"got filters={self.filters}.")
        self.output_channels = channels if self.channelwise else self.filters
        self.local_in = self._split(channels, "input")
        self.local_filters = (self.local_in if self.channelwise
                              else self._split(self.output_channels, "output"))
        dtype = self.dtype_policy
        if self.channelwise:
            self.local = _channelwise_bn(self.kernel_size, self.strides, "local", dtype)
        else:
            self.local = _conv_bn(self.local_filters, self.kernel_size, self.strides, "local",
                                  dtype)
        local_out = _build_pair(self.local, input_shape[:-1] + (self.local_in,))
        self.output_size = tuple(local_out[1:4])
        if not self.has_prolonged:
            return
        prolonged = self.output_channels - self.local_filters
        self.from_local = _conv_bn(prolonged, 1, 1, "prolonged_from_local", dtype)
        if self.channelwise:
            self.from_input = _channelwise_bn(self.kernel_size, self.strides,
                                              "prolonged_from_input", dtype)
        else:
            self.from_input = _conv_bn(prolonged, self.kernel_size, self.strides,
                                       "prolonged_from_input", dtype)
        _build_pair(self.from_local, _reduced_shape(local_out))
        _build_pair(self.from_input, _reduced_shape(input_shape[:-1] + (channels - self.local_in,)))

    def _activate(self, x):
        if self.activation == "relu":
            return ops.relu(x)
        if self.activation == "swish":
            return ops.silu(x)
        return x

    @staticmethod
    def _reduce(x):
        return triplet_cosine_select(soft_pool(x)) if x.shape[1] >= 2 else soft_pool(x)

    def call(self, inputs, training=None):
        local = self._activate(_apply(self.local, inputs[..., : self.local_in], training))
        if not self.has_prolonged:
            return local
        # Both reduced paths have the same size (pool and select commute with the
        # local conv's spatial stride), and the resize is linear, so the sum is
        # resized once: resize(a) + resize(b) = resize(a + b).
        reduced = 0
        for pair, source in ((self.from_local, local),
                             (self.from_input, inputs[..., self.local_in :])):
            reduced = reduced + _apply(pair, self._reduce(source), training)
        prolonged = trilinear_resize(reduced, self.output_size)
        return ops.concatenate([local, self._activate(prolonged)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1] if self.channelwise else self.filters
        return (input_shape[0],) + self.output_size + (channels,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            ratio=self.ratio,
            activation=self.activation,
            channelwise=self.channelwise,
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
        # Unrolled over a static number of frames (MTNet's): a handful of steps
        # as plain ops, where a loop costs more (JAX compiles each eager scan
        # anew; tf2onnx and TFLite convert a while loop per GRU).
        unroll = block_shape[1] is not None
        for index in range(self.num_layers):
            gru = layers.GRU(units, return_sequences=True, reset_after=self.reset_after,
                             unroll=unroll, name=f"gru{index + 1}", dtype=self.dtype_policy)
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
    """X3D's bottleneck with an MTConv and GRU squeeze-and-recursion (seed 003).

    x -> 1x1x1 conv (width) + BN + ReLU -> MTConv(channelwise 3x3x3, spatial
      stride s, no activation) -> * SqueezeAndRecursion of itself (a 2-layer GRU
      at the inner width, where X3D has squeeze-excitation) -> swish -> 1x1x1
      conv (filters) + BN -> + shortcut(x) -> ReLU.
    The shortcut is identity, or a strided 1x1x1 conv, + BN when the channels
    change (pytorchvideo's X3D). Only spatial strides (X3D has none in time).
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
        self.conv_a = _conv_bn(self.width, 1, 1, "a", dtype)
        shape = _build_chain(self.conv_a, input_shape)
        self.mtconv = MTConv(None, 3, stride, ratio=self.ratio, activation=None,
                             channelwise=True, name="mtconv_b", dtype=dtype)
        self.mtconv.build(shape)
        shape = self.mtconv.compute_output_shape(shape)
        self.importance = SqueezeAndRecursion(name="squeeze_recursion", dtype=dtype)
        self.importance.build((shape, shape))
        self.conv_c = _conv_bn(self.filters, 1, 1, "c", dtype)
        output_shape = _build_chain(self.conv_c, shape)
        self.shortcut = None
        if input_shape[-1] != self.filters or self.spatial_stride > 1:
            conv = layers.Conv3D(self.filters, 1, stride, use_bias=False, name="shortcut_conv",
                                 dtype=dtype)
            self.shortcut = [conv]
            if input_shape[-1] != self.filters:
                self.shortcut.append(layers.BatchNormalization(name="shortcut_bn", dtype=dtype,
                                                               **BATCH_NORM))
            _build_chain(self.shortcut, input_shape)
        self.output_shape_ = output_shape

    def call(self, inputs, training=None):
        x = ops.relu(_apply(self.conv_a, inputs, training))
        x = self.mtconv(x, training=training)
        x = ops.silu(self.importance([x, x]))
        x = _apply(self.conv_c, x, training)
        shortcut = inputs
        for layer in self.shortcut or ():
            shortcut = (layer(shortcut, training=training)
                        if isinstance(layer, layers.BatchNormalization) else layer(shortcut))
        return ops.relu(x + shortcut)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.output_shape_[1:])

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, width=self.width,
                      spatial_stride=self.spatial_stride, ratio=self.ratio)
        return config
