"""tfp_realnvp: multi-scale Real NVP (Dinh et al., ICLR 2017) as TensorFlow Probability bijectors.

>>> flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_res_blocks=1, num_filters=8)
>>> dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [8, 8, 1]), flow)
>>> dist.log_prob(tf.random.uniform([4, 8, 8, 1])).shape  # images in [0, 1]
TensorShape([4])

`RealNVPMultiScale([32, 32, 3])` is the paper's CIFAR-10 model (2 scales, 8 residual blocks,
64 feature maps).

The public names load on first use (PEP 562), so that `import tfp_realnvp.cli` and
`tfp-realnvp --help` answer without importing TensorFlow.
"""

import importlib

# Eager, and TensorFlow-free: the function shadows its submodule of the same name.
from tfp_realnvp.bits_per_dim import bits_per_dim as bits_per_dim

__version__ = "0.1.0"

_BIJECTORS = (
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
)
# The anomaly detector's entry points (the rest: `tfp_realnvp.anomaly`).
_ANOMALY = ("TypicalityTest", "score_batches", "score_images", "summarize")
# Public name -> the module that defines it.
_MODULES = {
    **dict.fromkeys(_BIJECTORS, "tfp_realnvp.bijectors"),
    **dict.fromkeys(_ANOMALY, "tfp_realnvp.anomaly"),
    "RealNVPModel": "tfp_realnvp.training",
    "RealNVPMultiScale": "tfp_realnvp.real_nvp_multiscale",
    "ContextProjection": "tfp_realnvp.networks",
    "ResNetConditioner": "tfp_realnvp.networks",
    "WeightNormConv2D": "tfp_realnvp.networks",
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


# Saved models load with `keras.saving.load_model` after `import tfp_realnvp` alone.
from tfp_realnvp import keras_registration  # noqa: E402

keras_registration.register_with_keras()
