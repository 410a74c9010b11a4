"""PySlowFast's own checkpoints (`.pyth`, state_dict under "model_state"):
X3D-XS/S/M/L, Slow-R50 (SLOW_8x8_R50), SlowFast-R50 (8x8 and 4x16) and
I3D-R50 (I3D_8x8_R50): the format the ATFR authors' code reads and writes.

Names (slowfast/models/video_model_builder.py, stem_helper.py,
resnet_helper.py, head_helper.py): s1 (stem) .. s5, pathway{0: slow, 1:
fast}_stem.{conv, bn} (X3D: conv_xy 1x3x3, conv 5x1x1 channelwise, bn),
pathway{p}_res{j}.branch1 / branch1_bn (shortcut) and branch2.{a, a_bn, b,
b_bn, c, c_bn} (X3D also branch2.se.fc1 / fc2), s{1-4}_fuse.{conv_f2s, bn},
head.projection (X3D: head.conv_5, conv_5_bn, lin_5, projection).

PySlowFast's X3D normalizes the res2 shortcut, which pytorchvideo does not:
the converted model is built with `shortcut_norm="pyslowfast"`.
"""

from vidzoo.convert import pytorchvideo
from vidzoo.convert.mapping import parse_layer_name
from vidzoo.convert.source import Source, SourceModel

BLOCK = {"shortcut_conv": "branch1", "shortcut_bn": "branch1_bn",
         "a_conv": "branch2.a", "a_bn": "branch2.a_bn", "b_conv": "branch2.b",
         "b_bn": "branch2.b_bn", "c_conv": "branch2.c", "c_bn": "branch2.c_bn",
         "se_reduce": "branch2.se.fc1", "se_expand": "branch2.se.fc2"}
STEM = {"conv": "conv", "bn": "bn", "spatial_conv": "conv_xy", "temporal_conv": "conv"}
FUSE = {"fuse_conv": "conv_f2s", "fuse_bn": "bn"}
HEAD = {"conv5_conv": "head.conv_5", "conv5_bn": "head.conv_5_bn", "head_lin5": "head.lin_5",
        "logits": "head.projection"}
PATHWAY = {None: 0, "slow": 0, "fast": 1}


def layer_name_to_module(layer_name):
    if layer_name in HEAD:
        return HEAD[layer_name]
    parts = parse_layer_name(layer_name)
    if parts is None:
        return None
    stage = 1 if parts["stage"] == "stem" else parts["res"]
    pathway = PATHWAY[parts["pathway"]]
    if parts["part"] in FUSE:
        return f"s{stage}_fuse.{FUSE[parts['part']]}"
    if parts["stage"] == "stem":
        suffix = STEM.get(parts["part"])
        return f"s1.pathway{pathway}_stem.{suffix}" if suffix else None
    suffix = BLOCK.get(parts["part"])
    if suffix is None or parts["block"] is None:
        return None
    return f"s{stage}.pathway{pathway}_res{parts['block'] - 1}.{suffix}"


def name_map(_state, _model):
    return layer_name_to_module


def _same_clips(name, zoo_name=None, **arguments):
    return SourceModel(zoo_name or pytorchvideo.MODELS[name].zoo_name,
                       pytorchvideo.MODELS[name].preprocessing, arguments)


MODELS = {
    "x3d_xs": _same_clips("x3d_xs", shortcut_norm="pyslowfast"),
    "x3d_s": _same_clips("x3d_s", shortcut_norm="pyslowfast"),
    "x3d_m": _same_clips("x3d_m", shortcut_norm="pyslowfast"),
    "x3d_l": _same_clips("x3d_l", shortcut_norm="pyslowfast"),
    "slow_r50": _same_clips("slow_r50"),
    "slowfast_r50_8x8": _same_clips("slowfast_r50"),
    "slowfast_r50_4x16": _same_clips("slowfast_r50", "slowfast_r50_4x16"),
    "i3d_r50": _same_clips("i3d_r50"),
}

SOURCE = Source(
    name="pyslowfast", title="PySlowFast (.pyth, model_state)", models=MODELS,
    name_map=name_map,
    published="linked from PySlowFast's MODEL_ZOO.md and projects/x3d/README.md (the .pyth "
              "files; its older Caffe2 .pkl checkpoints are another format, not read here); "
              "checkpoints written by PySlowFast-based code such as the ATFR authors'")
