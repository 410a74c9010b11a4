"""The ATFR authors' 3D ResNet without temporal downsampling."""

import pytest

import vidzoo.zoo as zoo
from vidzoo.zoo.flops import count_flops


def _sgs_resnet_params(depths, classes=400):
    """The authors' `ResNet3D` counted by hand: convs without bias, BN gamma/beta."""
    def conv_bn(k, c_in, c_out):
        return k * c_in * c_out + 2 * c_out

    total = conv_bn(5 * 7 * 7, 3, 8)
    dim_in = 8
    for (dim_out, inner, t), depth in zip(((32, 8, 3), (256, 64, 1), (512, 128, 1),
                                           (1024, 256, 3)), depths):
        for b in range(depth):
            total += conv_bn(t, dim_in, inner) + conv_bn(9, inner, inner)
            total += conv_bn(1, inner, dim_out)
            if b == 0:
                total += conv_bn(1, dim_in, dim_out)
            dim_in = dim_out
    return total + 1024 * classes + classes


@pytest.mark.parametrize("name, depths", [("sgs_resnet3d_18", (2, 2, 2, 2)),
                                          ("sgs_resnet3d_50", (3, 4, 6, 3))])
def test_atfr_authors_resnet_keeps_every_frame_to_res5(name, depths):
    model = zoo.get_model(name, input_shape=(16, 64, 64, 3))
    assert zoo.reference_param_count(model) == _sgs_resnet_params(depths)
    assert [model.get_layer(s).output.shape[1] for s in ("stem", "res2", "res5")] == [16] * 3
    assert tuple(model.get_layer("res5").output.shape[2:]) == (2, 2, 1024)
    atfr = zoo.get_model(f"{name}_atfr", input_shape=(16, 64, 64, 3))
    assert atfr.get_layer("sgs").num_bins is None  # B = T = 16 at res2


def test_atfr_authors_resnet50_costs_table_7s_gflops():
    # Table 7 (seed 000): 3DResNet-50 40.8 GFLOPs; the paper counts test
    # inputs of 32 frames at 256 x 256 (section 5.1).
    model = zoo.get_model("sgs_resnet3d_50", input_shape=(32, 256, 256, 3))
    assert round(count_flops(model) / 1e9, 1) == 40.8
