"""The papers' modules as serializable Keras 3 layers.

All layers take channels-last video features (batch, time, height, width,
channels) and are registered under the "vidzoo" package for `.keras` files.
"""

from vidzoo.layers.depthwise import DepthwiseConv3D
from vidzoo.layers.gating import SelfGating
from vidzoo.layers.mtconv import (
    MTBlock,
    MTConv,
    SoftPool3D,
    SqueezeAndRecursion,
    TripletCosineSelection,
)
from vidzoo.layers.pooling import (
    FactorizedAveragePooling3D,
    FactorizedMaxPooling3D,
    replace_pooling_3d,
)
from vidzoo.layers.sfc import BottleneckBlock3D, SelectiveFeatureCompression, TopKPooling
from vidzoo.layers.sgs import (
    FrameMaskedBatchNormalization,
    FrameMaskedGlobalAveragePooling3D,
    SimilarityGuidedSampling,
    similarity_guided_sampling,
)
from vidzoo.layers.temporal_clustering import TemporalClustering, temporal_clustering
from vidzoo.layers.temporal_resampling import MatchFrames, PairwiseTemporalMean, PathwaySampler
from vidzoo.layers.temporal_shift import TemporalShift, temporal_shift

__all__ = [
    "BottleneckBlock3D",
    "DepthwiseConv3D",
    "FactorizedAveragePooling3D",
    "FactorizedMaxPooling3D",
    "FrameMaskedBatchNormalization",
    "FrameMaskedGlobalAveragePooling3D",
    "MTBlock",
    "MatchFrames",
    "MTConv",
    "PairwiseTemporalMean",
    "PathwaySampler",
    "SelectiveFeatureCompression",
    "SelfGating",
    "SimilarityGuidedSampling",
    "SoftPool3D",
    "SqueezeAndRecursion",
    "TemporalClustering",
    "TemporalShift",
    "TopKPooling",
    "TripletCosineSelection",
    "similarity_guided_sampling",
    "replace_pooling_3d",
    "temporal_clustering",
    "temporal_shift",
]
