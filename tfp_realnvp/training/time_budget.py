"""Stop `fit` at a wall-clock budget, at a step boundary; decay the learning rate over it."""

import math
import time

import keras

from tfp_realnvp.training.schedules import WarmupCosineDecay, cosine_decay_factor


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


class CosineDecayOverBudget(keras.callbacks.Callback):
    """A linear warm-up, then a cosine decay of the learning rate to 0 over a time budget.

    Before each training step s (the optimizer's `iterations`), with the warm-up's
    W = warmup_steps and the budget's B seconds:

        lr = learning_rate * min((s + 1) / W, 1) * (1 + cos(pi t)) / 2,
        t = min((elapsed - e_W) / (B - e_W), 1)

    where `elapsed` is `budget`'s clock since `fit` began and e_W the time at which the warm-up
    ended (0 without one). So the rate reaches 0 as the budget runs out, however many steps that
    turns out to be: `WarmupCosineDecay` over a number of steps, for runs with no step count.
    List it after its `TimeBudget`, and build the optimizer with the constant `learning_rate`
    (this callback assigns it before every step).

    Args:
      budget: the run's `TimeBudget`.
      learning_rate: the peak learning rate, > 0.
      warmup_steps: steps of the linear warm-up, >= 0.
    """

    def __init__(self, budget, learning_rate, warmup_steps=0):
        super().__init__()
        if not isinstance(budget, TimeBudget):
            raise ValueError(f"`budget` must be a TimeBudget; got budget={budget!r}.")
        self.budget = budget
        self.warmup = WarmupCosineDecay(learning_rate, warmup_steps=warmup_steps)
        self._step = 0
        self._warmup_end = None

    def on_train_begin(self, logs=None):
        self._step = int(self.model.optimizer.iterations.numpy())
        self._warmup_end = None if self._step < self.warmup.warmup_steps else 0.0

    def on_train_batch_begin(self, batch, logs=None):
        rate = float(self.warmup(self._step))
        if self._warmup_end is not None:
            elapsed = self.budget.elapsed_seconds
            remaining = 60.0 * self.budget.minutes - self._warmup_end
            t = min((elapsed - self._warmup_end) / remaining, 1.0) if remaining > 0 else 1.0
            rate *= cosine_decay_factor(t)
        self.model.optimizer.learning_rate = rate

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._warmup_end is None and self._step >= self.warmup.warmup_steps:
            self._warmup_end = self.budget.elapsed_seconds
