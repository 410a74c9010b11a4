"""tf.data video pipelines (decode, sample, augment, records). Not built yet."""
