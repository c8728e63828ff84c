"""The multi-scale assembly: a flow's options, its kinds of step by name, its scales, latents
and context. `tfp_realnvp.RealNVPMultiScale` is built from these."""

from tfp_realnvp.multiscale.options import FlowOptions
from tfp_realnvp.multiscale.steps import (
    ChannelMixingKind,
    CouplingKind,
    NormalizationKind,
    register_channel_mixing,
    register_coupling,
    register_normalization,
)

__all__ = [
    "ChannelMixingKind",
    "CouplingKind",
    "FlowOptions",
    "NormalizationKind",
    "register_channel_mixing",
    "register_coupling",
    "register_normalization",
]
