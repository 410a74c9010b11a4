"""Channelwise 3D convolution, fast on TensorFlow CPU.

Keras `Conv3D(groups=C)` (X3D's 3x3x3 channelwise conv) runs on
TF CPU through a slow XLA fallback. `DepthwiseConv3D` computes the same thing
as a sum of depthwise 2D convolutions, one per temporal kernel offset, and
stores its kernel in Conv3D(groups=C)'s layout (kt, kh, kw, 1, C) so weights
move between the two unchanged.

Its gradient is written out too (`keras.ops.custom_gradient`): autodiff of a
depthwise 2D conv differentiates the input with TF's
DepthwiseConv2dNativeBackpropInput, which on CPU is about 20x slower than the
forward conv. The input gradient of a correlation is a correlation of the
(zero-upsampled) output gradient with the flipped kernel, so we compute it
with the same fast forward op; the kernel gradient is a depthwise correlation
of the input with the output gradient as the filter.
benchmarks/depthwise_benchmark.py measures forward and training step.
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_video_shape


def _triple(value):
    return (value,) * 3 if isinstance(value, int) else tuple(value)


def same_padding(size, kernel, stride):
    """TF 'same' zero padding (before, after) of one spatial axis."""
    outputs = -(-size // stride)
    total = max((outputs - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def channelwise_correlation(x, kernel, pads, spatial_stride=1):
    """Channelwise 3D correlation of zero-padded x (N, T, H, W, C), 'valid'.

    kernel: (kt, kh, kw, 1, C); pads: ((t0, t1), (h0, h1), (w0, w1)); the
    temporal stride is 1 and the spatial stride `spatial_stride`.

    A purely temporal kernel (kh = kw = 1, no spatial stride or padding) is one
    depthwise 2D conv over the (T, H*W) image of each clip. Otherwise it is
    the sum over temporal offsets of depthwise 2D convs whose outputs are
    shifted in time, TF-'same' spatial padding left to the conv: no padded or
    shifted copy of the input (profiled on X3D-S: those copies were a fifth
    of its time).
    """
    kt, kh, kw = kernel.shape[:3]
    spatial_pads = tuple(tuple(pad) for pad in pads[1:])
    plain = spatial_stride == 1 and all(pad == (0, 0) for pad in spatial_pads)
    if kh == kw == 1 and plain and tuple(pads[0]) == ((kt - 1) // 2, kt // 2):
        return _temporal_correlation(x, kernel)
    height, width = x.shape[2], x.shape[3]
    if spatial_pads == (same_padding(height, kh, spatial_stride),
                        same_padding(width, kw, spatial_stride)):
        padding = "same"  # the conv pads as TF does, without a padded copy
    else:
        padding = "valid"
        if any(pad != (0, 0) for pad in spatial_pads):
            x = ops.pad(x, [(0, 0), (0, 0), *spatial_pads, (0, 0)])
    return _offset_sum_correlation(x, kernel, pads[0], spatial_stride, padding)


def _temporal_correlation(x, kernel):
    """A (kt, 1, 1) kernel with TF 'same' time padding: one depthwise 2D conv
    of each clip's (T, H*W) image."""
    batch, frames = ops.shape(x)[0], ops.shape(x)[1]
    height, width, channels = x.shape[2], x.shape[3], x.shape[4]
    image = ops.reshape(x, (batch, frames, height * width, channels))
    filters = ops.reshape(kernel, (kernel.shape[0], 1, channels, 1))
    outputs = ops.depthwise_conv(image, filters, 1, padding="same")
    return ops.reshape(outputs, (batch, frames, height, width, channels))


