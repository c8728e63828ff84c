"""tfp_realnvp: multi-scale Real NVP (Dinh et al., ICLR 2017) as TensorFlow Probability bijectors.

flow = tfp_realnvp.RealNVPMultiScale([32, 32, 3])
dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [32, 32, 3]), flow)
"""

from tfp_realnvp.bijectors import (
    FactorOut,
    FlowBijector,
    FlowSequence,
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
from tfp_realnvp.networks import ContextProjection, ResNetConditioner, WeightNormConv2D
from tfp_realnvp.real_nvp_multiscale import RealNVPMultiScale
from tfp_realnvp.training import RealNVPModel

__version__ = "0.1.0"

__all__ = [
    "ContextProjection",
    "FactorOut",
    "FlowBijector",
    "FlowSequence",
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
