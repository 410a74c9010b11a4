"""Gradient checkpointing for a segment of a network (recompute instead of store).

Training on every frame of a video (seed 004) keeps the early, full-length
stages' activations for the backward pass. `Recompute` runs a segment (a
Keras model, e.g. one residual block) so that the backward pass keeps only
the segment's input and recomputes its inside (Chen et al., "Training deep nets
with sublinear memory cost", 2016, the paper's ref. [4]): one more forward
pass of the segment per step for its activation memory.

Not among `vidzoo.layers`' exports: it trains on TensorFlow only, and every
exported layer trains on every backend (tests/test_backends.py).
"""

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="vidzoo")
class Recompute(layers.Layer):
    """Calls `segment`; in training, its activations are recomputed in the
    backward pass instead of kept.

    BatchNorm moving statistics inside the segment update once per step, as
    without recomputation: `keras.remat` alone would update them a second time
    when it recomputes, so the recomputation restores them after itself.
    Training needs the TensorFlow backend (as `vidzoo.training` does): on JAX,
    `keras.remat` of a segment with BatchNorm leaks a tracer (its state update
    is a side effect inside `jax.checkpoint`), and on torch the statistics
    would update twice; both raise. Inference runs on every backend.

    Args:
      segment: a built Keras model or layer taking and returning one tensor.
    """

    def __init__(self, segment, **kwargs):
        super().__init__(**kwargs)
        if isinstance(segment, dict):
            segment = keras.saving.deserialize_keras_object(segment)
        if not isinstance(segment, layers.Layer):
            raise ValueError(f"Recompute: `segment` must be a Keras model or layer; got "
                             f"{type(segment).__name__}.")
        self.segment = segment

    def build(self, input_shape):
        if not self.segment.built:
            self.segment.build(input_shape)

    def call(self, inputs, training=None):
        if not training:
            return self.segment(inputs, training=training)
        backend = keras.backend.backend()
        if backend != "tensorflow":
            raise NotImplementedError(
                f"Recompute trains on the TensorFlow backend only; got {backend!r}, where "
                "recomputing a segment with BatchNorm breaks its moving statistics (a "
                "tracer leak on JAX, a double update on torch). Train without recompute, "
                "or with TensorFlow.")
        return _recompute_tensorflow(self.segment, inputs)

    def compute_output_shape(self, input_shape):
        return self.segment.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["segment"] = keras.saving.serialize_keras_object(self.segment)
        return config


def _recompute_tensorflow(segment, inputs):
    """`tf.recompute_grad` (what `keras.remat` uses on TensorFlow) of the
    segment, whose second call (the recomputation, in the backward pass)
    restores the moving statistics it updated again. `tf.*` because
    `keras.remat` has no hook for that restore."""
    import tensorflow as tf

    state = [variable.value for variable in segment.non_trainable_variables]
    calls = []

    def run(x):
        calls.append(x)
        if len(calls) == 1:  # the forward pass
            return segment(x, training=True)
        saved = [tf.identity(value) for value in state]
        outputs = segment(x, training=True)
        with tf.control_dependencies([outputs]):
            restores = [value.assign(snapshot, read_value=False)
                        for value, snapshot in zip(state, saved)]
        with tf.control_dependencies([op for op in restores if op is not None]):
            return tf.identity(outputs)

    return tf.recompute_grad(run)(inputs)
