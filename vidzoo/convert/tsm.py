"""temporal-shift-module checkpoints (`TSM_kinetics_RGB_resnet50_shift8_
blockres_avg_segment8_e50.pth`): the state_dict under "state_dict", saved
from DataParallel ("module." prefix): base_model.{conv1, bn1}, base_model.
layer{1-4}.{j}.{conv1.net (the shifted conv), bn1, conv2, bn2, conv3, bn3,
downsample.0/1}, new_fc. The 2D kernels load into our 1 x k x k Conv3Ds.

Frames are sampled TSN-style: one per equal segment of the video.
"""

from vidzoo.convert.mapping import parse_layer_name
from vidzoo.convert.source import Source, SourceModel, preprocessing

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SEGMENTS8 = preprocessing(IMAGENET_MEAN, IMAGENET_STD, frames=8, stride=0, resize=(256,),
                          crop=224)


def resnet_module(layer_name, prefix, block_module):
    """Our TSM layer name -> a torchvision-style ResNet module path.
    `block_module(conv, is_bn)` names a block's conv 1-3 or "downsample" (or
    its BatchNorm) inside the block."""
    parts = parse_layer_name(layer_name)
    if parts is None:
        return None
    if parts["stage"] == "stem":
        return {"conv": f"{prefix}conv1", "bn": f"{prefix}bn1"}.get(parts["part"])
    kind, _, layer = parts["part"].rpartition("_")
    conv = {"a": 1, "b": 2, "c": 3, "shortcut": "downsample"}.get(kind)
    if parts["block"] is None or conv is None or layer not in ("conv", "bn"):
        return None
    block = f"{prefix}layer{parts['res'] - 1}.{parts['block'] - 1}."
    return block + block_module(conv, layer == "bn")


def tsm_block_module(conv, is_bn):
    """The TSM repository's names: torchvision's Bottleneck, conv1 wrapped."""
    if conv == "downsample":
        return "downsample.1" if is_bn else "downsample.0"
    if is_bn:
        return f"bn{conv}"
    return "conv1.net" if conv == 1 else f"conv{conv}"


def name_map(_state, _model):
    def name(layer_name):
        if layer_name == "logits":
            return "new_fc"
        return resnet_module(layer_name, "base_model.", tsm_block_module)

    return name


MODELS = {"tsm_r50": SourceModel("tsm_r50", SEGMENTS8)}

SOURCE = Source(
    name="tsm", title="temporal-shift-module (.pth, state_dict, module.base_model.)",
    models=MODELS, name_map=name_map,
    published="linked from the temporal-shift-module README (TSM_kinetics_RGB_resnet50_"
              "shift8_blockres_avg_segment8_e50.pth)")
