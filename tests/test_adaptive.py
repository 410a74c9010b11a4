"""Splitting backbones, SFC between a frozen head and tail, adaptive outputs."""

import numpy as np
import pytest

import vidzoo.zoo as zoo
from zoo_checks import assert_keras_round_trip, random_clips


def _backbone():
    return zoo.R3D_18(input_shape=(8, 32, 32, 3), classes=3)


def test_split_model_recomposes_the_backbone():
    model = _backbone()
    head, tail = zoo.split_model(model, "res3")
    clips = random_clips(2, (8, 32, 32, 3))
    np.testing.assert_allclose(tail(head(clips)), model(clips), atol=1e-6)
    assert tail(np.zeros((1, 2, 8, 8, 128), "float32")).shape == (1, 3)  # any length


def test_split_at_unknown_stage_lists_the_stages():
    with pytest.raises(ValueError, match="no such stage.*res3"):
        zoo.split_model(_backbone(), "res7")


def test_insert_sfc_trains_only_sfc():
    model = zoo.insert_sfc(_backbone(), split="res3", tau=2, input_shape=(16, 32, 32, 3))
    sfc = model.get_layer("sfc")
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in sfc.trainable_weights}
    frozen = [w for w in model.weights if not any(w is s for s in sfc.weights)]
    before = [w.numpy().copy() for w in frozen]  # includes BatchNorm moving statistics
    clips = random_clips(4, (16, 32, 32, 3))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(clips, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    for old, weight in zip(before, frozen):
        np.testing.assert_array_equal(old, weight.numpy())
    assert sfc.output.shape[1] == 4  # 8 frames at res3 -> floor(8 / 2)


def test_insert_sfc_reaches_every_sfc_option():
    options = dict(abstraction_blocks=1, bottleneck_ratio=0.5, scaled=False, topk="frame")
    sfc = zoo.insert_sfc(_backbone(), split="res3", tau=4 / 3, **options).get_layer("sfc")
    config = sfc.get_config()
    assert {key: config[key] for key in options} == options and config["tau"] == 4 / 3


def test_insert_sfc_keras_round_trip(tmp_path):
    model = zoo.insert_sfc(_backbone(), split="res3", tau=2)
    assert_keras_round_trip(model, random_clips(2, (8, 32, 32, 3)), tmp_path)


def test_adaptive_outputs_need_an_adaptive_layer():
    with pytest.raises(ValueError, match="no SGS or temporal-clustering"):
        zoo.with_adaptive_outputs(_backbone())


def test_sgs_options_reach_the_layer():
    model = zoo.get_model("x3d_xs_atfr", input_shape=(8, 32, 32, 3), classes=3,
                          sgs={"after": "res3", "kernel": "kronecker", "embedding_dim": 4})
    sgs = model.get_layer("sgs")
    assert sgs.kernel == "kronecker" and sgs.embedding_dim == 4
    assert sgs.input.shape == model.get_layer("res3").output.shape
    outputs = zoo.with_adaptive_outputs(model).predict(random_clips(2, (8, 32, 32, 3)),
                                                       verbose=0)
    assert outputs["predictions"].shape == (2, 3) and outputs["sgs"].shape == (2,)
    assert np.all((outputs["sgs"] >= 1) & (outputs["sgs"] <= 8))


def _sgs_then_tail(masked):
    """SGS (B = 8) then two conv-BN layers (the second with temporal stride 2)
    and a global average, built with the zoo's helpers (`masked`) or with
    plain Keras BatchNorm and pooling (the control)."""
    import keras

    from vidzoo.layers import SimilarityGuidedSampling
    from vidzoo.zoo.common import Frames, batch_norm, conv3d, global_average_pool

    def norm(x, name, frames):
        if masked:
            return batch_norm(x, name, frames=frames)
        return keras.layers.BatchNormalization(name=name)(x)

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 8, 4))
    x, counts = SimilarityGuidedSampling(return_active_bins=True, name="sgs")(inputs)
    x = keras.layers.ReLU()(norm(conv3d(x, 6, 3, name="a"), "a_bn", Frames(counts)))
    x = keras.layers.ReLU()(norm(conv3d(x, 6, 3, 2, name="b"), "b_bn", Frames(counts, 2)))
    pooled = (global_average_pool(x, "pool", frames=Frames(counts, 2)) if masked
              else keras.layers.GlobalAveragePooling3D(name="pool")(x))
    model = keras.Model(inputs, pooled)
    sgs = model.get_layer("sgs")  # Delta_t = a_t * const for frames a_t + zero-mean noise
    sgs.embed_hidden.set_weights([np.eye(4, dtype="float32"), np.zeros(4, "float32")])
    sgs.embed_out.set_weights([np.ones((4, 8), "float32"), np.zeros(8, "float32")])
    rng = np.random.default_rng(0)
    for name in ("a_bn", "b_bn"):
        bn = model.get_layer(name)
        bn.moving_mean.assign(rng.normal(0, 0.5, 6))
        bn.beta.assign(rng.normal(0, 0.5, 6))
    return model


