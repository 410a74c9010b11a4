"""MTNet-S/M/L (seed 003, section III-C): X3D-S/M/L with every residual block
replaced by an `MTBlock` (three MTConvs and GRU squeeze-and-recursion).

There is no reference definition with parameter counts: the seed's Table I
lists 25.8M (S, M) and 50.1M (L) without the layer-by-layer design, and the
released code differs from the paper (see `vidzoo.layers.mtconv`). We keep
X3D's stem, stage widths, depths, strides, conv5 and classifier, and put an
MTBlock(width, inner width, spatial stride, ratio) where X3D has a
bottleneck. MTConv's frame selection needs a static number of frames.
"""

import keras

from vidzoo.layers import MTBlock
from vidzoo.zoo.registry import Variant, register_family, variant
from vidzoo.zoo.x3d import x3d


def _mtblock(ratio):
    def block(x, width, inner, stride, index, name):
        return MTBlock(width, inner, spatial_stride=stride, ratio=ratio, name=name)(x)

    return block


def mtnet(*, width_factor: float, depth_factor: float, ratio: float = 0.875,
          **kwargs) -> keras.Model:
    """MTNet on X3D's skeleton with these expansion factors.

    Args:
      width_factor, depth_factor: X3D's expansion factors.
      ratio: MTConv's share of channels in the local branch.
      kwargs: `vidzoo.zoo.x3d.x3d`'s other arguments.
    """
    kwargs.setdefault("name", "mtnet")
    return x3d(width_factor=width_factor, depth_factor=depth_factor, block=_mtblock(ratio),
               static_frames=True, **kwargs)


def _row(size):
    skeleton = variant(f"x3d_{size}")
    return Variant(f"mtnet_{size}", f"MTNet_{size.upper()}",
                   f"MTNet-{size.upper()}: X3D-{size.upper()} with MTBlocks", mtnet,
                   dict(skeleton.arguments), "seed 003, section III-C (no reference code "
                   "with parameter counts; see the module docstring)", skeleton.default_input)


VARIANTS = (_row("s"), _row("m"), _row("l"))
register_family(VARIANTS)
