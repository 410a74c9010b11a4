"""Similarity Guided Sampling: eqs. (1)-(8) of seed 000 on hand-made cases."""

import math
from fractions import Fraction

import keras
import numpy as np
import pytest
import tensorflow as tf

from layer_checks import random_video, run_standard_checks
from vidzoo.layers import (
    FrameMaskedBatchNormalization,
    FrameMaskedGlobalAveragePooling3D,
    SimilarityGuidedSampling,
    similarity_guided_sampling,
)
from vidzoo.layers.sgs import kronecker_kernel_weights, linear_kernel_weights, valid_frames

kernel_weights = {"linear": linear_kernel_weights, "kronecker": kronecker_kernel_weights}


def reference_sgs(features, delta, num_bins, kernel):
    """Straight loop over eqs. (2)-(6) for one clip, all B bins, in exact
    rational arithmetic so frames on a bin edge are decided without round-off."""
    delta = [Fraction(float(d)) for d in delta]
    gamma = max(delta) / (2 * num_bins)
    outputs = []
    for b in range(1, num_bins + 1):
        beta = (2 * b - 1) * gamma
        if kernel == "linear":
            weights = [max(Fraction(0), 1 - abs(d - beta) / gamma) for d in delta]
        else:
            member = [Fraction(int(math.floor(abs(d - beta) / gamma) == 0)) for d in delta]
            weights = [m / max(sum(member), 1) for m in member]
        outputs.append(sum(float(w) * frame for w, frame in zip(weights, features)))
    return np.stack(outputs)


def test_hand_computed_linear_kernel():
    # B = T = 3, Delta = (0.2, 0.5, 1.0): gamma = 1/6, centres 1/6, 1/2, 5/6.
    # Frame 1: weight 1 - |0.2 - 1/6| * 6 = 0.8 in bin 1; frame 2 sits on bin 2's
    # centre (weight 1); frame 3 = Delta_max sits on bin 3's outer edge (weight 0).
    features = np.arange(1, 4, dtype="float32").reshape(1, 3, 1, 1, 1)
    delta = np.array([[0.2, 0.5, 1.0]], "float32")
    outputs, counts = similarity_guided_sampling(features, delta, 3)
    np.testing.assert_allclose(np.asarray(outputs).ravel(), [0.8 * 1, 1.0 * 2], rtol=1e-6)
    assert np.asarray(counts).tolist() == [2]


def test_hand_computed_kronecker_kernel_averages():
    features = np.array([1, 3, 10, 7], "float32").reshape(1, 4, 1, 1, 1)
    delta = np.array([[0.2, 0.3, 0.8, 0.99]], "float32")  # gamma = 0.99/8
    outputs, counts = similarity_guided_sampling(features, delta, 4, kernel="kronecker")
    # Bins [0, .2475) [.2475, .495) [.495, .7425) [.7425, .99): frames 1 | 2 | - | 3
    # (frame 4 = Delta_max is on the open edge and falls out, as eq. 5 is written).
    np.testing.assert_allclose(np.asarray(outputs).ravel(), [1.0, 3.0, 10.0], rtol=1e-6)
    assert np.asarray(counts).tolist() == [3]


def test_edge_epsilon_matches_released_code():
    features = np.ones((1, 3, 1, 1, 1), "float32")
    delta = np.array([[0.2, 0.5, 1.0]], "float32")
    _, counts = similarity_guided_sampling(features, delta, 3, edge_epsilon=1e-7)
    assert np.asarray(counts).tolist() == [3]  # the Delta_max frame keeps its bin


@pytest.mark.parametrize("kernel", ["linear", "kronecker"])
def test_argmax_frame_on_edge_identically_in_eager_and_graph(kernel):
    # Regression: Delta_max must land exactly on bin B's outer edge (weight 0)
    # however the division is compiled, or B' differs between eager and graph.
    rng = np.random.default_rng(7)
    features = tf.constant(rng.normal(size=(500, 6, 1, 1, 2)).astype("float32"))
    delta = tf.constant(rng.uniform(0.1, 3.0, size=(500, 6)).astype("float32"))
    weights_of = kernel_weights[kernel]
    eager = weights_of(delta, 6).numpy()
    graph = tf.function(lambda d: weights_of(d, 6))(delta).numpy()
    argmax = np.argmax(delta.numpy(), axis=1)
    assert np.all(eager[np.arange(500), :, argmax] == 0)
    np.testing.assert_array_equal(eager > 0, graph > 0)
    _, counts_eager = similarity_guided_sampling(features, delta, 6, kernel)
    _, counts_graph = tf.function(
        lambda f, d: similarity_guided_sampling(f, d, 6, kernel))(features, delta)
    np.testing.assert_array_equal(counts_eager.numpy(), counts_graph.numpy())


