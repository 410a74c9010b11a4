"""What a checkpoint source is: the models it publishes, the zoo model each
converts into, the preprocessing its weights expect, and how its parameter
names spell our layers."""

import dataclasses
from typing import Callable, Dict, Mapping, Optional

import numpy as np

from vidzoo.zoo.presets import Preprocessing

# Given the checkpoint's state and the model being converted, a function from
# our layer name to the reference's module path (None: the source has none).
NameMap = Callable[[str], Optional[str]]


@dataclasses.dataclass(frozen=True)
class SourceModel:
    """One model a source publishes.

    Args:
      zoo_name: the registry model it converts into.
      preprocessing: what its published weights expect.
      arguments: constructor arguments beyond the registry's (X3D's
        `shortcut_norm` for PySlowFast's checkpoints).
    """

    zoo_name: str
    preprocessing: Preprocessing
    arguments: Mapping = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Source:
    """A checkpoint format.

    Args:
      name: the `--source` name.
      title: how its users know it.
      models: `--model` name -> SourceModel.
      name_map: `name_map(state, source_model) -> NameMap`.
      published: where its public checkpoints are.
    """

    name: str
    title: str
    models: Mapping[str, SourceModel]
    name_map: Callable[[Dict[str, np.ndarray], SourceModel], NameMap]
    published: str


def preprocessing(mean, std, frames, stride, resize, crop) -> Preprocessing:
    return Preprocessing(mean=tuple(mean), std=tuple(std), frames=frames, stride=stride,
                         resize=tuple(resize), crop=crop)