def _offset_sum_correlation(x, kernel, time_pads, spatial_stride, padding):
    """Channelwise correlation with zero time padding `time_pads` and spatial
    `padding` ("same" or "valid"): output frame t sums offset k's 2D conv of
    input frame t + k - time_pads[0] (zero outside the clip). Each offset
    convolves every frame at once, (N*T, H, W, C) being a free reshape, and
    its output frames are shifted into place: no shifted copy of the input
    per offset, and never an empty batch (which TF's CPU kernel returns
    unconvolved)."""
    batch = ops.shape(x)[0]
    height, width, channels = x.shape[2], x.shape[3], x.shape[4]
    before, after = time_pads
    extra = before + after - kernel.shape[0] + 1  # output frames minus input frames
    rows = ops.reshape(x, (-1, height, width, channels))
    # (kt, kh, kw, 1, C) -> kt depthwise filters (kh, kw, C, 1): a reshape, as the 1 moves.
    per_offset = ops.unstack(ops.reshape(kernel, kernel.shape[:3] + (channels, 1)), axis=0)
    total = None
    for offset, filters in enumerate(per_offset):
        partial = ops.depthwise_conv(rows, filters, spatial_stride, padding=padding)
        partial = ops.reshape(partial, (batch, -1) + tuple(partial.shape[1:]))
        partial = _shifted_frames(partial, offset - before, extra)
        total = partial if total is None else total + partial
    return total


def _shifted_frames(x, shift, extra):
    """Clips (N, T, ...) whose output frame t holds input frame t + shift,
    zero where that is outside the clip; T + extra output frames. Zero-pads,
    then slices with bounds counted from either end, so an unknown number of
    frames needs no shape arithmetic (ops that cost as much as the conv on
    short clips)."""
    if shift == 0 and extra == 0:
        return x  # the middle offset of a 'same' conv: every frame reads itself
    before = max(0, -shift)
    after = max(0, shift + extra)
    padded = ops.pad(x, [(0, 0), (before, after)] + [(0, 0)] * (len(x.shape) - 2))
    end = shift + extra - after  # <= 0: frames counted from the end
    return padded[:, shift + before : end if end else None]


def _zero_upsample(x, stride, axis):
    """Insert stride - 1 zeros between the entries of x along `axis` (H or W)."""
    if stride == 1:
        return x
    interleaved = ops.stack([x] + [ops.zeros_like(x)] * (stride - 1), axis=axis + 1)
    shape = list(ops.shape(x))
    length = x.shape[axis]
    shape[axis] = length * stride
    upsampled = ops.reshape(interleaved, shape)
    keep = [slice(None)] * len(x.shape)
    keep[axis] = slice(0, (length - 1) * stride + 1)
    return upsampled[tuple(keep)]


def _input_gradient(upstream, kernel, pads, stride, input_hw):
    """d loss / d x: the upsampled output gradient correlated with the flipped kernel."""
    kh, kw = kernel.shape[1:3]
    grad = _zero_upsample(_zero_upsample(upstream, stride, 2), stride, 3)
    grad_pads = [pads[0][::-1]]
    for (before, _), size, k, length in zip(pads[1:], input_hw, (kh, kw), grad.shape[2:4]):
        # Pad so the 'valid' correlation yields `size` outputs: k - 1 + size - length in all.
        grad_pads.append((k - 1 - before, size + before - length))
    return channelwise_correlation(grad, ops.flip(kernel, axis=(0, 1, 2)), grad_pads)


def _kernel_gradient(x, upstream, kernel_size, pads, stride):
    """d loss / d kernel, summed over batch, frames and positions.

    For each temporal offset, a depthwise 2D correlation whose "channels" are
    (clip, frame, channel) triples: the padded input is the image and the
    output gradient (dilated by the stride) is the filter.
    """
    kt, kh, kw = kernel_size
    channels = x.shape[-1]
    padded = ops.pad(x, [(0, 0), *pads, (0, 0)])
    image = ops.transpose(padded, (2, 3, 0, 1, 4))  # (Hp, Wp, N, Tp, C)
    frames = ops.shape(upstream)[1]
    filters = ops.reshape(ops.transpose(upstream, (2, 3, 0, 1, 4)),
                          (upstream.shape[2], upstream.shape[3], -1, 1))
    per_offset = []
    for offset in range(kt):
        window = ops.reshape(image[:, :, :, offset : offset + frames],
                             (1, image.shape[0], image.shape[1], -1))
        products = ops.depthwise_conv(window, filters, 1, padding="valid",
                                      dilation_rate=stride)[0, :kh, :kw]
        per_offset.append(ops.sum(ops.reshape(products, (kh, kw, -1, channels)), axis=2))
    return ops.expand_dims(ops.stack(per_offset), 3)


