"""TSM-ResNet: counts, shifts in every residual branch, clustering variant."""

import numpy as np
import pytest

import vidzoo.zoo as zoo
from vidzoo.layers import TemporalShift
from zoo_checks import assert_keras_round_trip, assert_trains_one_step, random_clips


def test_parameter_counts():
    assert zoo.reference_param_count(zoo.TSM_R50()) == 24_327_632
    # torchvision resnet18 has 11,689,512 with 1000 classes; 400 classes drop 600 x 513.
    assert zoo.reference_param_count(zoo.TSM_R18()) == 11_689_512 - 600 * 513


def test_every_residual_branch_shifts():
    model = zoo.TSM_R18(input_shape=(4, 32, 32, 3))
    shifts = [layer for layer in model.layers if isinstance(layer, TemporalShift)]
    assert len(shifts) == 8 and all(layer.shift_div == 8 for layer in shifts)
    convs = [layer.kernel.shape[0] for layer in model.layers if hasattr(layer, "kernel")
             and len(layer.kernel.shape) == 5]
    assert set(convs) == {1}  # 2D convs on each frame


def test_forward_on_any_length_and_training_step():
    model = zoo.TSM_R18(input_shape=(None, 32, 32, 3), classes=3)
    assert model(random_clips(1, (6, 32, 32, 3))).shape == (1, 3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_keras_round_trip(tmp_path):
    model = zoo.TSM_R18(input_shape=(4, 32, 32, 3), classes=3)
    assert_keras_round_trip(model, random_clips(2, (4, 32, 32, 3)), tmp_path)


def test_clustering_on_masked_full_videos(tmp_path):
    model = zoo.get_model("tsm_r18_clustering", input_shape=(12, 32, 32, 3), classes=3,
                          frame_mask=True,
                          temporal_clustering={"num_clusters": 4, "method": "slope"})
    clips = random_clips(2, (12, 32, 32, 3))
    mask = np.zeros((2, 12), "float32")
    mask[0, :12] = 1
    mask[1, :3] = 1
    sizes = zoo.with_adaptive_outputs(model).predict([clips, mask], verbose=0)
    sizes = sizes["temporal_clustering"]
    assert sizes.shape == (2, 4) and sizes[0].sum() == 12 and np.all(sizes[0] >= 1)
    np.testing.assert_array_equal(sizes[1], [1, 1, 1, 1])  # 3 frames: the last repeats
    assert model.get_layer("temporal_clustering").output[0].shape[1] == 4
    loaded = assert_keras_round_trip(model, [clips, mask], tmp_path)
    assert loaded.get_layer("temporal_clustering").method == "slope"


def test_frame_mask_needs_clustering():
    with pytest.raises(ValueError, match="frame_mask=True only applies"):
        zoo.TSM_R18(frame_mask=True)
