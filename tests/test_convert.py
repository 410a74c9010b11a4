"""vidzoo.convert: every converter proven on its reference.

Each case builds the reference PyTorch model with every weight and BatchNorm
statistic random, saves it in the source's own file format (torchvision's
bare state_dict; pytorchvideo's and PySlowFast's .pyth with "model_state";
TSM's DataParallel "module." names under "state_dict"; MMAction2's
"backbone." / "cls_head." under "state_dict"), converts it and compares every
stage's output and the logits on a random clip. PySlowFast, TSM and
MMAction2 publish no installable reference: their files are written from
the installable equivalent (pytorchvideo's models, torchvision's ResNet-50
with TSM's shift) by renaming its keys with tables written from those
projects' module names, independent of the converters' own."""

import os

import numpy as np
import pytest
import torch  # the test extras install the references (setup.py)
import torchvision
from pytorchvideo.models import hub

import converter_checks as checks
from vidzoo import zoo
from vidzoo.convert import (
    CheckpointError,
    CheckpointMismatchError,
    convert,
    read_checkpoint,
)
from vidzoo.zoo import presets

VIDEO_RESNET = {"stem": "stem", "res2": "layer1", "res3": "layer2", "res4": "layer3",
                "res5": "layer4"}
S3D = {"Conv2d_2c_3x3": "features.3", "Mixed_3c": "features.6", "Mixed_4f": "features.12",
       "Mixed_5c": "features.15"}
TSM_STAGES = {"res2": "base_model.layer1", "res3": "base_model.layer2",
              "res4": "base_model.layer3", "res5": "base_model.layer4"}


def blocks(*indices, pathways=None):
    """pytorchvideo stage outputs: stem, res2.. at these block indices."""
    names = ["stem", "res2", "res3", "res4", "res5"][:len(indices)]
    if pathways:
        return {f"{name}_{p}": (f"blocks.{i}", k) for name, i in zip(names, indices)
                for p, k in (("slow", 0), ("fast", 1))}
    return {name: (f"blocks.{i}", None) for name, i in zip(names, indices)}


def single(stages):
    return {ours: (path, None) for ours, path in stages.items()}


# --- the source formats -----------------------------------------------------

def state_dict_file(state):
    return state


def pyth_file(state):
    return {"model_state": state, "epoch": 1}


def pyslowfast_file(state):
    return {"model_state": checks.rename(state, pyslowfast_rules(state)), "epoch": 196,
            "optimizer_state": {}, "cfg": "MODEL:\n  ARCH: from pytorchvideo\n"}


def tsm_file(state):
    return {"epoch": 50, "arch": "resnet50", "best_prec1": 0.0,
            "state_dict": {f"module.{key}": value for key, value in state.items()}}


def mmaction2_tsm_file(state):
    return {"meta": {"mmaction2_version": "1.2.0"},
            "state_dict": checks.rename(state, MMACTION2_FROM_TSM)}


def mmaction2_slowonly_file(state):
    return {"meta": {"mmaction2_version": "1.2.0"},
            "state_dict": checks.rename(state, MMACTION2_FROM_PYTORCHVIDEO)}


# PySlowFast's names (video_model_builder.py, resnet_helper.py, head_helper.py)
# for pytorchvideo's; the stage numbering comes from the file's blocks.
PYSLOWFAST_BLOCK = [
    (r"branch1_conv\.", "branch1."), (r"branch1_norm\.", "branch1_bn."),
    (r"branch2\.conv_a\.", "branch2.a."), (r"branch2\.norm_a\.", "branch2.a_bn."),
    (r"branch2\.conv_b\.", "branch2.b."), (r"branch2\.norm_b\.0\.", "branch2.b_bn."),
    (r"branch2\.norm_b\.1\.block\.0\.", "branch2.se.fc1."),
    (r"branch2\.norm_b\.1\.block\.2\.", "branch2.se.fc2."),
    (r"branch2\.norm_b\.", "branch2.b_bn."), (r"branch2\.conv_c\.", "branch2.c."),
    (r"branch2\.norm_c\.", "branch2.c_bn.")]


