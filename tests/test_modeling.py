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


def test_weight_decay_skips_batchnorm_and_biases():
    config = TrainConfig(model="x3d_xs", train="x", run_dir="x", weight_decay=0.5)
    optimizer = make_optimizer(config, total_steps=10, steps_per_epoch=5)
    gamma = keras.Variable(np.ones(3, "float32"), name="gamma")
    kernel = keras.Variable(np.ones(3, "float32"), name="kernel")
    optimizer.build([gamma, kernel])
    assert not optimizer._use_weight_decay(gamma) and optimizer._use_weight_decay(kernel)
