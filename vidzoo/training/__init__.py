"""Training, evaluation, FLOPs and export. Not built yet; see `vidzoo.cli`."""
