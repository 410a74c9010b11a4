"""Copying a PyTorch state_dict into a Keras model, layer by layer, by name.

Each source module gives a `torch_module(layer_name)` function that maps one of
our layer names (which spell the structure: `res3_block2_b_conv`,
`res2_slow_block1_shortcut_bn`) to the module path of the same layer in the
reference (`layer2.1.conv2.0`, `blocks.1.multipathway_blocks.0.res_blocks.0.
branch1_norm`). Nothing is matched by position, so a checkpoint with its keys
in another order converts the same, and one of another model, depth or class
count fails on names and shapes, before any weight is written.

Tensor layouts: PyTorch convolutions are (out, in, *kernel), Keras'
(*kernel, in, out) (a channelwise conv's (C, 1, t, h, w) becomes
DepthwiseConv3D's (t, h, w, 1, C)); Linear is (out, in), Dense (in, out);
a 2D kernel goes into a 1 x k x k Conv3D, a 1x1x1 conv into a Dense.
"""

import re
from typing import Callable, Dict, List, Optional

import keras
import numpy as np

# Keras variable name -> PyTorch parameter name.
PARAMETER_NAMES = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
LISTED = 8  # how many names each part of a mismatch error lists


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the model (missing, unexpected or
    differently shaped parameters)."""


def to_keras_layout(array: np.ndarray, variable_name: str, shape: tuple) -> Optional[np.ndarray]:
    """`array` in the layout of a Keras variable of `shape`, or None when it
    cannot be (a shape mismatch)."""
    if variable_name == "kernel" and array.ndim >= 2:
        array = np.transpose(array, tuple(range(2, array.ndim)) + (1, 0))
    if array.shape == tuple(shape):
        return array
    squeezed = tuple(d for d in array.shape if d != 1)
    if squeezed == tuple(d for d in shape if d != 1) and array.size == int(np.prod(shape)):
        return array.reshape(shape)
    return None


def weighted_layers(model: keras.Model) -> List[keras.layers.Layer]:
    """The layers of `model` that own weights, with nested models flattened."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(weighted_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


def _listing(title, names):
    shown = ", ".join(names[:LISTED]) + (", ..." if len(names) > LISTED else "")
    return f"{len(names)} {title} ({shown})"


def plan_assignment(model: keras.Model, state: Dict[str, np.ndarray],
                    torch_module: Callable[[str], Optional[str]], source: str):
    """[(Keras variable, value)] for every weight of `model`; raises one
    CheckpointMismatchError listing every missing, unexpected and mismatched
    parameter (and layers the source has no name for)."""
    assignments, unnamed, missing, mismatched, used = [], [], [], [], set()
    for layer in weighted_layers(model):
        module = torch_module(layer.name)
        if module is None:
            unnamed.append(layer.name)
            continue
        for variable in layer.weights:
            key = f"{module}.{PARAMETER_NAMES[variable.name]}"
            if key not in state:
                missing.append(key)
                continue
            used.add(key)
            value = to_keras_layout(state[key], variable.name, tuple(variable.shape))
            if value is None:
                mismatched.append(f"{key}: checkpoint {tuple(state[key].shape)}, "
                                  f"{layer.name}/{variable.name} needs {tuple(variable.shape)} "
                                  "in PyTorch's layout "
                                  f"{_torch_layout(variable.name, tuple(variable.shape))}")
                continue
            assignments.append((variable, value))
    unexpected = sorted(set(state) - used)
    problems = [_listing(title, names) for title, names in (
        ("layers of the model that this source does not name", unnamed),
        ("missing keys", missing), ("unexpected keys", unexpected),
        ("shape mismatches", mismatched)) if names]
    if problems:
        raise CheckpointMismatchError(
            f"the {source} checkpoint does not fit {model.name}: " + "; ".join(problems) +
            ". Is it a checkpoint of this model, depth and class count? Nothing was written.")
    return assignments


def _torch_layout(variable_name, shape):
    if variable_name == "kernel" and len(shape) >= 2:
        return (shape[-1], shape[-2]) + tuple(shape[:-2])
    return tuple(shape)


def assign_state(model: keras.Model, state: Dict[str, np.ndarray],
                 torch_module: Callable[[str], Optional[str]], source: str) -> int:
    """Copy `state` into `model` (all or nothing); returns the number of
    parameters copied."""
    assignments = plan_assignment(model, state, torch_module, source)
    for variable, value in assignments:
        variable.assign(value.astype(variable.dtype))
    return sum(int(value.size) for _, value in assignments)


LAYER_NAME = re.compile(r"(?P<stage>stem|res(?P<res>\d))(_(?P<pathway>slow|fast))?"
                        r"(_block(?P<block>\d+))?_(?P<part>.+)")


def parse_layer_name(name: str) -> Optional[dict]:
    """A zoo layer name's parts: stage ("stem", "res3"), res (3), pathway
    ("slow", "fast" or None), block (1-based or None) and part ("b_conv");
    None for names outside the stages (the head)."""
    match = LAYER_NAME.fullmatch(name)
    if match is None:
        return None
    parts = match.groupdict()
    parts["res"] = int(parts["res"]) if parts["res"] else None
    parts["block"] = int(parts["block"]) if parts["block"] else None
    return parts


def module_indices(state: Dict[str, np.ndarray], pattern: str) -> List[int]:
    """Sorted distinct integers captured by `pattern`'s first group in the
    checkpoint's keys: the reference's own numbering of its stages."""
    compiled = re.compile(pattern)
    return sorted({int(m.group(1)) for key in state for m in [compiled.match(key)] if m})
