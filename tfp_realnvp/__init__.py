"""tfp_realnvp: multi-scale Real NVP (Dinh et al., ICLR 2017) as TensorFlow Probability bijectors.

flow = tfp_realnvp.RealNVPMultiScale([32, 32, 3])
dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [32, 32, 3]), flow)

The public names load on first use (PEP 562), so that `import tfp_realnvp.cli` and
`tfp-realnvp --help` answer without importing TensorFlow.
"""

import importlib

# Eager, and TensorFlow-free: the function shadows its submodule of the same name.
from tfp_realnvp.bits_per_dim import bits_per_dim as bits_per_dim

__version__ = "0.1.0"

# Public name -> the module that defines it.
_MODULES = {
    "FactorOut": "tfp_realnvp.bijectors",
    "FlowBijector": "tfp_realnvp.bijectors",
    "FlowSequence": "tfp_realnvp.bijectors",
    "LogitPreprocess": "tfp_realnvp.bijectors",
    "MaskedAffineCoupling": "tfp_realnvp.bijectors",
    "MovingAverageBatchNorm": "tfp_realnvp.bijectors",
    "RealNVPModel": "tfp_realnvp.training",
    "RealNVPMultiScale": "tfp_realnvp.real_nvp_multiscale",
    "RecomputedCoupling": "tfp_realnvp.bijectors",
    "ResNetConditioner": "tfp_realnvp.networks",
    "Squeeze": "tfp_realnvp.bijectors",
    "WeightNormConv2D": "tfp_realnvp.networks",
    "channel_mask": "tfp_realnvp.bijectors",
    "checkerboard_mask": "tfp_realnvp.bijectors",
}

__all__ = sorted([*_MODULES, "bits_per_dim"])


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module 'tfp_realnvp' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULES[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted([*globals(), *__all__])
