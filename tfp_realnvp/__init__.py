"""tfp_realnvp: multi-scale Real NVP (Dinh et al., ICLR 2017) as TensorFlow Probability bijectors.

>>> flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_res_blocks=1, num_filters=8)
>>> dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [8, 8, 1]), flow)
>>> dist.log_prob(tf.random.uniform([4, 8, 8, 1])).shape  # images in [0, 1]
TensorShape([4])

`RealNVPMultiScale([32, 32, 3])` is the paper's CIFAR-10 model (2 scales, 8 residual blocks,
64 feature maps).
"""

from tfp_realnvp.bijectors import (
    ActNorm,
    FactorOut,
    FlowBijector,
    FlowSequence,
    InvertibleConv1x1,
    LogitPreprocess,
    MaskedAdditiveCoupling,
    MaskedAffineCoupling,
    MaskedCoupling,
    MaskedSplineCoupling,
    MovingAverageBatchNorm,
    RecomputedCoupling,
    Squeeze,
    channel_mask,
    checkerboard_mask,
)
from tfp_realnvp.bits_per_dim import bits_per_dim
from tfp_realnvp.networks import ResNetConditioner, WeightNormConv2D
from tfp_realnvp.real_nvp_multiscale import RealNVPMultiScale
from tfp_realnvp.training import RealNVPModel

__version__ = "0.1.0"

__all__ = [
    "ActNorm",
    "FactorOut",
    "FlowBijector",
    "FlowSequence",
    "InvertibleConv1x1",
    "LogitPreprocess",
    "MaskedAdditiveCoupling",
    "MaskedAffineCoupling",
    "MaskedCoupling",
    "MaskedSplineCoupling",
    "MovingAverageBatchNorm",
    "RealNVPModel",
    "RealNVPMultiScale",
    "RecomputedCoupling",
    "ResNetConditioner",
    "Squeeze",
    "WeightNormConv2D",
    "bits_per_dim",
    "channel_mask",
    "checkerboard_mask",
]
