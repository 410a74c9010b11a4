"""vidzoo.zoo.folding: BatchNorm folded into the conv before it."""

import keras
import numpy as np
import pytest
from keras import layers

from vidzoo import zoo
from vidzoo.layers import DepthwiseConv3D
from vidzoo.zoo.folding import FoldedBatchNorm, fold_batch_norm, foldable_pairs


def _random_statistics(model, seed=0):
    """BatchNorm weights and moving statistics away from their initial 1 / 0."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                               if name in ("gamma", "moving_variance")
                               else rng.normal(0, 0.2, w.shape).astype("float32")
                               for name, w in zip([v.name for v in layer.weights],
                                                  layer.get_weights())])


def _small_model():
    inputs = keras.Input((4, 8, 8, 3))
    x = layers.Conv3D(6, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU()(x)
    y = DepthwiseConv3D(3, name="channelwise")(x)
    y = layers.BatchNormalization(name="bn_channelwise")(y)
    z = layers.Add(name="add")([x, y])
    z = layers.BatchNormalization(name="bn_after_add")(z)  # not after a conv: kept
    return keras.Model(inputs, layers.GlobalAveragePooling3D()(z))


def test_a_hand_computed_fold():
    inputs = keras.Input((1, 1, 1, 1))
    x = layers.Conv3D(1, 1, use_bias=True, name="conv")(inputs)
    model = keras.Model(inputs, layers.BatchNormalization(epsilon=0.0, name="bn")(x))
    model.get_layer("conv").set_weights([np.full((1, 1, 1, 1, 1), 2.0), np.array([1.0])])
    # gamma 3, beta 0.5, mean 1, variance 4: y = 3 * (2x + 1 - 1) / 2 + 0.5 = 3x + 0.5
    model.get_layer("bn").set_weights([np.array([3.0]), np.array([0.5]), np.array([1.0]),
                                       np.array([4.0])])
    folded = fold_batch_norm(model)
    kernel, bias = folded.get_layer("conv").get_weights()
    assert kernel.ravel() == pytest.approx([3.0]) and bias == pytest.approx([0.5])
    assert folded.predict_on_batch(np.full((1, 1, 1, 1, 1), 2.0)).ravel() == pytest.approx([6.5])


def test_only_batch_norms_right_after_a_conv_fold():
    model = _small_model()
    assert sorted(foldable_pairs(model)) == ["bn", "bn_channelwise"]
    folded = fold_batch_norm(model)
    assert isinstance(folded.get_layer("bn"), FoldedBatchNorm)
    assert isinstance(folded.get_layer("bn_after_add"), layers.BatchNormalization)


def test_the_folded_model_computes_the_same_outputs():
    model = _small_model()
    _random_statistics(model)
    clips = np.random.default_rng(1).normal(size=(2, 4, 8, 8, 3)).astype("float32")
    folded = fold_batch_norm(model)
    np.testing.assert_allclose(folded.predict_on_batch(clips), model.predict_on_batch(clips),
                               rtol=1e-5, atol=1e-5)


def test_a_zoo_model_folds_every_batch_norm_and_keeps_its_predictions():
    model = zoo.get_model("x3d_xs", input_shape=(4, 32, 32, 3), classes=5)
    _random_statistics(model)
    folded = fold_batch_norm(model)
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    assert len(foldable_pairs(model)) == len(norms)
    clips = np.random.default_rng(2).normal(size=(2, 4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(folded.predict_on_batch(clips), model.predict_on_batch(clips),
                               rtol=1e-4, atol=1e-6)


def test_the_folded_model_survives_keras_save_and_load(tmp_path):
    model = _small_model()
    _random_statistics(model)
    folded = fold_batch_norm(model)
    path = str(tmp_path / "folded.keras")
    folded.save(path)
    loaded = keras.models.load_model(path)
    clips = np.random.default_rng(3).normal(size=(1, 4, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict_on_batch(clips), folded.predict_on_batch(clips),
                               rtol=1e-6, atol=1e-6)


def test_a_subclassed_model_is_refused_with_a_clear_error():
    class Plain(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="functional keras.Model"):
        fold_batch_norm(Plain())


def test_an_atfr_model_folds_its_frame_masked_batch_norms_and_keeps_its_predictions():
    model = zoo.get_model("x3d_xs_atfr", input_shape=(4, 32, 32, 3), classes=5)
    _random_statistics(model)
    pairs = foldable_pairs(model)
    masked = [name for name, _ in pairs.items()
              if type(model.get_layer(name)).__name__ == "FrameMaskedBatchNormalization"]
    assert masked and len(pairs) == sum(isinstance(layer, layers.BatchNormalization)
                                        for layer in model.layers)
    folded = fold_batch_norm(model)
    clips = np.random.default_rng(4).normal(size=(3, 4, 32, 32, 3)).astype("float32")
    clips[1] = clips[1, :1]  # a still clip: fewer bins than the others, so padded frames
    for batch in (clips, clips[1:2]):
        np.testing.assert_allclose(folded.predict_on_batch(batch)["predictions"]
                                   if isinstance(folded.output, dict)
                                   else folded.predict_on_batch(batch),
                                   model.predict_on_batch(batch), rtol=1e-4, atol=1e-6)
