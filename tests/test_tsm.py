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


def test_recompute_keeps_weights_outputs_and_gradients(tmp_path):
    import keras
    import tensorflow as tf

    from vidzoo.training.modeling import transfer_weights
    from vidzoo.zoo.flops import clip_flops

    shape, options = (4, 32, 32, 3), dict(classes=3, dropout=0.0,
                                          temporal_clustering={"num_clusters": 2})
    plain = zoo.get_model("tsm_r18", input_shape=shape, **options)
    recomputed = zoo.get_model("tsm_r18", input_shape=shape, recompute=("stem", "res2"),
                               **options)
    assert recomputed.count_params() == plain.count_params()
    assert {layer.name for layer in recomputed.layers} >= {"stem_segment_recompute",
                                                           "res2_block2_recompute"}
    path = str(tmp_path / "plain.keras")
    plain.save(path)
    transfer_weights(recomputed, path)
    clips = random_clips(2, shape)
    labels = keras.utils.to_categorical([0, 2], 3)

    def gradients(model):
        with tf.GradientTape() as tape:
            loss = keras.losses.categorical_crossentropy(labels, model(clips, training=True))
        variables = model.trainable_variables
        return {v.path.split("/")[-2] + "/" + v.name: g
                for v, g in zip(variables, tape.gradient(loss, variables))}

    mine, reference = gradients(recomputed), gradients(plain)
    assert mine.keys() == reference.keys()
    for name, gradient in reference.items():
        np.testing.assert_allclose(mine[name], gradient, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(recomputed.predict_on_batch(clips), plain.predict_on_batch(clips),
                               rtol=1e-5, atol=1e-6)
    assert clip_flops(recomputed, clips[:1]) == clip_flops(plain, clips[:1])


def test_recompute_names_stages():
    with pytest.raises(ValueError, match="recompute takes stage names"):
        zoo.TSM_R18(recompute=("res9",))


def test_unshifted_stages_keep_their_frames_apart():
    """res2 unshifted (the full-video paper's released code): its blocks see
    each frame alone, so changing one frame changes no other at res2's end;
    with the shift it reaches the neighbours."""
    import keras

    def res2_response(unshifted):
        keras.utils.set_random_seed(0)
        model = zoo.TSM_R18(input_shape=(4, 32, 32, 3), unshifted=unshifted)
        res2 = keras.Model(model.input, model.get_layer("res2").output)
        clips = random_clips(1, (4, 32, 32, 3))
        changed = clips.copy()
        changed[0, 1] += 1.0
        difference = np.abs(res2.predict(changed, verbose=0) - res2.predict(clips, verbose=0))
        return difference.reshape(4, -1).max(axis=1), model

    per_frame, model = res2_response(("res2",))
    assert per_frame[1] > 0 and per_frame[[0, 2, 3]].max() == 0
    shifts = [layer.name for layer in model.layers if isinstance(layer, TemporalShift)]
    assert len(shifts) == 6 and not any(name.startswith("res2") for name in shifts)
    shifted, _ = res2_response(())
    assert shifted[[0, 2]].min() > 0
    with pytest.raises(ValueError, match="unshifted takes stage names"):
        zoo.TSM_R18(unshifted=("stem",))
