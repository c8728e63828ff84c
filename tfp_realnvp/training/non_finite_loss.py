"""Stop training at the first NaN or infinite loss, before any callback saves broken weights."""

import math

import keras


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; raised before anything is saved."""


class StopOnNonFiniteLoss(keras.callbacks.TerminateOnNaN):
    """`TerminateOnNaN` that raises `NonFiniteLossError` at once instead of finishing the epoch.

    Keras's `TerminateOnNaN()` only sets `stop_training`: the epoch still ends, so end-of-epoch
    callbacks (backups, checkpoints) would save the broken weights. Raising from the batch that
    went wrong skips them all, so the last good checkpoint stays on disk. Put this callback
    first in the list.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"the training loss became {float(loss)} at epoch {self._epoch + 1}, "
                f"batch {batch + 1}; training stopped before saving anything"
            )
