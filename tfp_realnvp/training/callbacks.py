"""The Keras callbacks of a long training run, in the order `tfp-realnvp train` uses them.

StopOnNonFiniteLoss     stops at the first NaN / Inf loss, before anything is saved
TrainingBackup          the training state after every epoch, kill-safe: a rerun resumes
RefreshBatchNormStatistics  fresh batch-norm statistics before each validation
AveragedWeights         instead, with an EMA of the weights: the averages, with fresh statistics,
                        for validation, the end-of-epoch saves and the end of `fit`
TimeBudget              stops `fit` at a wall-clock budget, at a step boundary
CosineDecayOverBudget   warms the learning rate up, then decays it to 0 over that budget
TensorBoard             Keras's TensorBoard: epoch scalars always written, steps resume
SampleGrid              a grid of samples as a TensorBoard image every epoch
AtomicModelCheckpoint   the .keras model after every finite epoch
"""

from tfp_realnvp.training.averaged_weights import AveragedWeights
from tfp_realnvp.training.checkpoints import (
    AtomicModelCheckpoint,
    TrainingBackup,
    completed_epochs,
    save_model_atomically,
)
from tfp_realnvp.training.non_finite_loss import NonFiniteLossError, StopOnNonFiniteLoss
from tfp_realnvp.training.refresh_statistics import RefreshBatchNormStatistics
from tfp_realnvp.training.tensorboard import SampleGrid, TensorBoard
from tfp_realnvp.training.time_budget import CosineDecayOverBudget, TimeBudget

__all__ = [
    "AtomicModelCheckpoint",
    "AveragedWeights",
    "NonFiniteLossError",
    "RefreshBatchNormStatistics",
    "SampleGrid",
    "StopOnNonFiniteLoss",
    "TensorBoard",
    "TimeBudget",
    "CosineDecayOverBudget",
    "TrainingBackup",
    "completed_epochs",
    "save_model_atomically",
]