def pyslowfast_rules(state):
    import re

    stages = sorted({int(m.group(1)) for key in state
                     for m in [re.match(r"blocks\.(\d+)\.(multipathway_blocks\.0\.)?res_blocks", key)]
                     if m})
    rules = [(r"blocks\.0\.conv\.conv_t\.", "s1.pathway0_stem.conv_xy."),
             (r"blocks\.0\.conv\.conv_xy\.", "s1.pathway0_stem.conv."),
             (r"blocks\.0\.conv\.", "s1.pathway0_stem.conv."),
             (r"blocks\.0\.norm\.", "s1.pathway0_stem.bn."),
             (r"blocks\.0\.multipathway_blocks\.(\d)\.conv\.", r"s1.pathway\1_stem.conv."),
             (r"blocks\.0\.multipathway_blocks\.(\d)\.norm\.", r"s1.pathway\1_stem.bn."),
             (r"blocks\.\d+\.pool\.pre_conv\.", "head.conv_5."),
             (r"blocks\.\d+\.pool\.pre_norm\.", "head.conv_5_bn."),
             (r"blocks\.\d+\.pool\.post_conv\.", "head.lin_5."),
             (r"blocks\.\d+\.proj\.", "head.projection.")]
    for number, index in [(1, 0)] + [(n, i) for n, i in zip(range(2, 6), stages)]:
        rules += [(rf"blocks\.{index}\.multipathway_fusion\.conv_fast_to_slow\.",
                   f"s{number}_fuse.conv_f2s."),
                  (rf"blocks\.{index}\.multipathway_fusion\.norm\.", f"s{number}_fuse.bn.")]
        if number == 1:
            continue
        for inner, outer in PYSLOWFAST_BLOCK:
            rules += [(rf"blocks\.{index}\.multipathway_blocks\.(\d)\.res_blocks\.(\d+)\.{inner}",
                       rf"s{number}.pathway\1_res\2.{outer}"),
                      (rf"blocks\.{index}\.res_blocks\.(\d+)\.{inner}",
                       rf"s{number}.pathway0_res\1.{outer}")]
    return rules


# MMAction2's ResNetTSM / ResNet3dSlowOnly names: ConvModules (.conv, .bn).
MMACTION2_RESNET = [
    (r"layer(\d)\.(\d+)\.conv1\.net\.", r"backbone.layer\1.\2.conv1.net.conv."),
    (r"layer(\d)\.(\d+)\.bn1\.", r"backbone.layer\1.\2.conv1.net.bn."),
    (r"layer(\d)\.(\d+)\.conv([23])\.", r"backbone.layer\1.\2.conv\3.conv."),
    (r"layer(\d)\.(\d+)\.bn([23])\.", r"backbone.layer\1.\2.conv\3.bn."),
    (r"layer(\d)\.(\d+)\.downsample\.0\.", r"backbone.layer\1.\2.downsample.conv."),
    (r"layer(\d)\.(\d+)\.downsample\.1\.", r"backbone.layer\1.\2.downsample.bn.")]
MMACTION2_FROM_TSM = [(r"base_model\.conv1\.", "backbone.conv1.conv."),
                      (r"base_model\.bn1\.", "backbone.conv1.bn."),
                      (r"new_fc\.", "cls_head.fc_cls.")] + [
    (r"base_model\." + pattern, replacement) for pattern, replacement in MMACTION2_RESNET]
