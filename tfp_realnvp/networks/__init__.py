"""Keras 3 layers: the coupling networks (conditioners) and their building blocks."""

from tfp_realnvp.networks.context_projection import ContextProjection
from tfp_realnvp.networks.l2_penalty import L2Penalty
from tfp_realnvp.networks.residual_block import ResidualBlock
from tfp_realnvp.networks.resnet_conditioner import ResNetConditioner
from tfp_realnvp.networks.weight_norm_conv2d import WeightNormConv2D

__all__ = [
    "ContextProjection",
    "L2Penalty",
    "ResNetConditioner",
    "ResidualBlock",
    "WeightNormConv2D",
]
