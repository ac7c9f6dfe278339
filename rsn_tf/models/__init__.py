"""The Region Support Network and its two pyramid modules (Section 3, Table 1)."""

from rsn_tf.models.generation import GenerationModule
from rsn_tf.models.layers import BasicBlock, ConvBNReLU, CropToMatch, PyramidPoolingUnit, SemanticEmbedding
from rsn_tf.models.presets import PRESETS, RSNConfig, get_preset
from rsn_tf.models.refinement import RefinementModule
from rsn_tf.models.rsn import RegionSupportNetwork

__all__ = [
    "BasicBlock",
    "ConvBNReLU",
    "CropToMatch",
    "GenerationModule",
    "PRESETS",
    "PyramidPoolingUnit",
    "RSNConfig",
    "RefinementModule",
    "RegionSupportNetwork",
    "SemanticEmbedding",
    "get_preset",
]
