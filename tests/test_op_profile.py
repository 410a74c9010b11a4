"""benchmarks/op_profile.py: op categories and the TensorFlow side's profile."""

import pytest

from benchmarks import op_profile


@pytest.mark.parametrize("op, expected", [
    ("_MklNativeDepthwiseConv2dNative", "channelwise conv"),
    ("_MklNativeConv3DBackpropFilterV2", "dense conv"),
    ("_MklNativeFusedMatMul", "matmul"),
    ("SquaredDifference", "elementwise and batch norm"),
    ("StridedSlice", "data movement"),
    ("Mean", "pooling and reductions"),
    ("NoOp", "other"),
])
def test_tensorflow_ops_fall_into_their_categories(op, expected):
    assert op_profile._tf_op_category(op) == expected


def test_torch_ops_fall_into_their_categories():
    assert op_profile.category("aten::native_batch_norm") == "elementwise and batch norm"
    assert op_profile.category("aten::copy_") == "data movement"
    assert op_profile.category("aten::mkldnn_convolution", True, True) == "channelwise conv"
    assert op_profile.category("aten::slow_conv3d_forward", True, False) == "dense conv"


class _Event:
    def __init__(self, shapes):
        self.input_shapes = shapes


def test_a_torch_conv_is_channelwise_when_its_weight_has_one_input_channel():
    assert op_profile._torch_channelwise(_Event([[1, 54, 4, 8, 8], [54, 1, 3, 3, 3]]))
    assert not op_profile._torch_channelwise(_Event([[1, 24, 4, 8, 8], [54, 24, 1, 1, 1]]))


def test_the_vidzoo_profile_splits_the_wall_time_into_categories():
    result = op_profile.profile_vidzoo("x3d_xs", "forward", repeats=1)
    assert sum(result["categories"].values()) == pytest.approx(result["wall_ms"])
    assert result["categories"]["channelwise conv"] > 0
    assert result["categories"]["dense conv"] > 0


def test_findings_name_the_category_with_the_largest_excess():
    row = {"model": "m", "mode": "forward",
           "vidzoo": {"wall_ms": 30.0, "categories": {"dense conv": 10.0, "other": 20.0}},
           "pytorchvideo": {"wall_ms": 25.0, "categories": {"dense conv": 12.0, "other": 13.0}}}
    assert "largest excess is other (+7.0 ms)" in op_profile.findings(row)