MMACTION2_FROM_PYTORCHVIDEO = [
    (r"blocks\.0\.conv\.", "backbone.conv1.conv."), (r"blocks\.0\.norm\.", "backbone.conv1.bn."),
    (r"blocks\.5\.proj\.", "cls_head.fc_cls.")] + [
    (rf"blocks\.(\d)\.res_blocks\.(\d+)\.{inner}", rf"backbone.layer\1.\2.{outer}")
    for inner, outer in [(r"branch2\.conv_a\.", "conv1.conv."), (r"branch2\.norm_a\.", "conv1.bn."),
                         (r"branch2\.conv_b\.", "conv2.conv."), (r"branch2\.norm_b\.", "conv2.bn."),
                         (r"branch2\.conv_c\.", "conv3.conv."), (r"branch2\.norm_c\.", "conv3.bn."),
                         (r"branch1_conv\.", "downsample.conv."),
                         (r"branch1_norm\.", "downsample.bn.")]]


def x3d_with_res2_shortcut_norm():
    """pytorchvideo's X3D-XS with PySlowFast's extra res2 shortcut BatchNorm."""
    model = hub.x3d_xs()
    model.blocks[1].res_blocks[0].branch1_norm = torch.nn.BatchNorm3d(24)
    return model


def s3d_small_head():
    """torchvision's S3D with its 2x7x7 head pool at the 1x1 map of a 32 px
    clip (our model reduces the window to the map the same way)."""
    model = torchvision.models.video.s3d()
    model.avgpool = torch.nn.AvgPool3d((2, 1, 1), stride=1)
    return model


V = torchvision.models.video
CASES = {  # id: (source, model, reference, file format, stages, logits module ("": the
    #       whole model), T)
    "torchvision-r3d_18": ("torchvision", "r3d_18", V.r3d_18, state_dict_file,
                           single(VIDEO_RESNET), "fc", 4),
    "torchvision-mc3_18": ("torchvision", "mc3_18", V.mc3_18, state_dict_file,
                           single(VIDEO_RESNET), "fc", 4),
    "torchvision-r2plus1d_18": ("torchvision", "r2plus1d_18", V.r2plus1d_18, state_dict_file,
                                single(VIDEO_RESNET), "fc", 4),
    "torchvision-s3d": ("torchvision", "s3d", s3d_small_head, state_dict_file, single(S3D),
                        "classifier.1", 16),
    "pytorchvideo-x3d_xs": ("pytorchvideo", "x3d_xs", hub.x3d_xs, pyth_file,
                            blocks(0, 1, 2, 3, 4), "blocks.5.proj", 4),
    "pytorchvideo-x3d_l": ("pytorchvideo", "x3d_l", hub.x3d_l, pyth_file,
                           blocks(0, 1, 2, 3, 4), "blocks.5.proj", 4),
    "pytorchvideo-slow_r50": ("pytorchvideo", "slow_r50", hub.slow_r50, pyth_file,
                              blocks(0, 1, 2, 3, 4), "blocks.5.proj", 4),
    "pytorchvideo-slowfast_r50": ("pytorchvideo", "slowfast_r50", hub.slowfast_r50, pyth_file,
                                  blocks(0, 1, 2, 3, 4, pathways=True), "blocks.6.proj", 8),
    "pytorchvideo-i3d_r50": ("pytorchvideo", "i3d_r50", hub.i3d_r50, pyth_file,
                             blocks(0, 2, 3, 4, 5), "blocks.6.proj", 4),
    "pytorchvideo-r2plus1d_r50": ("pytorchvideo", "r2plus1d_r50", hub.r2plus1d_r50, pyth_file,
                                  blocks(0, 1, 2, 3, 4), "blocks.5.proj", 4),
    "pyslowfast-x3d_xs": ("pyslowfast", "x3d_xs", x3d_with_res2_shortcut_norm, pyslowfast_file,
                          blocks(0, 1, 2, 3, 4), "blocks.5.proj", 4),
    "pyslowfast-slowfast_r50_8x8": ("pyslowfast", "slowfast_r50_8x8", hub.slowfast_r50,
                                    pyslowfast_file, blocks(0, 1, 2, 3, 4, pathways=True),
                                    "blocks.6.proj", 8),
    "pyslowfast-i3d_r50": ("pyslowfast", "i3d_r50", hub.i3d_r50, pyslowfast_file,
                           blocks(0, 2, 3, 4, 5), "blocks.6.proj", 4),
    "tsm-tsm_r50": ("tsm", "tsm_r50", lambda: checks.TSMReference(frames=4), tsm_file,
                    single(TSM_STAGES), "", 4),
    "mmaction2-tsm_r50": ("mmaction2", "tsm_r50", lambda: checks.TSMReference(frames=4),
                          mmaction2_tsm_file, single(TSM_STAGES), "", 4),
    "mmaction2-slowonly_r50_8x8": ("mmaction2", "slowonly_r50_8x8", hub.slow_r50,
                                   mmaction2_slowonly_file, blocks(0, 1, 2, 3, 4),
                                   "blocks.5.proj", 4),
}


