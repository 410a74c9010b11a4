"""Temporal Shift Module (TSM; Lin et al., ICCV 2019), the backbone of seed 004.

A fraction 1/`shift_div` of the channels moves one frame along time in each
direction, zero-filled at the clip ends; the rest is unchanged. Channel layout
follows the released TSM code: channels [0, C/8) of frame t take frame t+1's
values, channels [C/8, 2C/8) take frame t-1's.
"""

import keras
from keras import layers, ops

from vidzoo.layers.video_ops import check_video_shape


def temporal_shift(x, shift_div=8):
    """Shift (batch, T, H, W, C) features along time; see module doc."""
    fold = x.shape[-1] // shift_div
    if fold == 0:
        return x
    pad_end = [(0, 0), (0, 1), (0, 0), (0, 0), (0, 0)]
    pad_start = [(0, 0), (1, 0), (0, 0), (0, 0), (0, 0)]
    from_next = ops.pad(x[:, 1:, :, :, :fold], pad_end)
    from_previous = ops.pad(x[:, :-1, :, :, fold : 2 * fold], pad_start)
    return ops.concatenate([from_next, from_previous, x[..., 2 * fold :]], axis=-1)


@keras.saving.register_keras_serializable(package="vidzoo")
class TemporalShift(layers.Layer):
    """Temporal shift on (batch, T, H, W, C) or on (batch*T, H, W, C) frames.

    Args:
      shift_div: 1/shift_div of the channels shift each way (8 in TSM).
      num_frames: required for rank-4 input, where the frames of each clip are
        stacked in the batch axis as a 2D ResNet sees them.
    """

    def __init__(self, shift_div=8, num_frames=None, **kwargs):
        super().__init__(**kwargs)
        if int(shift_div) < 2:
            raise ValueError(f"TemporalShift: shift_div must be >= 2; got {shift_div}.")
        self.shift_div = int(shift_div)
        self.num_frames = num_frames

    def build(self, input_shape):
        if len(input_shape) == 4:
            if not self.num_frames:
                raise ValueError(
                    "TemporalShift on rank-4 input (batch*T, H, W, C) needs num_frames; "
                    f"got input shape {tuple(input_shape)}."
                )
            return
        check_video_shape(input_shape, type(self).__name__)

    def call(self, inputs):
        if len(inputs.shape) == 5:
            return temporal_shift(inputs, self.shift_div)
        frames = ops.reshape(inputs, (-1, self.num_frames) + tuple(inputs.shape[1:]))
        shifted = temporal_shift(frames, self.shift_div)
        return ops.reshape(shifted, (-1,) + tuple(inputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(shift_div=self.shift_div, num_frames=self.num_frames)
        return config
