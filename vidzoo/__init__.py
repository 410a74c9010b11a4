"""vidzoo: efficient video recognition models for Keras 3 and TensorFlow.

Subpackages:
  layers    -- the papers' modules (SGS, SFC, MTConv/MTBlock, self-gating,
               temporal clustering, temporal shift) as serializable Keras layers.
  zoo       -- backbone families (one builder and variant table each), their
               registry, FLOP counting and adaptive accounting.
  tf_data   -- tf.data video pipelines.
  training  -- a run's settings, model, data streams, fit loop and run
               directory; evaluation and export.
  cli, demo -- the applications on top: `vidzoo` and `vidzoo demo`.
"""

__version__ = "0.1.0"