@pytest.mark.parametrize("kernel", ["linear", "kronecker"])
def test_matches_numpy_loop_and_compacts_bins(kernel):
    rng = np.random.default_rng(5)
    features = rng.normal(size=(2, 6, 2, 2, 3)).astype("float32")
    delta = np.array([[0.13, 0.52, 0.57, 0.97, 0.21, 0.88], [0.4, 0.42, 0.41, 0.9, 0.43, 0.39]],
                     "float32")
    outputs, counts = similarity_guided_sampling(features, delta, 6, kernel=kernel)
    outputs, counts = np.asarray(outputs), np.asarray(counts)
    for clip in range(2):
        full = reference_sgs(features[clip], delta[clip], 6, kernel)
        active = [b for b in range(6) if np.abs(full[b]).sum() > 0]
        assert counts[clip] == len(active)
        np.testing.assert_allclose(outputs[clip, : len(active)], full[active], atol=1e-5)
        assert np.all(outputs[clip, len(active):] == 0)
    assert outputs.shape[1] == counts.max()
    assert counts[0] != counts[1]


def test_linear_kernel_gradients_follow_eqs_7_and_8_and_the_delta_max_path():
    rng = np.random.default_rng(6)
    features = tf.constant(rng.normal(size=(1, 5, 2, 1, 2)).astype("float32"))
    delta = tf.constant([[0.11, 0.33, 0.52, 1.0, 0.74]], "float32")
    num_bins = 5
    probe = rng.normal(size=(1, num_bins, 2, 1, 2)).astype("float32")

    def loss_of(feat, dlt):
        out, _ = similarity_guided_sampling(feat, dlt, num_bins, drop_empty_bins=False)
        return tf.reduce_sum(out * probe)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch([features, delta])
        loss = loss_of(features, delta)
    grad_features, grad_delta = tape.gradient(loss, [features, delta])

    # Hand computation: eq. (7) for I; eq. (8) (slope / gamma) for each Delta_t
    # with gamma fixed, plus the path through Delta_max = Delta_4, since
    # u_t = Delta_t / gamma and du_t / dDelta_max = -u_t / Delta_max.
    d = [Fraction(float(v)) for v in delta.numpy()[0]]
    gamma = max(d) / (2 * num_bins)
    argmax = 3
    want_features = np.zeros((5, 2, 1, 2))
    want_delta = np.zeros(5)
    for t in range(5):
        for b in range(1, num_bins + 1):
            beta = (2 * b - 1) * gamma
            psi = float(max(Fraction(0), 1 - abs(d[t] - beta) / gamma))  # eq. (7)
            want_features[t] += psi * probe[0, b - 1]
            if abs(beta - d[t]) >= gamma:  # eq. (8)
                slope = Fraction(0)
            elif d[t] <= beta:
                slope = 1 / gamma
            else:
                slope = -1 / gamma
            upstream = np.sum(features.numpy()[0, t] * probe[0, b - 1])
            want_delta[t] += float(slope) * upstream
            want_delta[argmax] -= float(slope * d[t] / max(d)) * upstream
    np.testing.assert_allclose(grad_features.numpy()[0], want_features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_delta.numpy()[0], want_delta, rtol=1e-4, atol=1e-4)
    assert abs(grad_delta.numpy()[0, argmax]) > 1.0  # the Delta_max frame is trained too


def _directional_check(loss_of, point, seeds, step=1e-6):
    """Gradient . v against the central difference of `loss_of` along v."""
    point = tf.constant(point, "float64")
    with tf.GradientTape() as tape:
        tape.watch(point)
        loss = loss_of(point)
    grad = tape.gradient(loss, point).numpy()
    for seed in seeds:
        v = np.random.default_rng(seed).normal(size=point.shape)
        numeric = (loss_of(point + step * v) - loss_of(point - step * v)).numpy() / (2 * step)
        np.testing.assert_allclose(np.sum(grad * v), numeric, rtol=1e-5, atol=1e-7)
    return grad


