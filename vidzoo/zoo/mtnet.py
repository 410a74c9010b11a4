"""MTNet-S/M/L (seed 003, section III-C): X3D-S/M/L with every residual block
replaced by an `MTBlock` (three MTConvs and GRU squeeze-and-recursion).

There is no reference definition with parameter counts: the seed's Table I
lists 25.8M (S, M) and 50.1M (L) without the layer-by-layer design, and the
released code differs from the paper (see `vidzoo.layers.mtconv`). We keep
X3D's stem, stage widths, depths, strides, conv5 and classifier, and put an
MTBlock(width, inner width, spatial stride, ratio) where X3D has a
bottleneck. MTConv's frame selection needs a static number of frames.
"""

from vidzoo.layers import MTBlock
from vidzoo.zoo.registry import register_model
from vidzoo.zoo.x3d import CONFIGS, x3d


def _mtblock(ratio):
    def block(x, width, inner, stride, index, name):
        return MTBlock(width, inner, spatial_stride=stride, ratio=ratio, name=name)(x)

    return block


def mtnet(size, ratio=0.875, **kwargs):
    """MTNet on X3D-`size`'s skeleton with MTConv channel ratio `ratio`."""
    width_factor, depth_factor, shape = CONFIGS[size]
    kwargs.setdefault("name", f"mtnet_{size}")
    return x3d(width_factor, depth_factor, shape, block=_mtblock(ratio), static_frames=True,
               **kwargs)


def _variant(size):
    def build(**kwargs):
        return mtnet(size, **kwargs)

    build.__doc__ = (f"MTNet-{size.upper()}: X3D-{size.upper()} with MTBlocks (seed 003); "
                     f"default input {CONFIGS[size][2][:3]}.")
    return register_model(f"mtnet_{size}")(build)


MTNet_S = _variant("s")
MTNet_M = _variant("m")
MTNet_L = _variant("l")
