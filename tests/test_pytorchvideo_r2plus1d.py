"""pytorchvideo's R(2+1)D-50."""

import vidzoo.zoo as zoo
from vidzoo.zoo.flops import count_flops


def test_parameter_count_equals_the_reference():
    assert zoo.reference_param_count(zoo.get_model("r2plus1d_r50")) == 28_107_600


def test_pytorchvideo_r2plus1d_r50_costs_the_reference_gmacs():
    # pytorchvideo r2plus1d_r50 at 1x16x224x224x3: 57.534 GMACs.
    model = zoo.get_model("r2plus1d_r50")
    assert round(count_flops(model) / 1e9, 3) == 57.534
    assert tuple(model.get_layer("res5").output.shape[1:]) == (4, 7, 7, 2048)