@pytest.mark.parametrize("clip_seed", [0, 1, 2])
def test_similarity_gradient_matches_finite_differences_delta_max_included(clip_seed):
    rng = np.random.default_rng(clip_seed)
    features = rng.normal(size=(2, 8, 2, 2, 3))
    probe = rng.normal(size=(2, 8, 2, 2, 3))
    delta = rng.uniform(0.2, 2.0, size=(2, 8))

    def loss_of(dlt):
        out, _ = similarity_guided_sampling(features, dlt, 8, drop_empty_bins=False)
        return tf.reduce_sum(out * probe)

    grad = _directional_check(loss_of, delta, seeds=range(4))
    for n in range(2):  # the argmax frame's own direction, alone
        one_hot = np.zeros_like(delta)
        one_hot[n, np.argmax(delta[n])] = 1.0
        numeric = (loss_of(delta + 1e-6 * one_hot) - loss_of(delta - 1e-6 * one_hot)) / 2e-6
        np.testing.assert_allclose(grad[n, np.argmax(delta[n])], numeric.numpy(), rtol=1e-5,
                                   atol=1e-7)
    # The forward pass is invariant to scaling Delta: sum_t Delta_t dL/dDelta_t = 0.
    np.testing.assert_allclose(np.sum(grad * delta, axis=1), 0.0, atol=1e-9)


@pytest.mark.parametrize("similarity", ["magnitude", "distance_to_mean"])
@pytest.mark.parametrize("options", [dict(kernel="linear"),
                                     dict(kernel="kronecker", kronecker_gradient="none"),
                                     dict(kernel="linear", embedding_norm=True,
                                          hidden_units="half")])
def test_layer_input_gradient_matches_finite_differences(similarity, options):
    # The whole layer (f_s included) in float64: the directional derivative of
    # its output w.r.t. its input equals the central difference, on several clips.
    for clip_seed in (0, 1):
        layer = SimilarityGuidedSampling(similarity=similarity, drop_empty_bins=False,
                                         dtype="float64", similarity_gradient_scale=1.0,
                                         **options)
        x = np.random.default_rng(clip_seed).normal(size=(1, 8, 4, 4, 8))
        layer(x)
        probe = tf.constant(np.random.default_rng(10 + clip_seed).normal(size=(1, 8, 4, 4, 8)))
        _directional_check(lambda v: tf.reduce_sum(layer(v, training=False) * probe), x,
                           seeds=range(3))


def test_kronecker_straight_through_gradient_is_the_released_surrogate():
    # Forward: bin averages (eq. 5). Backward w.r.t. I: eq. 7 exactly (finite
    # differences). Backward w.r.t. u: sum_b dL/dPsi_bt * Psi_bt (DeltaKernel's
    # masked, count-normalised pass-through), chained through u = 2B Delta / max.
    rng = np.random.default_rng(3)
    features = rng.normal(size=(1, 6, 1, 1, 2))
    probe = rng.normal(size=(1, 6, 1, 1, 2))
    delta = np.array([[0.3, 0.35, 1.1, 0.9, 2.0, 1.05]])

    def loss_of(feat, dlt):
        out, _ = similarity_guided_sampling(feat, dlt, 6, kernel="kronecker",
                                            drop_empty_bins=False)
        return tf.reduce_sum(out * probe)

    _directional_check(lambda f: loss_of(f, delta), features, seeds=range(3))
    d = tf.constant(delta)
    with tf.GradientTape() as tape:
        tape.watch(d)
        loss = loss_of(features, d)
    grad = tape.gradient(loss, d).numpy()[0]
    u = 12 * delta[0] / delta[0].max()
    weights = np.asarray(kronecker_kernel_weights(tf.constant(delta), 6))[0]  # (B, T)
    upstream = np.einsum("bhwc,thwc->bt", probe[0], features[0])
    grad_u = np.sum(upstream * weights, axis=0)
    want = grad_u * 12 / delta[0].max()
    want[np.argmax(delta[0])] = -np.sum(grad_u * u) / delta[0].max()  # u_max is pinned
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-9)
    assert np.all(np.abs(grad) > 0)


