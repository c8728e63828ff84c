"""The Keras 3 training path: the model, its callbacks, image grids."""

from tfp_realnvp.training.classification import classification_accuracy
from tfp_realnvp.training.dequantization import VariationalDequantizer
from tfp_realnvp.training.fused_adam import FusedAdam
from tfp_realnvp.training.real_nvp_model import RealNVPModel
from tfp_realnvp.training.recipe import default_optimizer, recipe_optimizer
from tfp_realnvp.training.schedules import WarmupCosineDecay
from tfp_realnvp.training.skip_non_finite_steps import SkipNonFiniteSteps

__all__ = [
    "FusedAdam",
    "RealNVPModel",
    "SkipNonFiniteSteps",
    "VariationalDequantizer",
    "WarmupCosineDecay",
    "classification_accuracy",
    "default_optimizer",
    "recipe_optimizer",
]
