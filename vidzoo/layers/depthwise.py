"""Channelwise 3D convolution, fast on TensorFlow CPU.

Keras `Conv3D(groups=C)` (X3D's and MTNet's 3x3x3 channelwise conv) runs on
TF CPU through a slow XLA fallback. `DepthwiseConv3D` computes the same thing
as a sum of depthwise 2D convolutions, one per temporal kernel offset, and
stores its kernel in Conv3D(groups=C)'s layout (kt, kh, kw, 1, C) so weights
move between the two unchanged. benchmarks/depthwise_benchmark.py measures it.
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_video_shape


def _triple(value):
    return (value,) * 3 if isinstance(value, int) else tuple(value)


@keras.saving.register_keras_serializable(package="vidzoo")
class DepthwiseConv3D(layers.Layer):
    """Channelwise Conv3D, 'same' padding; spatial strides only (temporal 1).

    Args:
      kernel_size: (kt, kh, kw) or an int.
      strides: (1, sh, sw) or an int applied to space.
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
        if strides[0] != 1:
            raise ValueError(f"DepthwiseConv3D supports temporal stride 1 only; got {strides}.")
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
        channels = check_video_shape(input_shape, type(self).__name__)[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (1, channels),
            initializer=self.kernel_initializer,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(channels,), initializer="zeros")
            if self.use_bias else None
        )

    def call(self, inputs):
        kt = self.kernel_size[0]
        before = (kt - 1) // 2
        padded = ops.pad(inputs, [(0, 0), (before, kt - 1 - before), (0, 0), (0, 0), (0, 0)])
        frames = ops.shape(inputs)[1]
        height, width, channels = inputs.shape[2], inputs.shape[3], inputs.shape[4]
        kernel = ops.cast(self.kernel, inputs.dtype)
        total = 0
        for offset in range(kt):
            window = ops.reshape(padded[:, offset : offset + frames], (-1, height, width, channels))
            filters = ops.transpose(kernel[offset], (0, 1, 3, 2))  # (kh, kw, C, 1)
            total = total + ops.depthwise_conv(window, filters, self.strides[1:],
                                                  padding=self.spatial_padding)
        out_h, out_w = total.shape[1], total.shape[2]
        outputs = ops.reshape(total, (-1, frames, out_h, out_w, channels))
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