def test_kronecker_gradient_option_decides_whether_f_s_trains():
    x = tf.constant(random_video((2, 6, 3, 3, 4), seed=5))
    for option, trains in (("straight_through", True), ("none", False)):
        layer = SimilarityGuidedSampling(kernel="kronecker", kronecker_gradient=option)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) * tf.range(1.0, 5.0))
        grads = tape.gradient(loss, layer.trainable_weights)
        moved = any(g is not None and np.any(np.asarray(g) != 0) for g in grads)
        assert moved == trains


def test_similarity_gradient_scale_scales_f_s_gradients_only():
    x = tf.constant(random_video((2, 6, 3, 3, 4), seed=5))
    outputs, grads = {}, {}
    for scale in (1.0, 0.5, 0.0):
        keras.utils.set_random_seed(3)
        layer = SimilarityGuidedSampling(similarity_gradient_scale=scale)
        with tf.GradientTape() as tape:
            outputs[scale] = layer(x)
            loss = tf.reduce_sum(outputs[scale] * tf.range(1.0, 5.0))
        grads[scale] = [np.zeros(w.shape) if g is None else np.asarray(g)
                        for w, g in zip(layer.trainable_weights,
                                        tape.gradient(loss, layer.trainable_weights))]
        assert SimilarityGuidedSampling.from_config(layer.get_config()).similarity_gradient_scale == scale
    np.testing.assert_array_equal(outputs[0.0], outputs[1.0])
    np.testing.assert_array_equal(outputs[0.5], outputs[1.0])
    assert any(np.abs(g).max() > 0 for g in grads[1.0])
    for full, half, none in zip(grads[1.0], grads[0.5], grads[0.0]):
        np.testing.assert_allclose(half, 0.5 * full, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(none, 0.0)
    assert SimilarityGuidedSampling().similarity_gradient_scale == 0.1  # the study's winner
    with pytest.raises(ValueError, match="similarity_gradient_scale must be >= 0"):
        SimilarityGuidedSampling(similarity_gradient_scale=-1.0)


def test_f_s_options_build_the_released_code_variant():
    x = random_video((2, 6, 3, 3, 8))
    paper = SimilarityGuidedSampling()
    released = SimilarityGuidedSampling(hidden_units="half", embedding_norm=True)
    paper(x)
    released(x)
    assert paper.embed_hidden.units == 8 and paper.embed_norm is None
    assert released.embed_hidden.units == 4
    assert released.embed_norm.momentum == 0.9 and released.embed_norm.epsilon == 1e-5
    # Inference-mode Z is BatchNorm of the plain embedding with the moving statistics.
    z = released.embed_out(released.embed_hidden(x.mean(axis=(2, 3)))).numpy()
    norm = released.embed_norm
    want = (z - norm.moving_mean.numpy()) / np.sqrt(norm.moving_variance.numpy() + 1e-5)
    want = want * norm.gamma.numpy() + norm.beta.numpy()
    np.testing.assert_allclose(released.embeddings(x, training=False).numpy(), want, rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(ValueError, match="hidden_units"):
        SimilarityGuidedSampling(hidden_units="quarter")
    with pytest.raises(ValueError, match="kronecker_gradient"):
        SimilarityGuidedSampling(kronecker_gradient="identity")


@pytest.mark.parametrize("kernel", ["linear", "kronecker"])
def test_all_equal_delta_gives_one_finite_bin(kernel):
    features = random_video((2, 4, 2, 2, 3))
    delta = np.array([[0.0, 0.0, 0.0, 0.0], [0.7, 0.7, 0.7, 0.7]], "float32")
    outputs, counts = similarity_guided_sampling(features, delta, 4, kernel=kernel)
    outputs = np.asarray(outputs)
    assert np.asarray(counts).tolist() == [1, 1]
    assert np.all(np.isfinite(outputs))
    reduce = np.sum if kernel == "linear" else np.mean
    np.testing.assert_allclose(outputs[:, 0], reduce(features, axis=1), rtol=1e-5, atol=1e-6)


def test_identical_frames_never_nan_in_layer_and_gradients():
    frame = random_video((1, 1, 4, 4, 6))
    clip = tf.constant(np.repeat(frame, 8, axis=1))
    layer = SimilarityGuidedSampling(similarity="distance_to_mean", return_active_bins=True)
    with tf.GradientTape() as tape:
        tape.watch(clip)
        outputs, counts = layer(clip)
        loss = tf.reduce_sum(outputs)
    grads = tape.gradient(loss, [clip] + layer.trainable_weights)
    assert counts.numpy().tolist() == [1]
    assert np.all(np.isfinite(outputs.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_redundant_clip_gets_fewer_bins_than_varied_clip():
    varied = random_video((1, 8, 4, 4, 6), seed=11)
    redundant = np.repeat(varied[:, :1], 8, axis=1)
    layer = SimilarityGuidedSampling(return_active_bins=True)
    _, counts = layer(np.concatenate([redundant, varied]))
    counts = counts.numpy()
    assert counts[0] == 1 and counts[1] > 1


def test_magnitude_and_distance_to_mean_similarities_differ():
    x = random_video((1, 6, 3, 3, 4), seed=12)
    magnitude = SimilarityGuidedSampling(similarity="magnitude")
    to_mean = SimilarityGuidedSampling(similarity="distance_to_mean")
    magnitude(x)
    to_mean(x)
    to_mean.set_weights(magnitude.get_weights())
    z = magnitude.embed_out(magnitude.embed_hidden(x.mean(axis=(2, 3)))).numpy()[0]
    np.testing.assert_allclose(magnitude.similarity_values(x).numpy()[0],
                               np.linalg.norm(z, axis=-1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_mean.similarity_values(x).numpy()[0],
                               np.linalg.norm(z - z.mean(0), axis=-1), rtol=1e-4, atol=1e-5)


def test_keep_all_bins_option_has_static_length():
    layer = SimilarityGuidedSampling(num_bins=5, drop_empty_bins=False)
    assert layer(random_video((2, 8, 2, 2, 3))).shape == (2, 5, 2, 2, 3)


@pytest.mark.parametrize("kernel", ["linear", "kronecker"])
def test_keeping_all_bins_pads_the_compacted_output_with_zeros(kernel):
    # Regression: the static form left empty bins in place, so a clip whose
    # first bins were empty had zeros where the frame-masked layers after SGS
    # look for its real frames (an ATFR model then predicted from nothing).
    rng = np.random.default_rng(5)
    features = rng.normal(size=(2, 6, 2, 2, 3)).astype("float32")
    delta = np.array([[0.9, 0.95, 0.97, 0.99, 0.92, 1.0], [0.4, 0.42, 0.41, 0.9, 0.43, 0.39]],
                     "float32")  # clip 0: bins 1-4 empty
    dynamic, counts = similarity_guided_sampling(features, delta, 6, kernel=kernel)
    static, static_counts = similarity_guided_sampling(features, delta, 6, kernel=kernel,
                                                       drop_empty_bins=False)
    dynamic, static = np.asarray(dynamic), np.asarray(static)
    np.testing.assert_array_equal(np.asarray(counts), np.asarray(static_counts))
    assert static.shape[1] == 6 and dynamic.shape[1] == int(np.max(counts)) < 6
    np.testing.assert_allclose(static[:, : dynamic.shape[1]], dynamic, rtol=0, atol=1e-6)
    assert np.all(static[:, dynamic.shape[1]:] == 0)
    assert np.abs(static[0, 0]).sum() > 0  # clip 0's only bin moved to the front


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="rank 5"):
        SimilarityGuidedSampling()(random_video((2, 8, 4, 4)))
    with pytest.raises(ValueError, match="kernel"):
        SimilarityGuidedSampling(kernel="gaussian")
    with pytest.raises(ValueError, match="similarity"):
        SimilarityGuidedSampling(similarity="angular")
    import keras

    with pytest.raises(ValueError, match="static number of frames"):
        SimilarityGuidedSampling()(keras.Input((None, 4, 4, 3)))


@pytest.mark.parametrize("options", [dict(kernel="linear"), dict(kernel="kronecker"),
                                     dict(kernel="linear", embedding_norm=True,
                                          hidden_units="half")])
def test_framework_checks(options, tmp_path):
    run_standard_checks(
        lambda: SimilarityGuidedSampling(return_active_bins=True, **options),
        (2, 6, 4, 4, 5), tmp_path,
    )


# ---------------------------------------------------------------------------
# Layers downstream of SGS: padded frames are ignored.


def test_valid_frames_after_a_temporal_stride():
    valid = valid_frames(np.array([1, 4, 5], "int32"), 3, temporal_stride=2)
    np.testing.assert_array_equal(np.asarray(valid), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])


def _padded_batch():
    """Two clips padded to 3 frames: clip 0 has B' = 1, clip 1 has B' = 3.
    Padded frames hold 100 so any leak shows."""
    x = np.array([[1.0, 100, 100], [2.0, 4.0, 8.0]], "float32")
    return x[:, :, None, None, None] * np.ones((1, 1, 2, 1, 1), "float32"), np.array([1, 3])


def test_masked_batch_norm_uses_real_frames_only():
    features, counts = _padded_batch()
    layer = FrameMaskedBatchNormalization(momentum=0.5, epsilon=0.0)
    outputs = np.asarray(layer([features, counts], training=True))[..., 0, 0, 0]
    real = np.array([1.0, 2.0, 4.0, 8.0])  # moments over these (each frame has 2 pixels)
    mean, std = real.mean(), real.std()
    np.testing.assert_allclose(outputs[0], [(1 - mean) / std, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(outputs[1], (np.array([2, 4, 8]) - mean) / std, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [0.5 * mean], rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), [0.5 + 0.5 * std ** 2], rtol=1e-5)
    inference = np.asarray(layer([features, counts], training=False))[..., 0, 0, 0]
    assert inference[0, 1] == 0 and inference[0, 2] == 0


def test_masked_global_average_divides_by_real_frames():
    features, counts = _padded_batch()
    pooled = FrameMaskedGlobalAveragePooling3D()([features, counts])
    np.testing.assert_allclose(np.asarray(pooled)[:, 0], [1.0, 14.0 / 3], rtol=1e-6)
    strided = FrameMaskedGlobalAveragePooling3D(temporal_stride=2, keepdims=True)
    # after stride 2, clip 1 (B' = 3) keeps ceil(3 / 2) = 2 frames of these 3
    np.testing.assert_allclose(np.asarray(strided([features, counts]))[:, 0, 0, 0, 0],
                               [1.0, 3.0], rtol=1e-6)


def test_masks_skip_a_static_lone_clip_only_when_told_it_is_unpadded():
    # SGS that drops empty bins never pads a lone clip, so the zoo tells the
    # masked layers to skip a static batch of 1; in a batch they still mask.
    import keras

    features, counts = _padded_batch()
    lone, lone_count = features[1:], counts[1:]  # B' = 3 of 3: nothing padded
    for masked, plain in ((FrameMaskedBatchNormalization(mask_lone_clip=False),
                           keras.layers.BatchNormalization()),
                          (FrameMaskedGlobalAveragePooling3D(mask_lone_clip=False),
                           keras.layers.GlobalAveragePooling3D())):
        np.testing.assert_allclose(masked([lone, lone_count]), plain(lone), rtol=1e-6)
        # A padded lone clip shows which path ran: the skip trusts the flag.
        padded_alone = np.asarray(masked([features[:1], counts[:1]]))
        np.testing.assert_allclose(padded_alone, plain(features[:1]), rtol=1e-6)
    pooled = FrameMaskedGlobalAveragePooling3D(mask_lone_clip=False)([features, counts])
    np.testing.assert_allclose(np.asarray(pooled)[:, 0], [1.0, 14.0 / 3], rtol=1e-6)
    always = FrameMaskedGlobalAveragePooling3D()([features[:1], counts[:1]])
    np.testing.assert_allclose(np.asarray(always)[:, 0], [1.0], rtol=1e-6)


def test_masked_layers_keras_round_trip(tmp_path):
    import keras

    features, counts = _padded_batch()
    x = keras.Input((None, 2, 1, 1))
    n = keras.Input((), dtype="int32")
    y = FrameMaskedBatchNormalization(2, name="bn")([x, n])
    y = FrameMaskedGlobalAveragePooling3D(2, name="pool", mask_lone_clip=False)([y, n])
    model = keras.Model([x, n], y)
    model.get_layer("bn").moving_mean.assign([3.0])
    model.save(tmp_path / "masked.keras")
    loaded = keras.saving.load_model(tmp_path / "masked.keras")
    assert isinstance(loaded.get_layer("bn"), FrameMaskedBatchNormalization)
    assert loaded.get_layer("pool").temporal_stride == 2
    assert loaded.get_layer("bn").mask_lone_clip and not loaded.get_layer("pool").mask_lone_clip
    np.testing.assert_allclose(loaded([features, counts]), model([features, counts]), rtol=1e-6)
