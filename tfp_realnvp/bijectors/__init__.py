"""The Real NVP components, each a `tfp.bijectors.Bijector`.

Convention (TFP's): `forward` is sampling (latent -> data) and `inverse` is the paper's f
(data -> latent), the direction `log_prob` evaluates.
"""

from tfp_realnvp.bijectors.act_norm import ActNorm
from tfp_realnvp.bijectors.factor_out import FactorOut
from tfp_realnvp.bijectors.flow_bijector import FlowBijector
from tfp_realnvp.bijectors.flow_sequence import FlowSequence
from tfp_realnvp.bijectors.invertible_conv_1x1 import InvertibleConv1x1
from tfp_realnvp.bijectors.logit_preprocess import LogitPreprocess
from tfp_realnvp.bijectors.masked_additive_coupling import MaskedAdditiveCoupling
from tfp_realnvp.bijectors.masked_affine_coupling import MaskedAffineCoupling
from tfp_realnvp.bijectors.masked_coupling import MaskedCoupling
from tfp_realnvp.bijectors.masked_spline_coupling import MaskedSplineCoupling
from tfp_realnvp.bijectors.masks import channel_mask, checkerboard_mask
from tfp_realnvp.bijectors.moving_average_batch_norm import MovingAverageBatchNorm
from tfp_realnvp.bijectors.recomputed_coupling import RecomputedCoupling
from tfp_realnvp.bijectors.squeeze import Squeeze

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
    "RecomputedCoupling",
    "Squeeze",
    "channel_mask",
    "checkerboard_mask",
]
