"""3D max and average pooling from 2D pools, for runtimes without 3D ones.

TFLite has no builtin MAX_POOL_3D or AVERAGE_POOL_3D (converted, they become
the Select TF ops `FlexMaxPool3D` / `FlexAvgPool3D`, which the LiteRT
interpreter cannot run without the Flex delegate). Both pools are separable:

- max over a (t, h, w) window = max over t of the max over (h, w);
- mean over a window = mean over t of the mean over (h, w). With "same"
  padding the padded cells are left out of the count, and a box's count of
  real cells is (real frames) x (real pixels), so the mean of per-frame means
  is still the window's mean.

"same" padding is chosen per axis, so a 2D pool per frame followed by a pool
over time gives the same values with builtins. `vidzoo export --format tflite`
swaps them in (`replace_pooling_3d`).
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_choice, check_video_shape


def _triple(value, name, owner):
    value = (value,) * 3 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f"{owner}: {name} must be an int or 3 ints; got {value}.")
    return value


def factorized_pool(pool_2d, inputs, pool_size, strides, padding):
    """A 3D pool of (batch, T, H, W, C) as `pool_2d` (`ops.max_pool` or
    `ops.average_pool`) per frame, then over time (skipped for a window and
    stride of 1 in time). Needs static H, W and C."""
    batch, frames = ops.shape(inputs)[0], ops.shape(inputs)[1]
    height, width, channels = inputs.shape[2:]
    pool_t, pool_h, pool_w = pool_size
    stride_t, stride_h, stride_w = strides
    spatial = ops.reshape(inputs, (-1, height, width, channels))
    spatial = pool_2d(spatial, (pool_h, pool_w), (stride_h, stride_w), padding)
    out_h, out_w = spatial.shape[1], spatial.shape[2]
    if (pool_t, stride_t) == (1, 1):
        return ops.reshape(spatial, (batch, frames, out_h, out_w, channels))
    spatial = ops.reshape(spatial, (batch, frames, out_h * out_w, channels))
    pooled = pool_2d(spatial, (pool_t, 1), (stride_t, 1), padding)
    return ops.reshape(pooled, (batch, -1, out_h, out_w, channels))


class _FactorizedPooling3D(layers.Layer):
    """A 3D pool as a spatial 2D pool per frame, then a temporal one."""

    pool_2d = None  # keras.ops.max_pool / keras.ops.average_pool
    keras_layer = None  # the keras.layers class it stands in for

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = _triple(pool_size, "pool_size", owner)
        self.strides = _triple(strides if strides is not None else pool_size, "strides", owner)
        self.padding = check_choice(padding.lower(), ("valid", "same"), "padding", owner)

    def build(self, input_shape):
        owner = type(self).__name__
        check_video_shape(input_shape, owner)
        if None in tuple(input_shape[2:]):
            raise ValueError(f"{owner} needs a static height, width and channels; "
                             f"got input shape {input_shape}.")

    def call(self, inputs):
        return factorized_pool(self.pool_2d, inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        return self.keras_layer(self.pool_size, self.strides,
                                self.padding).compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding)
        return config


@keras.saving.register_keras_serializable(package="vidzoo")
class FactorizedMaxPooling3D(_FactorizedPooling3D):
    """`keras.layers.MaxPooling3D` (channels last) as a spatial then a temporal
    2D max pool: the same output, from ops every runtime has.

    Needs static height, width and channels (the frames may vary).
    """

    pool_2d = staticmethod(ops.max_pool)
    keras_layer = layers.MaxPooling3D


@keras.saving.register_keras_serializable(package="vidzoo")
class FactorizedAveragePooling3D(_FactorizedPooling3D):
    """`keras.layers.AveragePooling3D` (channels last) as a spatial then a
    temporal 2D average pool: the same output ("same" padding's counts too).

    Needs static height, width and channels (the frames may vary).
    """

    pool_2d = staticmethod(ops.average_pool)
    keras_layer = layers.AveragePooling3D


FACTORIZED = {layers.MaxPooling3D: FactorizedMaxPooling3D,
              layers.AveragePooling3D: FactorizedAveragePooling3D}


def replace_pooling_3d(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s layers (and weights) with every MaxPooling3D
    and AveragePooling3D replaced by its factorized form."""

    def swap(layer):
        factorized = FACTORIZED.get(type(layer))
        if factorized is None:
            return layer
        if layer.data_format != "channels_last":
            raise ValueError(f"{layer.name}: only channels_last 3D pools are replaced.")
        return factorized(layer.pool_size, layer.strides, layer.padding, name=layer.name)

    return keras.models.clone_model(model, clone_function=swap)
