"""The Keras callbacks of a long training run, in the order `tfp-realnvp train` uses them.

StopOnNonFiniteLoss     stops at the first NaN / Inf loss, before anything is saved
TrainingBackup          the training state after every epoch, kill-safe: a rerun resumes
RefreshBatchNormStatistics  fresh batch-norm statistics before each validation
TensorBoard             Keras's TensorBoard: epoch scalars always written, steps resume
SampleGrid              a grid of samples as a TensorBoard image every epoch
AtomicModelCheckpoint   the .keras model after every finite epoch
"""

from tfp_realnvp.training.checkpoints import (
    AtomicModelCheckpoint,
    TrainingBackup,
    completed_epochs,
    save_model_atomically,
)
from tfp_realnvp.training.non_finite_loss import NonFiniteLossError, StopOnNonFiniteLoss
from tfp_realnvp.training.refresh_statistics import RefreshBatchNormStatistics
from tfp_realnvp.training.tensorboard import SampleGrid, TensorBoard

__all__ = [
    "AtomicModelCheckpoint",
    "NonFiniteLossError",
    "RefreshBatchNormStatistics",
    "SampleGrid",
    "StopOnNonFiniteLoss",
    "TensorBoard",
    "TrainingBackup",
    "completed_epochs",
    "save_model_atomically",
]
