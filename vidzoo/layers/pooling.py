"""3D max pooling from 2D max pools, for runtimes without a 3D one.

TFLite has no builtin MAX_POOL_3D (a converted `MaxPooling3D` becomes the
Select TF op `FlexMaxPool3D`, which the LiteRT interpreter cannot run without
the Flex delegate). A max over a (t, h, w) window is the max over t of the
max over (h, w), and "same" padding is chosen per axis, so a 2D max pool per
frame followed by a max pool over time gives the same values with builtins.
`vidzoo export --format tflite` swaps it in (`replace_max_pooling_3d`).
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_choice, check_video_shape


def _triple(value, name):
    value = (value,) * 3 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f"FactorizedMaxPooling3D: {name} must be an int or 3 ints; got {value}.")
    return value


@keras.saving.register_keras_serializable(package="vidzoo")
class FactorizedMaxPooling3D(layers.Layer):
    """`keras.layers.MaxPooling3D` (channels last) as a spatial then a temporal
    2D max pool: the same output, from ops every runtime has.

    Needs static height, width and channels (the frames may vary).
    """

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _triple(pool_size, "pool_size")
        self.strides = _triple(strides if strides is not None else pool_size, "strides")
        self.padding = check_choice(padding.lower(), ("valid", "same"), "padding",
                                    "FactorizedMaxPooling3D")

    def build(self, input_shape):
        check_video_shape(input_shape, "FactorizedMaxPooling3D")
        if None in tuple(input_shape[2:]):
            raise ValueError("FactorizedMaxPooling3D needs a static height, width and channels; "
                             f"got input shape {input_shape}.")

    def call(self, inputs):
        batch, frames = ops.shape(inputs)[0], ops.shape(inputs)[1]
        height, width, channels = inputs.shape[2:]
        pool_t, pool_h, pool_w = self.pool_size
        stride_t, stride_h, stride_w = self.strides
        spatial = ops.reshape(inputs, (-1, height, width, channels))
        spatial = ops.max_pool(spatial, (pool_h, pool_w), (stride_h, stride_w), self.padding)
        out_h, out_w = spatial.shape[1], spatial.shape[2]
        spatial = ops.reshape(spatial, (batch, frames, out_h * out_w, channels))
        pooled = ops.max_pool(spatial, (pool_t, 1), (stride_t, 1), self.padding)
        return ops.reshape(pooled, (batch, -1, out_h, out_w, channels))

    def compute_output_shape(self, input_shape):
        return layers.MaxPooling3D(self.pool_size, self.strides,
                                   self.padding).compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding)
        return config


def replace_max_pooling_3d(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s layers (and weights) with every
    MaxPooling3D replaced by its FactorizedMaxPooling3D."""

    def swap(layer):
        if isinstance(layer, layers.MaxPooling3D):
            if layer.data_format != "channels_last":
                raise ValueError(f"{layer.name}: only channels_last MaxPooling3D is replaced.")
            return FactorizedMaxPooling3D(layer.pool_size, layer.strides, layer.padding,
                                          name=layer.name)
        return layer

    return keras.models.clone_model(model, clone_function=swap)
