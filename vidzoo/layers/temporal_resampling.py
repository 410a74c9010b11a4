"""Small temporal resampling layers the zoo's backbones share.

* `PathwaySampler`: SlowFast's slow pathway input, T // alpha frames at
  PySlowFast's `linspace` indices (static T).
* `MatchFrames`: resize a tensor linearly in time to another's length
  (SlowFast laterals once SGS makes the pathways' lengths independent).
* `PairwiseTemporalMean`: TF-slim's reduced 2-frame average pool (stride 1)
  for a length known only at run time (Inception heads after SGS).
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_video_shape, linear_resize_axis


@keras.saving.register_keras_serializable(package="vidzoo")
class PathwaySampler(layers.Layer):
    """Pick T // alpha frames at PySlowFast's indices: linspace(0, T - 1, T // alpha)
    truncated, computed exactly in integers. Needs a static T."""

    def __init__(self, alpha, **kwargs):
        super().__init__(**kwargs)
        self.alpha = int(alpha)
        if self.alpha < 1:
            raise ValueError(f"PathwaySampler: alpha must be >= 1; got {alpha}.")

    def indices(self, frames):
        count = frames // self.alpha
        if count < 1:
            raise ValueError(f"PathwaySampler: {frames} frames is fewer than alpha={self.alpha}.")
        if count == 1:
            return [0]
        return [(i * (frames - 1)) // (count - 1) for i in range(count)]

    def build(self, input_shape):
        check_video_shape(input_shape, "PathwaySampler")
        if input_shape[1] is None:
            raise ValueError("PathwaySampler needs a static number of frames (its indices "
                             f"are fixed at build time); got input shape {tuple(input_shape)}.")

    def call(self, inputs):
        return ops.take(inputs, self.indices(inputs.shape[1]), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // self.alpha) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="vidzoo")
class MatchFrames(layers.Layer):
    """Resize `[x, reference]`'s x linearly in time to the reference's length
    (SlowFast laterals after per-pathway SGS)."""

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError("MatchFrames expects a list [x, reference] of two video "
                             f"tensors; got input shape {input_shape}.")
        for shape in input_shape:
            check_video_shape(shape, "MatchFrames")

    def call(self, inputs):
        x, reference = inputs
        return linear_resize_axis(x, ops.shape(reference)[1], axis=1)

    def compute_output_shape(self, input_shape):
        x_shape, reference_shape = input_shape
        return (x_shape[0], reference_shape[1]) + tuple(x_shape[2:])


@keras.saving.register_keras_serializable(package="vidzoo")
class PairwiseTemporalMean(layers.Layer):
    """Average pool over windows of min(2, T) frames, stride 1, for a length
    known only at run time (after SGS): TF-slim's reduced 2-frame window."""

    def build(self, input_shape):
        check_video_shape(input_shape, "PairwiseTemporalMean")

    def call(self, inputs):
        frames = ops.shape(inputs)[1]
        # A static length (JAX, or TF with T known) keeps the slices static,
        # which jax.jit needs; a run-time one (after SGS on TF) is a tensor.
        window = min(frames, 2) if isinstance(frames, int) else ops.minimum(frames, 2)
        return (inputs[:, : frames - window + 1] + inputs[:, window - 1 :]) / 2

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None) + tuple(input_shape[2:])