@pytest.mark.parametrize("case", list(CASES))
def test_converted_model_gives_the_references_stage_outputs_and_logits(case, tmp_path):
    source, model, make, file_format, stages, logits, frames = CASES[case]
    reference = checks.global_head_pools(checks.randomize(make()))
    clip = np.random.default_rng(0).normal(size=(1, frames, 32, 32, 3)).astype("float32")
    expected = checks.run_reference(reference, clip, stages, logits)
    checkpoint = tmp_path / "checkpoint.pth"
    torch.save(file_format(reference.state_dict()), checkpoint)

    preset = convert(source, model, str(checkpoint), str(tmp_path / "preset"))

    got = checks.run_converted(preset, clip, stages)
    differences = checks.differences(expected, got)
    assert set(differences) == set(stages) | {"logits"}
    assert max(differences.values()) <= checks.TOLERANCE, differences
    config, metadata = presets.read_preset(preset)
    assert metadata["source"] == source and metadata["source_model"] == model
    assert len(metadata["sha256"]) == 64 and len(metadata["class_names"]) == 400


# --- presets and bad input --------------------------------------------------

@pytest.fixture(scope="module")
def r3d_checkpoint(tmp_path_factory):
    """A random torchvision r3d_18 state_dict file and its logits on a clip."""
    folder = tmp_path_factory.mktemp("r3d")
    reference = checks.randomize(torchvision.models.video.r3d_18())
    path = folder / "r3d_18.pth"
    torch.save(reference.state_dict(), path)
    return str(path), reference


@pytest.fixture(scope="module")
def r3d_preset(r3d_checkpoint, tmp_path_factory):
    return convert("torchvision", "r3d_18", r3d_checkpoint[0],
                   str(tmp_path_factory.mktemp("presets") / "r3d_18"))


def test_preset_records_source_checksum_preprocessing_and_classes(r3d_preset, r3d_checkpoint):
    config, metadata = presets.read_preset(r3d_preset)
    assert config == {"model": "r3d_18",
                      "arguments": {"classes": 400, "input_shape": [16, 112, 112, 3]}}
    import hashlib

    with open(r3d_checkpoint[0], "rb") as file:
        assert metadata["sha256"] == hashlib.sha256(file.read()).hexdigest()
    assert metadata["preprocessing"] == {
        "mean": [0.43216, 0.394666, 0.37645], "std": [0.22803, 0.22145, 0.216989],
        "frames": 16, "stride": 1, "resize": [128, 171], "crop": 112}
    assert metadata["class_names"][:2] == ["abseiling", "air drumming"]
    assert presets.preprocessing(r3d_preset).clip_options()["eval_scale"] == 128


