"""vidzoo.training.evaluate: metrics by hand, and multi-view evaluation of a run."""

import json

import numpy as np
import pytest

from vidzoo.training.evaluate import (
    _timed_forward,
    evaluate_run,
    mean_class_accuracy,
    top_k_hits,
    video_level,
)
from vidzoo.training.run_dir import load_run


def test_top_k_hits_by_hand():
    probabilities = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5]])
    labels = np.array([1, 2, 1])
    np.testing.assert_array_equal(top_k_hits(probabilities, labels, 1), [1, 0, 0])
    np.testing.assert_array_equal(top_k_hits(probabilities, labels, 2), [1, 1, 1])
    np.testing.assert_array_equal(top_k_hits(probabilities, labels, 5), [1, 1, 1])


def test_video_level_averages_the_softmax_of_each_videos_views():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([1, 1, 0, 0])
    video_ids = np.array([7, 7, 3, 3])
    averaged, video_labels = video_level(probabilities, labels, video_ids)
    np.testing.assert_allclose(averaged, [[0.45, 0.55], [0.55, 0.45]])  # ids sorted: 3, 7
    np.testing.assert_array_equal(video_labels, [0, 1])


def test_mean_class_accuracy_weighs_classes_equally():
    probabilities = np.eye(3)[[0, 0, 0, 1, 2]]  # predicts 0, 0, 0, 1, 2
    labels = np.array([0, 0, 0, 0, 2])  # class 0: 3/4 right, class 2: 1/1
    assert mean_class_accuracy(probabilities, labels) == pytest.approx((0.75 + 1.0) / 2)


@pytest.fixture(scope="module")
def evaluated(atfr_run):
    root, data = atfr_run
    result = evaluate_run(str(root / "run"), data["val"], num_clips=2, num_crops=3)
    return root, data, result


def test_multi_view_evaluation_of_an_adaptive_run(evaluated):
    root, _, result = evaluated
    assert result == json.loads((root / "run" / "evaluation.json").read_text())
    assert result["videos"] == 4 and result["views_per_video"] == 6 and result["clips"] == 24
    for key in ("clip_top1", "clip_top5", "video_top1", "video_top5", "mean_class_accuracy"):
        assert 0 <= result[key] <= 1
    assert result["video_top5"] == 1.0  # 4 classes: always within the top 5
    sgs = result["adaptive"]["sgs"]
    assert sgs["frames_in"] == 4 and sum(sgs["histogram"].values()) == 24
    assert 1 <= sgs["mean"] <= 4
    assert result["gflops_per_video"] == pytest.approx(6 * result["gflops_per_clip"])
    assert result["clips_per_second"] > 0


class _ShapeRecorder:
    """A stand-in model that records the batch shape of every forward pass."""

    def __init__(self):
        self.shapes = []

    def predict_on_batch(self, clips):
        self.shapes.append(clips.shape[0])
        return np.zeros((len(clips), 2))


@pytest.mark.parametrize("one_by_one", [False, True])
def test_each_new_input_shape_is_traced_once_outside_the_timing(one_by_one):
    runner, traced = _ShapeRecorder(), set()
    for batch in (8, 8, 3):
        outputs, seconds = _timed_forward(runner, np.zeros((batch, 2, 4, 4, 3)), one_by_one,
                                          traced)
        assert outputs.shape == (batch, 2) and seconds >= 0
    # Batched: an untimed pass before the first batch of 8 and before the batch
    # of 3. One clip per pass: every pass has the shape of one clip, warmed once.
    expected = [8, 8, 8, 3, 3] if not one_by_one else [1] * (1 + 8 + 8 + 3)
    assert runner.shapes == expected


