"""Keras 3 layers: the coupling networks, and the layers that hold the bijectors' variables."""

from tfp_realnvp.networks.moving_moments import MovingMoments
from tfp_realnvp.networks.residual_block import ResidualBlock
from tfp_realnvp.networks.resnet_conditioner import ResNetConditioner
from tfp_realnvp.networks.tanh_scale import TanhScale
from tfp_realnvp.networks.weight_norm_conv2d import WeightNormConv2D

__all__ = ["MovingMoments", "ResNetConditioner", "ResidualBlock", "TanhScale", "WeightNormConv2D"]
