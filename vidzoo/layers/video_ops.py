"""Small shared helpers for video layers: input checks and backend-neutral ops.

Every layer in `vidzoo.layers` takes channels-last video features
`(batch, time, height, width, channels)`; the checks here turn a wrong input
into a ValueError that names the layer and what it expected.
"""

import keras
from keras import ops

TIME_AXIS = 1


def check_video_shape(input_shape, layer_name, min_frames=1):
    """Raise ValueError unless `input_shape` is 5-D with >= `min_frames` frames."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 5:
        raise ValueError(
            f"{layer_name} expects channels-last video features of shape "
            f"(batch, time, height, width, channels), i.e. rank 5; got shape "
            f"{input_shape} (rank {len(input_shape)})."
        )
    frames = input_shape[TIME_AXIS]
    if frames is not None and frames < min_frames:
        raise ValueError(
            f"{layer_name} needs at least {min_frames} frame(s) along axis 1; "
            f"got input shape {input_shape}."
        )
    if input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} needs a known channel dimension; got shape {input_shape}."
        )
    return input_shape


def check_choice(value, choices, argument, layer_name):
    """Raise ValueError unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"{layer_name}: `{argument}` must be one of {sorted(choices)}; got {value!r}."
        )
    return value


def spatial_mean(x):
    """(batch, time, h, w, c) -> (batch, time, c): average over space per frame."""
    return ops.mean(x, axis=(2, 3))


def linear_resize_axis(x, size, axis):
    """Linearly resize `x` along one `axis` to `size` samples.

    Half-pixel centres without antialiasing, the convention of PyTorch's
    `interpolate(mode="linear"/"trilinear", align_corners=False)` and of
    `tf.image.resize(method="bilinear")`. Works with dynamic lengths.
    """
    in_len = ops.shape(x)[axis]
    if isinstance(in_len, int) and isinstance(size, int) and in_len == size:
        return x
    in_len_f = ops.cast(in_len, "float32")
    scale = in_len_f / ops.cast(size, "float32")
    position = (ops.cast(ops.arange(size), "float32") + 0.5) * scale - 0.5
    position = ops.clip(position, 0.0, in_len_f - 1.0)
    lower = ops.cast(ops.floor(position), "int32")
    upper = ops.minimum(lower + 1, ops.cast(in_len, "int32") - 1)
    frac = position - ops.cast(lower, "float32")
    frac_shape = [1] * len(x.shape)
    frac_shape[axis] = -1
    frac = ops.cast(ops.reshape(frac, frac_shape), x.dtype)
    below = ops.take(x, lower, axis=axis)
    above = ops.take(x, upper, axis=axis)
    return below + (above - below) * frac


def trilinear_resize(x, size):
    """Resize (batch, time, h, w, c) to `size` = (time, h, w), trilinearly."""
    for axis, length in zip((1, 2, 3), size):
        x = linear_resize_axis(x, length, axis)
    return x


def features_and_counts_spec(shape, dtype, with_counts):
    """Output spec of a layer returning features and, optionally, int32 counts.

    `shape` is the layer's compute_output_shape result: one shape, or a pair
    (features shape, counts shape) when `with_counts`.
    """
    if with_counts:
        return (keras.KerasTensor(shape[0], dtype=dtype), keras.KerasTensor(shape[1], dtype="int32"))
    return keras.KerasTensor(shape, dtype=dtype)


def top_k_indices(x, k):
    """Indices of the k largest values along the last axis, largest first;
    equal values go to the lower index, on every backend. TF's and JAX's
    top_k promise that order; torch.topk leaves ties in no set order (ReLU
    zeros, or the +-1 cosines of 1-channel frames, would then pick other
    frames), so there a stable sort decides."""
    if keras.backend.backend() in ("tensorflow", "jax"):
        return ops.top_k(x, k=k, sorted=True)[1]
    return ops.argsort(-x, axis=-1)[..., :k]

