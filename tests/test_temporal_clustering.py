"""TemporalClustering (seed 004, section 3.3) on hand-made Hamming distances."""

import numpy as np
import pytest
import tensorflow as tf

from layer_checks import random_video, run_standard_checks
from vidzoo.layers import TemporalClustering, temporal_clustering
from vidzoo.layers.temporal_clustering import neighbour_hamming_distances


def frames_with_flips(flips, width=12):
    """One clip whose neighbouring frames differ in sign at `flips[i]` positions."""
    frames = [np.ones(width)]
    for count in flips:
        frame = frames[-1].copy()
        frame[:count] *= -1
        frames.append(frame)
    return np.stack(frames).reshape(1, len(frames), 1, 1, width).astype("float32")


# Hamming counts between the 10 frames (as in the paper's Fig. 3: 10 frames, g = 3).
FLIPS = [1, 1, 1, 4, 1, 1, 6, 1, 1]


def sizes(x, g, method, mask=None):
    return temporal_clustering(x, g, method, mask)[1].numpy()[0].tolist()


def test_normalized_hamming_distances():
    x = frames_with_flips(FLIPS)
    np.testing.assert_allclose(neighbour_hamming_distances(x).numpy()[0], np.array(FLIPS) / 12)


def test_cumulative_eq8_by_hand():
    # C_i = 0,1,2,3,7,8,9,15,16,17; ceil(3 C_i / 17) = 0,1,1,1,2,2,2,3,3,3 and
    # frame 1 (C_1 = 0) joins cluster 1: clusters f1-f4, f5-f7, f8-f10.
    assert sizes(frames_with_flips(FLIPS), 3, "cumulative") == [4, 3, 3]


def test_slope_cuts_at_largest_distances():
    # The two largest distances are 6 (f7 -> f8) and 4 (f4 -> f5).
    assert sizes(frames_with_flips(FLIPS), 3, "slope") == [4, 3, 3]
    assert sizes(frames_with_flips([1, 5, 1, 1, 2, 1, 1, 1, 1]), 3, "slope") == [2, 3, 5]


def test_uniform_segments():
    assert sizes(frames_with_flips(FLIPS), 3, "uniform") == [3, 3, 4]


def test_means_are_cluster_averages():
    x = frames_with_flips(FLIPS)
    means = temporal_clustering(x, 3, "cumulative")[0].numpy()
    for k, (lo, hi) in enumerate([(0, 4), (4, 7), (7, 10)]):
        np.testing.assert_allclose(means[0, k], x[0, lo:hi].mean(axis=0), rtol=1e-6)


def test_one_big_jump_still_gives_g_nonempty_clusters():
    # All distance in one step: eq. 8 alone would leave cluster 2 empty.
    x = frames_with_flips([0, 0, 0, 12, 0, 0, 0, 0, 0])
    assert sizes(x, 3, "cumulative") == [4, 1, 5]


def test_all_identical_frames_fall_back_to_uniform():
    x = np.ones((1, 6, 2, 2, 3), "float32")
    for method in ("cumulative", "slope", "uniform"):
        assert sizes(x, 3, method) == [2, 2, 2]
        assert np.all(np.isfinite(temporal_clustering(x, 3, method)[0].numpy()))


def test_fewer_frames_than_clusters_repeat_last_frame():
    x = random_video((1, 2, 2, 2, 3))
    means, counts = temporal_clustering(x, 4, "slope")
    assert counts.numpy()[0].tolist() == [1, 1, 1, 1]
    np.testing.assert_allclose(means.numpy()[0], x[0, [0, 1, 1, 1]], rtol=1e-6)


def test_mask_uses_only_valid_prefix():
    x = frames_with_flips(FLIPS)
    mask = np.array([[1] * 5 + [0] * 5], "float32")
    # Valid C_i = 0,1,2,3,7: ceil(3 C_i / 7) = 0,1,1,2,3 -> clusters of 3, 1, 1.
    assert sizes(x, 3, "cumulative", mask) == [3, 1, 1]
    padded = np.concatenate([x[:, :5], np.zeros_like(x[:, 5:])], axis=1)
    np.testing.assert_allclose(
        temporal_clustering(padded, 3, "cumulative", mask)[0].numpy(),
        temporal_clustering(x[:, :5], 3, "cumulative")[0].numpy(), rtol=1e-6)


def test_gradients_flow_through_means_only():
    x = tf.constant(frames_with_flips(FLIPS))
    with tf.GradientTape() as tape:
        tape.watch(x)
        means, _ = temporal_clustering(x, 3, "cumulative")
        loss = tf.reduce_sum(means)
    grad = tape.gradient(loss, x).numpy()[0, :, 0, 0, 0]
    np.testing.assert_allclose(grad, [1 / 4] * 4 + [1 / 3] * 3 + [1 / 3] * 3, rtol=1e-6)


def test_layer_with_mask_input_and_sizes():
    x = random_video((2, 6, 3, 3, 4))
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3], "float32")
    means, counts = TemporalClustering(3, "slope", return_cluster_sizes=True)([x, mask])
    assert means.shape == (2, 3, 3, 3, 4)
    assert counts.numpy().sum(axis=1).tolist() == [6, 3]


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        TemporalClustering(method="kmeans")
    with pytest.raises(ValueError, match="rank 5"):
        TemporalClustering()(random_video((2, 6, 4)))


@pytest.mark.parametrize("method", ["cumulative", "slope", "uniform"])
def test_framework_checks(method, tmp_path):
    run_standard_checks(lambda: TemporalClustering(3, method), (2, 7, 4, 4, 5), tmp_path,
                        trains=False)
