"""vidzoo.zoo.common: where a stage's SGS sits (Stages placement)."""

import keras
import numpy as np
import pytest

import vidzoo.zoo as zoo
from zoo_checks import random_clips


@pytest.mark.parametrize("name", ["resnet3d_18_atfr", "r2plus1d_18_atfr", "slow_r50_atfr",
                                  "x3d_s_atfr"])
def test_sgs_before_relu_samples_the_residual_sum(name):
    # The released ATFR code applies SGS to the last block's residual sum and
    # the stage's ReLU after it. What SGS sees then has negative values; with
    # the default placement it is the stage's (ReLU) output.
    clips = random_clips(2, (8, 32, 32, 3))
    # X3D's blocks start as their shortcuts (zero-initialized final BatchNorm),
    # so its residual sums start non-negative: give them a branch.
    options = {"zero_init_final_bn": False} if name.startswith("x3d") else {}
    seen = {}
    for placement in ("after_relu", "before_relu"):
        model = zoo.get_model(name, input_shape=(8, 32, 32, 3), classes=3,
                              sgs={"after": "res2", "placement": placement}, **options)
        sgs_input = keras.Model(model.input, model.get_layer("res2").output)
        seen[placement] = np.asarray(sgs_input(clips)).min()
        assert np.all(np.isfinite(np.asarray(model(clips))))
    assert seen["after_relu"] >= 0 and seen["before_relu"] < 0


def test_sgs_placement_errors_name_the_choices():
    with pytest.raises(ValueError, match="placement"):
        zoo.get_model("resnet3d_18_atfr", input_shape=(8, 32, 32, 3),
                      sgs={"after": "res2", "placement": "inside"})
    with pytest.raises(ValueError, match="before_relu"):
        zoo.get_model("mtnet_s", input_shape=(8, 64, 64, 3),
                      sgs={"after": "res2", "placement": "before_relu"})
