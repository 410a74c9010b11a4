"""Spatio-temporal self-gating of S3D-G, seed 002 (Xie et al., ECCV 2018), section 4.6.

    Y = sigma(W pool(X) + b) * X

pool averages X over time and space, W is a 1x1x1 convolution (a C x C matrix
on the pooled vector) and the gate is broadcast over time and space. The paper
writes a bias b; TF-slim's released `s3dg.py` has none, so `use_bias=False` is
the default (it is also what the reference parameter counts assume).
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_video_shape


@keras.saving.register_keras_serializable(package="vidzoo")
class SelfGating(layers.Layer):
    """Feature gating: channels scaled by a sigmoid of their space-time average."""

    def __init__(self, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.use_bias = use_bias

    def build(self, input_shape):
        channels = check_video_shape(input_shape, type(self).__name__)[-1]
        self.transform = layers.Dense(
            channels, use_bias=self.use_bias, name="transform", dtype=self.dtype_policy
        )
        self.transform.build((None, channels))

    def call(self, inputs):
        pooled = ops.mean(inputs, axis=(1, 2, 3))
        gate = ops.sigmoid(self.transform(pooled))
        return inputs * gate[:, None, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(use_bias=self.use_bias)
        return config