def _clips_with_different_bins():
    rng = np.random.default_rng(1)
    levels = np.stack([np.ones(8), np.linspace(0.1, 1, 8), rng.uniform(0.2, 1, 8)])
    noise = rng.normal(size=(3, 8, 8, 8, 4))
    noise -= noise.mean(axis=(2, 3), keepdims=True)  # spatial mean of each frame = level
    return (levels[:, :, None, None, None] + 0.3 * noise).astype("float32")


def test_sgs_padding_does_not_change_any_clip():
    """A clip's output is the same in a padded batch as alone, because the
    zoo's BatchNorm and pooling after SGS ignore padded frames; the plain
    layers (control) let the padding leak."""
    clips = _clips_with_different_bins()
    for masked in (True, False):
        model = _sgs_then_tail(masked)
        counts = np.asarray(model.get_layer("sgs")(clips)[1])
        assert len(set(counts.tolist())) == 3, counts
        batched = np.asarray(model(clips, training=False))
        alone = np.concatenate([np.asarray(model(c[None], training=False)) for c in clips])
        difference = np.abs(batched - alone).max()
        if masked:
            assert difference < 1e-5
        else:
            assert difference > 1e-2


def test_zoo_atfr_model_predicts_each_clip_as_alone():
    from zoo_checks import redundant_and_varied_clips

    # Residual branches live (no zero-initialized final BatchNorm), so the
    # masks inside them reach the output.
    model = zoo.get_model("x3d_xs_atfr", input_shape=(8, 32, 32, 3), include_top=False,
                          pooling="avg", zero_init_final_bn=False)
    clips = redundant_and_varied_clips((8, 32, 32, 3))
    bins = np.asarray(zoo.with_adaptive_outputs(model)(clips)["sgs"])
    assert bins[0] < bins[1]
    from vidzoo.layers import FrameMaskedBatchNormalization as Masked

    assert not isinstance(model.get_layer("res2_block1_a_bn"), Masked)  # before SGS
    assert model.get_layer("res3_block1_a_bn").temporal_stride == 1
    r3d = zoo.get_model("r3d_18_atfr", input_shape=(8, 32, 32, 3))  # temporal stride 2 per stage
    assert r3d.get_layer("res3_block1_bn1").temporal_stride == 2
    assert r3d.get_layer("res4_block2_bn1").temporal_stride == 4
    alone = np.concatenate([np.asarray(model(c[None], training=False)) for c in clips])
    np.testing.assert_allclose(np.asarray(model(clips, training=False)), alone, atol=1e-5)


def test_zoo_atfr_model_predicts_alike_with_all_bins_kept():
    # The static SGS form (jax.jit, XLA) gives the dynamic form's predictions.
    from zoo_checks import redundant_and_varied_clips

    shape = (8, 32, 32, 3)
    dynamic = zoo.get_model("x3d_xs_atfr", input_shape=shape, classes=3,
                            zero_init_final_bn=False)  # live residual branches
    static = zoo.get_model("x3d_xs_atfr", input_shape=shape, classes=3,
                           sgs={"drop_empty_bins": False}, zero_init_final_bn=False)
    static.set_weights(dynamic.get_weights())
    clips = redundant_and_varied_clips(shape)
    expected = np.asarray(dynamic(clips, training=False))
    assert np.abs(expected - 1 / 3).max() > 1e-4  # not the uniform output of zero features
    np.testing.assert_allclose(np.asarray(static(clips, training=False)), expected, atol=1e-5)
    # Alone, the static form still pads to B and masks; the dynamic form needs no mask.
    assert static.get_layer("res3_block1_a_bn").mask_lone_clip
    assert not dynamic.get_layer("res3_block1_a_bn").mask_lone_clip
    alone = np.concatenate([np.asarray(static(c[None], training=False)) for c in clips])
    np.testing.assert_allclose(alone, expected, atol=1e-5)
