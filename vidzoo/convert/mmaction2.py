"""MMAction2 checkpoints (`.pth`, state_dict under "state_dict"): the
recognizer's backbone.* and cls_head.* parameters.

* TSM-R50 (`ResNetTSM`, `TSMHead`): backbone.conv1.{conv, bn},
  backbone.layer{1-4}.{j}.conv1.net.{conv, bn} (the shift wraps the first
  ConvModule), conv2/conv3.{conv, bn}, downsample.{conv, bn};
  cls_head.fc_cls.
* Slow-only R50 8x8 (`ResNet3dSlowOnly`, `I3DHead`): the same names without
  the shift wrapper; the architecture is PySlowFast's Slow-R50 (our
  slow_r50).

MMAction2 normalizes with ImageNet's statistics on 0-255 pixels
(mean 123.675, 116.28, 103.53; std 58.395, 57.12, 57.375), i.e. ImageNet's
on [0, 1].
"""

from vidzoo.convert import tsm
from vidzoo.convert.source import Source, SourceModel, preprocessing


def _block_module(shifted):
    """MMAction2's names: every conv a ConvModule (.conv, .bn); TSM wraps the
    first one in the shift (.net)."""
    def module(conv, is_bn):
        path = "downsample" if conv == "downsample" else f"conv{conv}"
        if conv == 1 and shifted:
            path += ".net"
        return f"{path}.bn" if is_bn else f"{path}.conv"

    return module


def name_map(_state, model):
    block_module = _block_module(shifted=model.zoo_name.startswith("tsm"))

    def name(layer_name):
        if layer_name == "logits":
            return "cls_head.fc_cls"
        if layer_name in ("stem_conv", "stem_bn"):
            return "backbone.conv1." + ("bn" if layer_name.endswith("bn") else "conv")
        return tsm.resnet_module(layer_name, "backbone.", block_module)

    return name


MODELS = {
    "tsm_r50": SourceModel("tsm_r50", tsm.SEGMENTS8),
    "slowonly_r50_8x8": SourceModel("slow_r50", preprocessing(
        tsm.IMAGENET_MEAN, tsm.IMAGENET_STD, frames=8, stride=8, resize=(256,), crop=256)),
}

SOURCE = Source(
    name="mmaction2", title="MMAction2 (.pth, state_dict, backbone. / cls_head.)",
    models=MODELS, name_map=name_map,
    published="linked from MMAction2's configs/recognition/tsm/README.md and "
              "configs/recognition/slowonly/README.md (download.openmmlab.com)")
