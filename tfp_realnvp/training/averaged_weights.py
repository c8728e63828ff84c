"""Polyak-averaged weights for validation and for the model `fit` leaves, with fresh statistics."""

import tensorflow as tf

from tfp_realnvp.training.refresh_statistics import (
    DEFAULT_REFRESH_STEPS,
    RefreshBatchNormStatistics,
)


class AveragedWeights(RefreshBatchNormStatistics):
    """Validates, checkpoints and ends `fit` with the optimizer's average of the weights.

    For an optimizer with Keras's `use_ema=True` (`recipe_optimizer(ema_momentum=...)`), which
    keeps after every applied step

        average <- ema_momentum * average + (1 - ema_momentum) * weights

    (the weights themselves after the first step; a step skipped for a non-finite loss moves
    neither). Averaged weights need batch-norm statistics of their own, so:

        before each validation   the averages replace the weights, the moving statistics are
                                 refreshed for them (`steps` batches, as
                                 `RefreshBatchNormStatistics`)
        at the epoch's end       the trained weights come back (this callback's `on_epoch_end`:
                                 put it after the callbacks that save or sample, before the
                                 backup, which must hold the trained weights)
        at the end of `fit`      Keras's `finalize_variable_values` leaves the averages in the
                                 model; their statistics are refreshed unless no step ran since

    So the validation logs, the checkpoints and sample grids written in `on_epoch_end` before
    this callback, and the model that `fit` returns (then `evaluate`, `sample`, `save`) all use
    the averaged weights, each with fresh statistics; training goes on from the trained ones.
    Use it instead of `RefreshBatchNormStatistics`, with validation every epoch.

    Args:
      batches: training batches for the refresh: a `tf.data.Dataset` (repeated) or an endless
        `tf.distribute.DistributedDataset`.
      steps: batches per refresh.
    """

    def __init__(self, batches, steps=DEFAULT_REFRESH_STEPS):
        super().__init__(batches, steps)
        self._trained_weights = None  # the trained weights while the averages are in the model
        self._fresh = False  # the statistics are those of the weights in the model

    def on_train_begin(self, logs=None):
        inner = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        if not getattr(inner, "use_ema", False):
            raise ValueError(
                "AveragedWeights needs an optimizer that averages the weights (use_ema=True, "
                f"e.g. recipe_optimizer(ema_momentum=0.999)); got {type(inner).__name__} with "
                f"use_ema={getattr(inner, 'use_ema', None)!r}."
            )
        self._trained_weights, self._fresh = None, False

    def on_train_batch_end(self, batch, logs=None):
        self._fresh = False

    def on_test_begin(self, logs=None):
        if self._trained_weights is None:
            variables = self.model.trainable_variables
            self._trained_weights = [tf.convert_to_tensor(v) for v in variables]
            self.model.optimizer.finalize_variable_values(variables)  # the averages, assigned
        super().on_test_begin(logs)  # the statistics of the averaged weights
        self._fresh = True

    def on_epoch_end(self, epoch, logs=None):
        if self._trained_weights is not None:
            for variable, value in zip(
                self.model.trainable_variables, self._trained_weights, strict=True
            ):
                variable.assign(value)
            self._trained_weights = None

    def on_train_end(self, logs=None):
        # Keras's `fit` has put the averages in the model (`finalize_variable_values`).
        self._trained_weights = None
        if not self._fresh:
            self.refresh()
            self._fresh = True

    def refresh(self):
        """Refreshes the moving statistics for the weights in the model now."""
        super().on_test_begin()
