"""Learning-rate schedules of the flows after Real NVP: a linear warm-up, then a cosine decay."""

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A linear warm-up to `learning_rate`, then constant or a cosine decay to `final_fraction`.

    At optimizer step s (`optimizer.iterations`: 0 at the first step), with W = warmup_steps
    and T = decay_steps:

        s < W:           lr = learning_rate * (s + 1) / W
        decay_steps None: lr = learning_rate                               (after the warm-up)
        otherwise:       lr = learning_rate * (a + (1 - a) (1 + cos(pi t)) / 2),
                         t = min(s - W, T) / T,   a = final_fraction

    With W = 0 and no decay it is the constant `learning_rate` (the paper's recipe). Glow and
    Flow++ warm up linearly (Flow++ over 2,000 steps); Jet and TarFlow add the cosine decay.
    The position in the schedule is the optimizer's `iterations`, which Keras saves and
    restores with the optimizer's state, so a resumed run goes on where it stopped.

    Args:
      learning_rate: the peak learning rate, > 0.
      warmup_steps: steps of the linear warm-up, >= 0 (0: none).
      decay_steps: steps of the cosine decay after the warm-up, >= 1, or None (no decay).
      final_fraction: the learning rate at the end of the decay, as a fraction of
        `learning_rate`, in [0, 1].

    Example:
      >>> schedule = WarmupCosineDecay(1e-3, warmup_steps=2, decay_steps=2)
      >>> [round(float(schedule(step)), 6) for step in range(5)]
      [0.0005, 0.001, 0.001, 0.0005, 0.0]
    """

    def __init__(self, learning_rate, warmup_steps=0, decay_steps=None, final_fraction=0.0):
        super().__init__()
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
            raise ValueError(
                f"`learning_rate` must be a number > 0; got learning_rate={learning_rate!r}."
            )
        if not _is_int(warmup_steps) or warmup_steps < 0:
            raise ValueError(
                f"`warmup_steps` must be an integer >= 0; got warmup_steps={warmup_steps!r}."
            )
        if decay_steps is not None and (not _is_int(decay_steps) or decay_steps < 1):
            raise ValueError(
                f"`decay_steps` must be an integer >= 1 or None; got decay_steps={decay_steps!r}."
            )
        if not (isinstance(final_fraction, (int, float)) and 0 <= final_fraction <= 1):
            raise ValueError(
                "`final_fraction` must be a number in [0, 1]; got "
                f"final_fraction={final_fraction!r}."
            )
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = None if decay_steps is None else int(decay_steps)
        self.final_fraction = float(final_fraction)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        rate = tf.constant(self.learning_rate, tf.float32)
        if self.warmup_steps:
            rate *= tf.minimum((step + 1.0) / self.warmup_steps, 1.0)
        if self.decay_steps is not None:
            t = tf.clip_by_value((step - self.warmup_steps) / self.decay_steps, 0.0, 1.0)
            rate *= cosine_decay_factor(t, self.final_fraction, cos=tf.cos)
        return rate

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "final_fraction": self.final_fraction,
        }


def cosine_decay_factor(t, final_fraction=0.0, cos=math.cos):
    """a + (1 - a) (1 + cos(pi t)) / 2 with a = final_fraction: 1 at t = 0, a at t = 1."""
    return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + cos(math.pi * t))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)
