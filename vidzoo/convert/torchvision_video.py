"""torchvision's video models (`torchvision.models.video`): state_dicts
(`.pth`) of r3d_18, mc3_18, r2plus1d_18 (VideoResNet) and s3d.

VideoResNet names: stem.{0,1} (conv, BN; R(2+1)D's stem is stem.{0,1,3,4}),
layer{1-4}.{block}.conv{1,2}.{0: conv or Conv2Plus1D, 1: BN}, a
Conv2Plus1D's .0 (spatial conv), .1 (its BN), .3 (temporal conv);
downsample.{0,1}; fc. S3D: features.{i} (the stems, then the Mixed blocks in
order), branch{0-3}, classifier.1.
"""

from vidzoo.convert.mapping import module_indices, parse_layer_name
from vidzoo.convert.source import Source, SourceModel, preprocessing

MEAN = (0.43216, 0.394666, 0.37645)
STD = (0.22803, 0.22145, 0.216989)
SMALL = preprocessing(MEAN, STD, frames=16, stride=1, resize=(128, 171), crop=112)

STEM = {"conv": "stem.0", "bn": "stem.1",
        "spatial_conv": "stem.0", "spatial_bn": "stem.1",
        "temporal_conv": "stem.3", "temporal_bn": "stem.4"}
BLOCK = {"shortcut_conv": "downsample.0", "shortcut_bn": "downsample.1"}
for _k in (1, 2):
    BLOCK.update({f"conv{_k}": f"conv{_k}.0", f"bn{_k}": f"conv{_k}.1",
                  f"conv{_k}_spatial": f"conv{_k}.0.0", f"conv{_k}_spatial_bn": f"conv{_k}.0.1",
                  f"conv{_k}_temporal": f"conv{_k}.0.3"})


def video_resnet_name(layer_name):
    if layer_name == "logits":
        return "fc"
    parts = parse_layer_name(layer_name)
    if parts is None:
        return None
    if parts["stage"] == "stem":
        return STEM.get(parts["part"])
    suffix = BLOCK.get(parts["part"])
    if suffix is None or parts["block"] is None:
        return None
    return f"layer{parts['res'] - 1}.{parts['block'] - 1}.{suffix}"


# S3D: our TF-slim endpoint names -> torchvision's features index.
S3D_STEMS = {"Conv2d_1a_7x7": "features.0", "Conv2d_2b_1x1": "features.2",
             "Conv2d_2c_3x3": "features.3"}
S3D_MIXED = ("3b", "3c", "4b", "4c", "4d", "4e", "4f", "5b", "5c")
S3D_PARTS = {  # part of a separable conv -> its module path
    "conv": "0.0", "bn": "0.1", "temporal_conv": "1.0", "temporal_bn": "1.1"}
S3D_BRANCHES = {"b0_1x1": "branch0", "b1_1x1": "branch1.0", "b1_3x3": "branch1.1",
                "b2_1x1": "branch2.0", "b2_3x3": "branch2.1", "b3_1x1": "branch3.1"}


def s3d_name_map(state, _model):
    mixed = dict(zip(S3D_MIXED, module_indices(state, r"features\.(\d+)\.branch0\.")))

    def name(layer_name):
        if layer_name == "logits_conv":
            return "classifier.1"
        for stem, module in S3D_STEMS.items():
            if layer_name.startswith(stem + "_"):
                part = layer_name[len(stem) + 1:]
                if stem == "Conv2d_2b_1x1":  # a plain conv + BN
                    return {"conv": f"{module}.0", "bn": f"{module}.1"}.get(part)
                return f"{module}.{S3D_PARTS[part]}" if part in S3D_PARTS else None
        if not layer_name.startswith("Mixed_") or layer_name[6:8] not in mixed:
            return None
        block, rest = layer_name[6:8], layer_name[9:]
        for branch, module in S3D_BRANCHES.items():
            if rest.startswith(branch + "_"):
                part = rest[len(branch) + 1:]
                if branch.endswith("3x3"):
                    suffix = S3D_PARTS.get(part)
                else:
                    suffix = {"conv": "0", "bn": "1"}.get(part)
                return f"features.{mixed[block]}.{module}.{suffix}" if suffix else None
        return None

    return name


MODELS = {
    "r3d_18": SourceModel("r3d_18", SMALL),
    "mc3_18": SourceModel("mc3_18", SMALL),
    "r2plus1d_18": SourceModel("r2plus1d_18", SMALL),
    "s3d": SourceModel("s3d_torchvision", preprocessing(MEAN, STD, frames=128, stride=1,
                                                        resize=(256, 256), crop=224)),
}


def name_map(state, model):
    if model.zoo_name == "s3d_torchvision":
        return s3d_name_map(state, model)
    return video_resnet_name


SOURCE = Source(
    name="torchvision", title="torchvision.models.video (state_dict .pth)", models=MODELS,
    name_map=name_map,
    published="https://download.pytorch.org/models/ (r3d_18-b3b3357e.pth, mc3_18-a90a0ba3.pth, "
              "r2plus1d_18-91a641e6.pth, s3d-d76dad2f.pth; torchvision's *_Weights enums)")
