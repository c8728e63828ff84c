"""Stop training at the first non-finite step, before any callback saves anything."""

import math

import keras


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; raised before anything is saved."""


class StopOnNonFiniteLoss(keras.callbacks.TerminateOnNaN):
    """`TerminateOnNaN` that raises `NonFiniteLossError` at once instead of finishing the epoch.

    `RealNVPModel` skips a step whose loss or gradient is not finite (the `skipped_steps` log)
    and goes on; this callback stops at the first such step instead, as it does for a
    non-finite `loss` log of any model. Keras's `TerminateOnNaN()` only sets `stop_training`:
    the epoch still ends, so end-of-epoch callbacks (backups, checkpoints) would save. Raising
    from the batch that went wrong skips them all, so the last good checkpoint stays on disk.
    Put this callback first in the list.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = float(logs.get("loss", 0.0))
        if logs.get("skipped_steps", 0) > 0 or not math.isfinite(loss):
            raise NonFiniteLossError(
                f"the training loss or its gradient became NaN or infinite at epoch "
                f"{self._epoch + 1}, batch {batch + 1}; training stopped before saving anything"
            )