def test_get_model_and_load_preset_give_the_converted_weights(r3d_preset):
    by_name = zoo.get_model("r3d_18", weights=r3d_preset, input_shape=(4, 32, 32, 3))
    loaded = zoo.load_preset(r3d_preset, input_shape=(4, 32, 32, 3))
    clip = np.random.default_rng(1).normal(size=(1, 4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(by_name(clip)), np.asarray(loaded(clip)), atol=1e-6)
    assert loaded.output.shape[-1] == 400


def test_other_class_count_replaces_the_classifier_with_a_message(r3d_preset, caplog):
    with caplog.at_level("WARNING", logger="vidzoo"):
        model = zoo.load_preset(r3d_preset, classes=7, input_shape=(4, 32, 32, 3))
    assert model.output.shape[-1] == 7
    assert "except logits" in caplog.text and "fine-tuning" in caplog.text
    donor = zoo.load_preset(r3d_preset, input_shape=(4, 32, 32, 3))
    for name in ("stem_conv", "res5_block2_bn2"):
        for mine, theirs in zip(model.get_layer(name).get_weights(),
                                donor.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)


def test_atfr_variant_takes_the_preset_and_a_new_sgs(r3d_preset, caplog):
    with caplog.at_level("WARNING", logger="vidzoo"):
        model = zoo.get_model("r3d_18_atfr", weights=r3d_preset, input_shape=(8, 32, 32, 3))
    assert "sgs" in caplog.text.lower()
    donor = zoo.load_preset(r3d_preset, input_shape=(8, 32, 32, 3))
    np.testing.assert_array_equal(model.get_layer("res4_block1_conv1").get_weights()[0],
                                  donor.get_layer("res4_block1_conv1").get_weights()[0])


def test_preset_without_top_keeps_the_backbone(r3d_preset):
    model = zoo.load_preset(r3d_preset, include_top=False, pooling="avg",
                            input_shape=(4, 32, 32, 3))
    assert model.output.shape[-1] == 512


def test_checkpoint_of_another_model_fails_listing_keys_and_writes_nothing(r3d_checkpoint,
                                                                           tmp_path):
    output = tmp_path / "out"
    with pytest.raises(CheckpointMismatchError) as error:
        convert("torchvision", "r2plus1d_18", r3d_checkpoint[0], str(output))
    message = str(error.value)
    assert "missing keys" in message and "layer1.0.conv1.0.0.weight" in message
    assert "unexpected keys" in message and "layer1.0.conv1.0.weight" in message
    assert not output.exists()


def test_checkpoint_with_another_class_count_fails_on_the_head_shape(r3d_checkpoint, tmp_path):
    with pytest.raises(CheckpointMismatchError, match=r"shape mismatches \(fc.weight: "
                       r"checkpoint \(400, 512\)"):
        convert("torchvision", "r3d_18", r3d_checkpoint[0], str(tmp_path / "out"), classes=10,
                class_names=[str(i) for i in range(10)])
    assert not (tmp_path / "out").exists()


def test_checkpoint_of_another_depth_fails(tmp_path):
    path = tmp_path / "x3d_l.pyth"
    torch.save({"model_state": hub.x3d_l().state_dict()}, path)
    with pytest.raises(CheckpointMismatchError, match="unexpected keys"):
        convert("pytorchvideo", "x3d_m", str(path), str(tmp_path / "out"))


def test_corrupt_and_non_checkpoint_files_fail_clearly(tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(os.urandom(256))
    with pytest.raises(CheckpointError, match="could not be read as a PyTorch checkpoint"):
        read_checkpoint(str(corrupt))
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(CheckpointError, match="holds no state_dict"):
        read_checkpoint(str(listing))
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(str(tmp_path / "missing.pth"))


def test_existing_output_is_refused_unless_overwrite(r3d_checkpoint, r3d_preset, tmp_path):
    with pytest.raises(FileExistsError, match="--overwrite"):
        convert("torchvision", "r3d_18", r3d_checkpoint[0], r3d_preset)
    target = tmp_path / "again"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    convert("torchvision", "r3d_18", r3d_checkpoint[0], str(target), overwrite=True)
    assert not (target / "stale.txt").exists() and presets.is_preset(str(target))


def test_unknown_source_or_model_lists_the_choices():
    with pytest.raises(ValueError, match="sources are mmaction2, pyslowfast, pytorchvideo"):
        convert("caffe2", "r3d_18", "x", "y")
    with pytest.raises(ValueError, match="it converts mc3_18, r2plus1d_18, r3d_18, s3d"):
        convert("torchvision", "x3d_s", "x", "y")
