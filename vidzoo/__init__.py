"""vidzoo: efficient video recognition models for Keras 3 and TensorFlow.

Subpackages:
  layers    -- the papers' modules (SGS, SFC, MTConv/MTBlock, self-gating,
               temporal clustering, temporal shift) as serializable Keras layers.
  zoo       -- backbone families and their registry.
  tf_data   -- tf.data video pipelines.
  training  -- fit, evaluation, FLOPs, export and the CLI's jobs.
"""

__version__ = "0.1.0"
