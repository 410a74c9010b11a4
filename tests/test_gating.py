"""SelfGating: Y = sigmoid(W pool(X) + b) * X (seed 002, section 4.6)."""

import numpy as np
import pytest

from layer_checks import random_video, run_standard_checks
from vidzoo.layers import SelfGating


def test_hand_computed_gate():
    # Two channels; space-time means are (1.0, -2.0). With W = [[1, 0], [1, 1]]
    # (kernel maps input c to output c') the pre-activations are
    # (1*1 + 1*-2, 0*1 + 1*-2) = (-1, -2); gates sigmoid(-1), sigmoid(-2).
    x = np.zeros((1, 2, 1, 2, 2), "float32")
    x[..., 0] = [[[0.0, 2.0]], [[1.0, 1.0]]]
    x[..., 1] = -2.0
    layer = SelfGating()
    layer(x)
    layer.transform.kernel.assign(np.array([[1.0, 0.0], [1.0, 1.0]], "float32"))
    sigmoid = lambda v: 1 / (1 + np.exp(-v))
    expected = x * np.array([sigmoid(-1.0), sigmoid(-2.0)], "float32")
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6)


def test_bias_is_optional_and_off_by_default():
    x = random_video((1, 2, 2, 2, 4))
    plain, biased = SelfGating(), SelfGating(use_bias=True)
    plain(x)
    biased(x)
    assert plain.count_params() == 16 and biased.count_params() == 20


def test_bad_rank():
    with pytest.raises(ValueError, match="rank 5"):
        SelfGating()(random_video((2, 4, 4, 3)))


def test_framework_checks(tmp_path):
    run_standard_checks(lambda: SelfGating(use_bias=True), (2, 3, 4, 4, 6), tmp_path)
