"""pytorchvideo's hub models (`pytorchvideo.models.hub`): `.pyth` files with
the state_dict under "model_state", for X3D-XS/S/M/L, Slow-R50, SlowFast-R50,
I3D-R50 and R(2+1)D-R50.

Names: blocks.{i} in network order: the stem, the residual stages
(res_blocks.{j}; I3D has a pooling block between res2 and res3, so the
stages are found by their res_blocks, not by position), then the head
(X3D: pool.pre_conv/pre_norm/post_conv, then proj; the ResNets: proj). A
block is branch1_conv/branch1_norm (shortcut) and branch2.conv_{a,b,c} /
norm_{a,b,c}; X3D's norm_b is (BN, squeeze-excitation block.{0,2}), R(2+1)D's
conv_b is (conv_t, norm, conv_xy). SlowFast wraps each stage's pathways in
multipathway_blocks.{0: slow, 1: fast} and its lateral connection in
multipathway_fusion (conv_fast_to_slow, norm). The X3D stem's conv_t is the
1x3x3 conv and conv_xy the 5x1x1 one (pytorchvideo's own naming).
"""

from vidzoo.convert.mapping import module_indices, parse_layer_name
from vidzoo.convert.source import Source, SourceModel, preprocessing

MEAN, STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)
PATHWAYS = {None: "", "slow": "multipathway_blocks.0.", "fast": "multipathway_blocks.1."}

BLOCK = {"shortcut_conv": "branch1_conv", "shortcut_bn": "branch1_norm",
         "a_conv": "branch2.conv_a", "a_bn": "branch2.norm_a",
         "b_conv": "branch2.conv_b", "b_bn": "branch2.norm_b",
         "c_conv": "branch2.conv_c", "c_bn": "branch2.norm_c"}
X3D_BLOCK = dict(BLOCK, b_bn="branch2.norm_b.0", se_reduce="branch2.norm_b.1.block.0",
                 se_expand="branch2.norm_b.1.block.2")
R2PLUS1D_BLOCK = dict(BLOCK, b_temporal_conv="branch2.conv_b.conv_t",
                      b_temporal_bn="branch2.conv_b.norm", b_conv="branch2.conv_b.conv_xy")
STEM = {"conv": "conv", "bn": "norm", "spatial_conv": "conv.conv_t",
        "temporal_conv": "conv.conv_xy", "fuse_conv": "multipathway_fusion.conv_fast_to_slow",
        "fuse_bn": "multipathway_fusion.norm"}
X3D_HEAD = {"conv5_conv": "pool.pre_conv", "conv5_bn": "pool.pre_norm",
            "head_lin5": "pool.post_conv", "logits": "proj"}


def _stem_part(parts):
    part = parts["part"]
    if parts["pathway"]:  # SlowFast's stem: stem_slow_conv
        return PATHWAYS[parts["pathway"]] + STEM[part] if part in ("conv", "bn") else None
    return STEM.get(part)


def name_map(state, model):
    stages = module_indices(state, r"blocks\.(\d+)\.(?:multipathway_blocks\.0\.)?res_blocks\.")
    head = module_indices(state, r"blocks\.(\d+)\.proj\.")
    block_parts = (X3D_BLOCK if model.zoo_name.startswith("x3d") else
                   R2PLUS1D_BLOCK if model.zoo_name.startswith("r2plus1d") else BLOCK)

    def name(layer_name):
        if layer_name in X3D_HEAD and head:
            return f"blocks.{head[0]}.{X3D_HEAD[layer_name]}"
        parts = parse_layer_name(layer_name)
        if parts is None:
            return None
        if parts["stage"] == "stem":
            suffix = _stem_part(parts)
            return f"blocks.0.{suffix}" if suffix else None
        index = parts["res"] - 2
        if index >= len(stages):
            return None
        stage = f"blocks.{stages[index]}."
        if parts["block"] is None:  # a SlowFast fusion after the stage
            return stage + STEM[parts["part"]] if parts["part"] in ("fuse_conv", "fuse_bn") else None
        suffix = block_parts.get(parts["part"])
        if suffix is None:
            return None
        return f"{stage}{PATHWAYS[parts['pathway']]}res_blocks.{parts['block'] - 1}.{suffix}"

    return name


def _clips(frames, stride, side):
    """PySlowFast's testing: the short side to the crop size, then crops."""
    return preprocessing(MEAN, STD, frames=frames, stride=stride, resize=(side,), crop=side)


MODELS = {
    "x3d_xs": SourceModel("x3d_xs", _clips(4, 12, 182)),
    "x3d_s": SourceModel("x3d_s", _clips(13, 6, 182)),
    "x3d_m": SourceModel("x3d_m", _clips(16, 5, 256)),
    "x3d_l": SourceModel("x3d_l", _clips(16, 5, 312)),
    "slow_r50": SourceModel("slow_r50", _clips(8, 8, 256)),
    "slowfast_r50": SourceModel("slowfast_r50_8x8", _clips(32, 2, 256)),
    "i3d_r50": SourceModel("i3d_r50", _clips(8, 8, 256)),
    "r2plus1d_r50": SourceModel("r2plus1d_r50", _clips(16, 4, 256)),
}

SOURCE = Source(
    name="pytorchvideo", title="pytorchvideo hub models (.pyth, model_state)", models=MODELS,
    name_map=name_map,
    published="https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/ (X3D_XS.pyth, "
              "X3D_S.pyth, X3D_M.pyth, X3D_L.pyth, SLOW_8x8_R50.pyth, SLOWFAST_8x8_R50.pyth, "
              "I3D_8x8_R50.pyth, R2PLUS1D_16x4_R50.pyth; pytorchvideo's MODEL_ZOO.md)")
