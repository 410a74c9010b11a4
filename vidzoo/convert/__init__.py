"""Converters from the PyTorch video zoos' checkpoints to vidzoo presets
(docs/weights.md). Reading a checkpoint needs PyTorch; the presets they
write load without it (`vidzoo.zoo.load_preset`)."""

from vidzoo.convert.checkpoint import CheckpointError, read_checkpoint
from vidzoo.convert.convert import SOURCES, convert, convert_state
from vidzoo.convert.mapping import CheckpointMismatchError

__all__ = ["CheckpointError", "CheckpointMismatchError", "SOURCES", "convert", "convert_state",
           "read_checkpoint"]