def channelwise_conv3d(x, kernel, pads, stride):
    """channelwise_correlation with the explicit gradient described above."""
    kernel_size = tuple(kernel.shape[:3])
    input_hw = tuple(x.shape[2:4])

    @ops.custom_gradient
    def forward(inputs, weights):
        def gradient(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            return (_input_gradient(upstream, weights, pads, stride, input_hw),
                    _kernel_gradient(inputs, upstream, kernel_size, pads, stride))

        return channelwise_correlation(inputs, weights, pads, stride), gradient

    return forward(x, kernel)


@keras.saving.register_keras_serializable(package="vidzoo")
class DepthwiseConv3D(layers.Layer):
    """Channelwise Conv3D, 'same' padding in time; spatial strides only (temporal 1).

    Args:
      kernel_size: (kt, kh, kw) or an int.
      strides: (1, sh, sw) or an int applied to space (sh == sw).
      use_bias: add a per-channel bias.
      spatial_padding: "same" (TF) or "valid"; time is always padded "same".
        PyTorch-defined models pad space symmetrically with ZeroPadding3D
        first and use "valid".
    """

    def __init__(self, kernel_size=3, strides=1, use_bias=False,
                 kernel_initializer="he_normal", spatial_padding="same", **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = _triple(kernel_size)
        strides = _triple(strides) if not isinstance(strides, int) else (1, strides, strides)
        if strides[0] != 1 or strides[1] != strides[2]:
            raise ValueError(
                "DepthwiseConv3D supports temporal stride 1 and equal spatial strides only; "
                f"got {strides}."
            )
        self.strides = strides
        self.use_bias = use_bias
        if spatial_padding not in ("same", "valid"):
            raise ValueError(
                f"DepthwiseConv3D: spatial_padding must be 'same' or 'valid'; got "
                f"{spatial_padding!r}."
            )
        self.spatial_padding = spatial_padding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        shape = check_video_shape(input_shape, type(self).__name__)
        if shape[2] is None or shape[3] is None:
            raise ValueError(
                f"DepthwiseConv3D needs a static height and width; got input shape {input_shape}."
            )
        channels = shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (1, channels),
            initializer=self.kernel_initializer,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(channels,), initializer="zeros")
            if self.use_bias else None
        )

    def _pads(self, height, width):
        kt, kh, kw = self.kernel_size
        temporal = ((kt - 1) // 2, kt - 1 - (kt - 1) // 2)
        if self.spatial_padding == "valid":
            return (temporal, (0, 0), (0, 0))
        stride = self.strides[1]
        return (temporal, same_padding(height, kh, stride), same_padding(width, kw, stride))

    def call(self, inputs):
        kernel = ops.convert_to_tensor(ops.cast(self.kernel, inputs.dtype))
        pads = self._pads(inputs.shape[2], inputs.shape[3])
        outputs = channelwise_conv3d(inputs, kernel, pads, self.strides[1])
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        height, width = input_shape[2], input_shape[3]
        if self.spatial_padding == "valid":
            height, width = height - self.kernel_size[1] + 1, width - self.kernel_size[2] + 1
        height = -(-height // self.strides[1])
        width = -(-width // self.strides[2])
        return (input_shape[0], input_shape[1], height, width, input_shape[4])

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size, strides=self.strides, use_bias=self.use_bias,
            spatial_padding=self.spatial_padding,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
