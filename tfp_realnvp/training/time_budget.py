"""Stop `fit` at a wall-clock budget, at a step boundary."""

import math
import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `minutes` of wall-clock time have passed since `fit` began.

    Checked after every training batch (`on_train_batch_end`): the step that crosses the budget
    is the last, then `fit` ends as at its last epoch (the epoch's validation and end-of-epoch
    callbacks run, then Keras's `on_train_end`), so a stopped run is saved like a finished one.
    The time counts from `on_train_begin`, so it includes the first step's tracing and every
    validation; each `fit` call has the whole budget again.

    Attributes (after `fit`):
      stopped: whether the budget stopped training before its last epoch.
      elapsed_seconds: the wall-clock seconds from the start of `fit` to its last step.
      steps: the training steps (batches) this `fit` ran.

    Args:
      minutes: the budget, a number > 0.
      clock: a function returning seconds (`time.monotonic`; tests pass their own).
    """

    def __init__(self, minutes, clock=time.monotonic):
        super().__init__()
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, (int, float))
            or not (math.isfinite(minutes) and minutes > 0)
        ):
            raise ValueError(f"`minutes` must be a number > 0; got minutes={minutes!r}.")
        self.minutes = minutes
        self._clock = clock
        self._start = None
        self.stopped = False
        self.elapsed_seconds = 0.0
        self.steps = 0

    def on_train_begin(self, logs=None):
        self._start = self._clock()
        self.stopped, self.elapsed_seconds, self.steps = False, 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.elapsed_seconds = self._clock() - self._start
        if self.elapsed_seconds >= 60.0 * self.minutes:
            self.stopped = True
            self.model.stop_training = True
