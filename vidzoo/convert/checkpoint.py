"""Reading PyTorch checkpoints as {parameter name: numpy array}.

The formats the video zoos publish:
* torchvision: a bare state_dict (`.pth`);
* pytorchvideo hub and PySlowFast: a dict with the state_dict under
  "model_state" (`.pyth`), next to the optimizer state and the config;
* temporal-shift-module and MMAction2: under "state_dict"; models trained
  with DataParallel prefix every name with "module.".

Reading needs PyTorch (`torch.load`), imported only here. Files are read with
`weights_only=True` (no arbitrary code runs); a checkpoint that pickles other
objects needs `trust_checkpoint=True`.
"""

import os
from typing import Dict

import numpy as np

STATE_KEYS = ("model_state", "state_dict", "model")
IGNORED_SUFFIXES = ("num_batches_tracked",)


class CheckpointError(ValueError):
    """The file is not a checkpoint of the expected kind."""


def _torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError("vidzoo.convert reads PyTorch checkpoints and needs PyTorch: "
                          "pip install torch") from error
    return torch


def load_torch_file(path: str, trust_checkpoint: bool = False):
    """torch.load of `path` on the CPU, with clear errors for files that are
    missing, not a checkpoint, or need unpickling beyond tensors."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist.")
    torch = _torch()
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
    except Exception as error:  # torch raises many kinds (pickle, zip, runtime)
        hint = ("" if trust_checkpoint else
                " If it is a checkpoint you trust that pickles other objects (a config "
                "object, numpy values), pass trust_checkpoint=True (--trust_checkpoint).")
        raise CheckpointError(f"{path!r} could not be read as a PyTorch checkpoint "
                              f"({type(error).__name__}: {str(error)[:200]}).{hint}") from error


def state_dict_of(content, path: str = "checkpoint") -> Dict[str, np.ndarray]:
    """The parameter tensors of a loaded checkpoint as float32 numpy arrays,
    unwrapped from "model_state" / "state_dict" / "model" and stripped of a
    DataParallel "module." prefix."""
    for key in STATE_KEYS:
        if isinstance(content, dict) and isinstance(content.get(key), dict):
            content = content[key]
            break
    if not isinstance(content, dict) or not content:
        raise CheckpointError(f"{path!r} holds no state_dict (expected a dict of tensors, "
                              f"or one under {', '.join(STATE_KEYS)}).")
    state = {}
    for name, value in content.items():
        if not hasattr(value, "detach"):
            raise CheckpointError(f"{path!r}: entry {name!r} is a {type(value).__name__}, "
                                  "not a tensor; this is not a state_dict.")
        if name.endswith(IGNORED_SUFFIXES):
            continue
        if name.startswith("module."):
            name = name[len("module."):]
        state[name] = value.detach().float().cpu().numpy()
    return state


def read_checkpoint(path: str, trust_checkpoint: bool = False) -> Dict[str, np.ndarray]:
    """{parameter name: float32 array} of the PyTorch checkpoint at `path`."""
    return state_dict_of(load_torch_file(path, trust_checkpoint), path)
