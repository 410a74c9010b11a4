"""Helpers of tests/test_convert.py: reference PyTorch models with every
parameter and BatchNorm statistic randomised, saved in their source's format,
and the comparison of their stage outputs and logits with the converted
Keras model's.

Small clips need one change to the pytorchvideo references: their heads
average with a fixed kernel sized for the published input (8x7x7 for
Slow-R50 at 8x224x224), which at that input is the global average; the
checks swap it for AdaptiveAvgPool3d(1), the global average at any input
(our models' head)."""

import numpy as np
import torch

from vidzoo import zoo

TOLERANCE = 1e-4


def randomize(module, seed=0):
    """Random weights everywhere, BatchNorm affine parameters and running
    statistics included (the defaults, 1 and 0, hide mapping errors)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            shape = tensor.shape
            if name.endswith("running_var"):
                value = 0.5 + torch.rand(shape, generator=generator)
            elif name.endswith("running_mean") or name.endswith("bias"):
                value = 0.1 * torch.randn(shape, generator=generator)
            elif tensor.ndim == 1:  # BatchNorm weight
                value = 0.5 + 0.5 * torch.rand(shape, generator=generator)
            else:
                fan_in = int(np.prod(shape[1:]))
                value = torch.randn(shape, generator=generator) * (1.0 / fan_in) ** 0.5
            tensor.copy_(value)
    return module.eval()


def global_head_pools(module):
    """Swap every fixed-kernel AvgPool3d (in these models, only the heads
    have one) for a global average."""
    for parent in module.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, torch.nn.AvgPool3d):
                setattr(parent, child_name, torch.nn.AdaptiveAvgPool3d(1))
    return module


def run_reference(module, clip, stages, logits_module):
    """Outputs of `module` on `clip` (N, T, H, W, C) at each stage
    {our name: (module path, index into a list output or None)} and at the
    logits module, channels last (frames-as-batch outputs of a 2D network
    back to (N, T, H, W, C))."""
    found = {}
    hooks = []
    named = dict(module.named_modules())
    for ours, (path, index) in list(stages.items()) + [("logits", (logits_module, None))]:
        def hook(_, __, output, ours=ours, index=index):
            found[ours] = output if index is None else output[index]
        hooks.append(named[path].register_forward_hook(hook))
    inputs = torch.from_numpy(np.ascontiguousarray(np.transpose(clip, (0, 4, 1, 2, 3))))
    if isinstance(getattr(module, "blocks", None), torch.nn.ModuleList) and \
            type(module.blocks[0]).__name__ == "MultiPathWayWithFuse":
        frames, alpha = inputs.shape[2], 4  # PySlowFast's PackPathway
        slow = torch.linspace(0, frames - 1, frames // alpha).long()
        inputs = [inputs[:, :, slow], inputs]
    with torch.no_grad():
        module(inputs)
    for hook in hooks:
        hook.remove()
    frames = clip.shape[1]
    outputs = {name: _channels_last(value.numpy(), frames) for name, value in found.items()}
    logits = found["logits"].numpy()  # pytorchvideo's proj runs channels last
    outputs["logits"] = logits.reshape(logits.shape[0], -1)
    return outputs


def _channels_last(array, frames):
    if array.ndim == 4:  # (N*T, C, H, W)
        array = array.reshape((-1, frames) + array.shape[1:]).transpose(0, 2, 1, 3, 4)
    return np.transpose(array, (0, 2, 3, 4, 1)) if array.ndim == 5 else array


def run_converted(preset, clip, stages):
    """The converted preset's outputs at the same stages and its logits."""
    model = zoo.load_preset(preset, input_shape=clip.shape[1:], classifier_activation=None)
    import keras

    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in stages]
                        + [model.output])
    outputs = probe(clip, training=False)
    return {name: np.asarray(value) for name, value in zip(list(stages) + ["logits"], outputs)}


def differences(reference, converted):
    """{output: max abs difference}."""
    return {name: float(np.max(np.abs(reference[name] - converted[name]))) for name in reference}


def shift(x, frames, fold_div=8):
    """TSM's temporal shift (temporal-shift-module `TemporalShift.shift`) of
    (N*T, C, H, W): 1/8 of the channels from the next frame, 1/8 from the
    previous one."""
    nt, c, h, w = x.shape
    x = x.view(nt // frames, frames, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


class Shifted(torch.nn.Module):
    """The TSM repository's wrapper of a block's first conv (`.net`)."""

    def __init__(self, net, frames):
        super().__init__()
        self.net, self.frames = net, frames

    def forward(self, x):
        return self.net(shift(x, self.frames))


class TSMReference(torch.nn.Module):
    """temporal-shift-module's TSN(resnet50, is_shift, blockres, shift_div=8,
    consensus avg): torchvision's ResNet-50 on every frame with each
    bottleneck's conv1 shifted, dropout, new_fc, mean over frames. Takes
    (N, C, T, H, W) like the other references."""

    def __init__(self, frames, classes=400):
        super().__init__()
        import torchvision

        self.frames = frames
        self.base_model = torchvision.models.resnet50()
        self.base_model.fc = torch.nn.Dropout(0.5)
        for stage in (self.base_model.layer1, self.base_model.layer2, self.base_model.layer3,
                      self.base_model.layer4):
            for block in stage:
                block.conv1 = Shifted(block.conv1, frames)
        self.new_fc = torch.nn.Linear(2048, classes)

    def forward(self, x):
        n, c, t, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
        return self.new_fc(self.base_model(x)).view(n, t, -1).mean(1)


def rename(state, rules):
    """{key with the first matching (regex, replacement) applied: value}; every
    key must match one rule."""
    import re

    renamed = {}
    for key, value in state.items():
        for pattern, replacement in rules:
            if re.match(pattern, key):
                renamed[re.sub(pattern, replacement, key)] = value
                break
        else:
            raise AssertionError(f"no rename rule for {key}")
    return renamed