def test_adaptive_gflops_follow_the_measured_b_prime(evaluated):
    from vidzoo.zoo.accounting import adaptive_counts
    from vidzoo.zoo.flops import clip_flops

    root, _, result = evaluated
    model, _, _ = load_run(str(root / "run"))
    rng = np.random.default_rng(3)
    base = rng.random((32, 32, 3), dtype=np.float32)
    candidates = np.stack([np.broadcast_to(base, (4, 32, 32, 3)),
                           np.stack([base * (t + 1) for t in range(4)]),
                           rng.random((4, 32, 32, 3), dtype=np.float32) * 4,
                           np.stack([base * 0.2, base * 0.2, base * 3, base * 3]),
                           np.stack([base * (t + 1) ** 3 for t in range(4)]),
                           np.zeros((4, 32, 32, 3), np.float32)])
    bins = adaptive_counts(model, candidates)["sgs"].tolist()
    first = bins.index(min(bins))
    second = bins.index(max(bins))
    assert bins[first] < bins[second], bins
    # Every layer after SGS keeps its time length, so a clip's MACs are
    # linear in B': cost(B') = fixed + per_frame * B'.
    low, high = clip_flops(model, candidates[first]), clip_flops(model, candidates[second])
    per_frame = (high - low) / (bins[second] - bins[first])
    fixed = low - per_frame * bins[first]
    histogram = result["adaptive"]["sgs"]["histogram"]
    expected = sum((fixed + per_frame * int(b)) * n for b, n in histogram.items())
    expected /= result["clips"]
    assert result["gflops_per_clip"] == pytest.approx(expected / 1e9, rel=1e-9)


def test_bad_run_or_data_give_clear_errors(evaluated, tmp_path):
    root, data, _ = evaluated
    with pytest.raises(ValueError, match="not a finished training run"):
        evaluate_run(str(tmp_path), data["val"])
    with pytest.raises(ValueError, match="does not exist"):
        evaluate_run(str(root / "run"), str(tmp_path / "nothing.csv"))
    with pytest.raises(ValueError, match="num_crops 1 or 3; got 1 and 2"):
        evaluate_run(str(root / "run"), data["val"], num_clips=1, num_crops=2)


def test_a_preset_is_evaluated_with_its_own_preprocessing_and_class_names(tmp_path):
    from vidzoo import zoo
    from vidzoo.tf_data.video_io import encode_video
    from vidzoo.training.evaluate import evaluate_preset
    from vidzoo.zoo import presets

    names = ["left", "right", "up"]
    model = zoo.get_model("r3d_18", classes=3, input_shape=(4, 32, 32, 3))
    preprocessing = {"mean": [0.4, 0.4, 0.4], "std": [0.2, 0.2, 0.2], "frames": 4,
                     "stride": 2, "resize": [36], "crop": 32}
    preset = presets.save_preset(model, str(tmp_path / "preset"), "r3d_18",
                                 {"classes": 3, "input_shape": [4, 32, 32, 3]},
                                 {"source": "test", "preprocessing": preprocessing,
                                  "class_names": names})
    rng = np.random.default_rng(0)
    for name in ("right", "up"):  # a subset of the preset's classes, in folders
        (tmp_path / "data" / name).mkdir(parents=True)
        encode_video(str(tmp_path / "data" / name / "a.mp4"),
                     rng.integers(0, 255, (16, 40, 48, 3), dtype=np.uint8))
    result = evaluate_preset(preset, str(tmp_path / "data"), num_clips=2, num_crops=1,
                             output=str(tmp_path / "result.json"))
    assert result["videos"] == 2 and result["views_per_video"] == 2
    assert (tmp_path / "result.json").exists() and result["preset"] == preset
    with pytest.raises(ValueError, match="not a known class name"):
        (tmp_path / "data" / "sideways").mkdir()
        encode_video(str(tmp_path / "data" / "sideways" / "b.mp4"),
                     rng.integers(0, 255, (16, 40, 48, 3), dtype=np.uint8))
        evaluate_preset(preset, str(tmp_path / "data"), num_clips=1, num_crops=1)
