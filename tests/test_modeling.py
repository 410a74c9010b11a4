"""vidzoo.training.modeling: the run's optimizer and learning-rate schedule."""

import keras
import numpy as np

from vidzoo.training.modeling import make_optimizer
from vidzoo.training.train import TrainConfig


def test_learning_rate_has_linear_warmup_then_half_cosine():
    config = TrainConfig(model="x3d_xs", train="x", run_dir="x", lr=0.4, warmup_epochs=1)
    schedule = make_optimizer(config, total_steps=30, steps_per_epoch=10)._learning_rate
    lr = [float(schedule(step)) for step in (0, 5, 10, 20, 30)]
    # warmup 0 -> 0.4 over 10 steps; cosine over the next 20: 0.4 * (1 + cos(pi t/20)) / 2
    np.testing.assert_allclose(lr, [0.0, 0.2, 0.4, 0.2, 0.0], atol=1e-6)


def test_lr_drops_divide_the_learning_rate_by_ten_at_those_epochs():
    config = TrainConfig(model="x3d_xs", train="x", run_dir="x", lr=0.01, warmup_epochs=0,
                         epochs=15, lr_drops="8,12")
    config.check()
    schedule = make_optimizer(config, total_steps=150, steps_per_epoch=10)._learning_rate
    lr = [float(schedule(step)) for step in (0, 79, 80, 119, 120, 149)]
    np.testing.assert_allclose(lr, [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001], rtol=1e-6)


def test_bad_lr_drops_are_named():
    import pytest

    for drops, warmup, message in (("8,x", 0, "comma-separated"), ("12,8", 0, "increasing"),
                                   ("15", 0, "between 1 and"), ("8", 1, "warmup")):
        config = TrainConfig(model="x3d_xs", train="x", run_dir="x", epochs=15,
                             lr_drops=drops, warmup_epochs=warmup)
        with pytest.raises(ValueError, match=message):
            config.check()


def test_weight_decay_skips_batchnorm_and_biases():
    config = TrainConfig(model="x3d_xs", train="x", run_dir="x", weight_decay=0.5)
    optimizer = make_optimizer(config, total_steps=10, steps_per_epoch=5)
    gamma = keras.Variable(np.ones(3, "float32"), name="gamma")
    kernel = keras.Variable(np.ones(3, "float32"), name="kernel")
    optimizer.build([gamma, kernel])
    assert not optimizer._use_weight_decay(gamma) and optimizer._use_weight_decay(kernel)


def test_init_from_a_preset_puts_its_weights_into_an_atfr_variant(tmp_path):
    from vidzoo import zoo
    from vidzoo.training.data import run_normalization
    from vidzoo.training.modeling import build_initialized_model
    from vidzoo.zoo import presets

    donor = zoo.get_model("x3d_xs", classes=400, input_shape=(4, 32, 32, 3))
    preprocessing = {"mean": [0.4, 0.4, 0.4], "std": [0.2, 0.2, 0.2], "frames": 4, "stride": 2,
                     "resize": [40], "crop": 32}
    preset = presets.save_preset(donor, str(tmp_path / "preset"), "x3d_xs",
                                 {"classes": 400, "input_shape": [4, 32, 32, 3]},
                                 {"source": "test", "preprocessing": preprocessing})
    config = TrainConfig(model="x3d_xs_atfr", train="unused", run_dir="unused", frames=4,
                         crop_size=32, init_from=preset)
    model, copied = build_initialized_model(config, num_classes=5, resuming=False)
    assert "res3_block1_a_conv" in copied and "logits" not in copied
    assert not any("sgs" in name for name in copied)
    np.testing.assert_array_equal(model.get_layer("res3_block1_a_conv").get_weights()[0],
                                  donor.get_layer("res3_block1_a_conv").get_weights()[0])
    assert run_normalization(preset) == ((0.4, 0.4, 0.4), (0.2, 0.2, 0.2))
    assert config.clip_config().mean == (0.4, 0.4, 0.4)
    assert run_normalization(None) == ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))
