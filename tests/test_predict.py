"""vidzoo.predict and the `vidzoo convert` / `vidzoo predict` commands, on a
small converted model and real H.264 files."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch  # the test extras install the references (setup.py)
import torchvision

import converter_checks as checks
from vidzoo import predict, zoo
from vidzoo.convert import convert_state
from vidzoo.convert.checkpoint import state_dict_of
from vidzoo.tf_data.video_io import encode_video
from vidzoo.zoo import presets

PREPROCESSING = {"mean": [0.45, 0.45, 0.45], "std": [0.225, 0.225, 0.225], "frames": 4,
                 "stride": 2, "resize": [40], "crop": 32}


def small_preset(folder, model_name, classes):
    """A preset of `model_name` at 4 x 32 x 32 with random weights."""
    model = zoo.get_model(model_name, classes=classes, input_shape=(4, 32, 32, 3))
    names = [f"class {i}" for i in range(classes)]
    return presets.save_preset(model, str(folder), model_name,
                               {"classes": classes, "input_shape": [4, 32, 32, 3]},
                               {"source": "test", "preprocessing": PREPROCESSING,
                                "class_names": names})


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    clip = folder / "clip.mp4"
    encode_video(str(clip), rng.integers(0, 255, (50, 48, 64, 3), dtype=np.uint8), fps=25)
    broken = folder / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    return str(clip), str(broken)


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return small_preset(tmp_path_factory.mktemp("presets") / "r3d", "r3d_18", 5)


def test_predict_averages_the_views_and_names_the_classes(preset, videos):
    clip, _ = videos
    [result] = predict.predict([clip], preset, top_k=3, num_clips=2, num_crops=3)
    assert [label["class"] for label in result["top_k"]][0].startswith("class ")
    probabilities = [label["probability"] for label in result["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == 3
    predictor = predict.Predictor(preset, num_clips=2, num_crops=3)
    indices = predictor.indices(0, 50)
    assert len(indices) == 8 and indices.max() < 50  # 2 clips of 4 frames at stride 2
    from vidzoo.tf_data.decode import read_frames

    frames, _ = read_frames(clip, indices.tolist(),
                            max_short_side=predictor.config.decode_short_side("eval"))
    views = np.asarray(predict.pipeline._eval_views(frames, predictor.config))
    expected = np.asarray(predictor.model.predict(views, verbose=0)).mean(axis=0)
    best = int(np.argmax(expected))
    assert result["top_k"][0]["index"] == best
    assert result["top_k"][0]["probability"] == pytest.approx(float(expected[best]), abs=1e-5)


def test_timeline_windows_carry_timestamps_and_csv(preset, videos, tmp_path):
    clip, _ = videos
    [result] = predict.predict([clip], preset, top_k=2, num_clips=1, num_crops=1,
                               window=0.8, window_stride=0.4)
    starts = [row["start_s"] for row in result["timeline"]]
    assert starts == [0.0, 0.4, 0.8, 1.2] and result["timeline"][0]["end_s"] == 0.8
    path = tmp_path / "timeline.csv"
    predict.write_timeline_csv([result], str(path))
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 8 and rows[2]["start_s"] == "0.4" and rows[2]["rank"] == "1"


def test_unreadable_video_is_reported_and_skipped(preset, videos):
    clip, broken = videos
    results = predict.predict([broken, clip], preset, top_k=1, num_clips=1, num_crops=1)
    assert "error" in results[0] and "cannot open" in results[0]["error"]
    assert "top_k" in results[1]
    assert "skipped (cannot open" in predict.format_results(results)


def test_atfr_model_reports_kept_frames_and_gflops(tmp_path, videos):
    clip, _ = videos
    preset = small_preset(tmp_path / "atfr", "x3d_xs_atfr", 3)
    [result] = predict.predict([clip], preset, top_k=1, num_clips=2, num_crops=1)
    [(layer, kept)] = result["frames_kept"].items()
    assert "sgs" in layer and len(kept) == 2 and all(1 <= k <= 4 for k in kept)
    assert len(result["gflops_per_clip"]) == 2 and min(result["gflops_per_clip"]) > 0


def run_cli(*args):
    return subprocess.run([sys.executable, "-c", "from vidzoo.cli import run; run()", *args],
                          capture_output=True, text=True, timeout=600)


def test_convert_and_predict_commands(tmp_path, videos):
    clip, broken = videos
    reference = checks.randomize(torchvision.models.video.r3d_18(num_classes=3))
    checkpoint = tmp_path / "r3d.pth"
    torch.save(reference.state_dict(), checkpoint)
    names = tmp_path / "names.txt"
    names.write_text("walking\nrunning\njumping\n")
    output = tmp_path / "preset"
    args = ["convert", "--source=torchvision", "--model=r3d_18", f"--checkpoint={checkpoint}",
            f"--output={output}", "--classes=3", f"--class_names={names}"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    again = run_cli(*args)
    assert again.returncode == 2 and "exists; pass overwrite=True (--overwrite)" in again.stderr
    result = run_cli("predict", clip, broken, f"--weights={output}", "--top_k=2", "--num_clips=1",
                     "--num_crops=1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report[0]["top_k"][0]["class"] in ("walking", "running", "jumping")
    assert "error" in report[1]
    # the converted weights, run through the preset's preprocessing, are the reference's
    keras_model, _ = convert_state("torchvision", "r3d_18", state_dict_of(reference.state_dict()),
                                   classes=3)
    assert keras_model.count_params() - sum(  # BN moving statistics are weights in Keras only
        int(np.prod(w.shape)) for layer in keras_model.layers for w in layer.non_trainable_weights
    ) == sum(p.numel() for p in reference.parameters())


def test_the_predictor_folds_batch_norm_and_keeps_the_models_outputs(preset):
    from vidzoo.zoo.folding import FoldedBatchNorm

    predictor = predict.Predictor(preset, num_clips=1, num_crops=1)
    assert any(isinstance(layer, FoldedBatchNorm) for layer in predictor.model.layers)
    clips = np.random.default_rng(5).normal(size=(2, 4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(predictor.model.predict_on_batch(clips),
                               zoo.load_preset(preset).predict_on_batch(clips),
                               rtol=1e-4, atol=1e-6)
