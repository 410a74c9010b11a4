"""PySlowFast's Slow-only and I3D ResNet-50."""

import numpy as np
import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo.pyslowfast_resnet import temporal_kernels
from zoo_checks import assert_adaptive_flops_differ, assert_trains_one_step, random_clips


@pytest.mark.parametrize("name, expected", [("slow_r50", 32_454_096), ("i3d_r50", 28_043_472)])
def test_parameter_counts_equal_the_references(name, expected):
    assert zoo.reference_param_count(zoo.get_model(name)) == expected


def test_pyslowfast_temporal_kernel_patterns_repeat_over_blocks():
    assert temporal_kernels((3, 1), 4) == [3, 1, 3, 1]
    assert temporal_kernels((1, 3), 3) == [1, 3, 1]
    model = zoo.I3D_R50(input_shape=(8, 32, 32, 3))
    assert model.get_layer("res5_block1_a_conv").kernel.shape[0] == 1
    assert model.get_layer("res5_block2_a_conv").kernel.shape[0] == 3
    assert model.get_layer("stem_conv").kernel.shape[:3] == (5, 7, 7)


def test_trains_one_step():
    model = zoo.SlowOnly_R50(input_shape=(4, 32, 32, 3), classes=3)
    assert_trains_one_step(model, random_clips(2, (4, 32, 32, 3)))


def test_atfr_bins_and_flops_follow_the_clip():
    model = zoo.get_model("i3d_r50_atfr", input_shape=(16, 32, 32, 3), classes=3)
    assert_adaptive_flops_differ(model, (16, 32, 32, 3))


def test_zero_init_final_bn_starts_every_block_as_its_shortcut():
    import keras
    import tensorflow as tf

    clips = np.random.RandomState(0).randn(2, 4, 32, 32, 3).astype("float32")

    def build(zero):
        keras.utils.set_random_seed(0)
        return zoo.get_model("slow_r50", input_shape=(4, 32, 32, 3), classes=4,
                             zero_init_final_bn=zero)

    plain, zeroed = build(False), build(True)
    assert zeroed.count_params() == plain.count_params()
    final = [layer for layer in zeroed.layers if layer.name.endswith("_c_bn")]
    assert len(final) == 16 and all(not np.any(layer.gamma.numpy()) for layer in final)
    assert all(np.all(layer.gamma.numpy() == 1) for layer in plain.layers
               if layer.name.endswith("_c_bn"))
    # A block that starts as its shortcut: res2's first block outputs relu(shortcut).
    block = keras.Model(zeroed.input, [zeroed.get_layer("res2_block1_c_bn").output])
    np.testing.assert_array_equal(block(clips, training=True), 0)

    def gradient_norm(model):
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(np.array([0, 1]),
                                                            model(clips, training=True))
        return float(tf.linalg.global_norm(tape.gradient(loss, model.trainable_variables)))

    assert gradient_norm(zeroed) < gradient_norm(plain) / 5
