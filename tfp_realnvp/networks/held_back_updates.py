"""Moving-statistic updates that a training step holds back until it knows the step is applied."""

import threading

import keras
import tensorflow as tf

_active = threading.local()


class HeldBackUpdates:
    """Holds a forward pass's moving-statistic updates, then applies them or not, at once.

        held_back = HeldBackUpdates(model.non_trainable_variables)  # reads each once: "before"
        with held_back:
            log_prob = model(x, training=True)  # statistics unchanged, their new values held
        ...                                     # the gradient; the optimizer step, or not
        held_back.apply(applied)                # each: new value if applied, else "before"

    Inside the context, layers read their statistics with `current_statistic` (the value held
    by an earlier call in this pass, else "before", without another read) and update them
    with `update_statistic` (held, not assigned). A training step thus reads each statistic
    once and assigns it once, instead of a snapshot, a read and an assignment in the forward
    pass, and a read and an assignment to restore it after a skipped step.

    A variable that a layer assigns itself during the pass (a plain
    `keras.layers.BatchNormalization` in a network of your own, ActNorm's initialisation flag)
    gets `where(applied, its new value, before)` too.

    Outside a context, `current_statistic` reads the variable and `update_statistic` assigns it.

    Args:
      variables: the variables to restore when a step is not applied (a model's non-trainable
        variables: the same Keras variables the layers update). Each is read once, here: TF
        runs these reads before the forward pass's assignments.
    """

    def __init__(self, variables):
        self._before = {id(v): (v, tf.convert_to_tensor(v)) for v in variables}
        self._held = {}

    def __enter__(self):
        if _held_back_updates() is not None:
            raise RuntimeError("HeldBackUpdates contexts do not nest.")
        _active.updates = self
        return self

    def __exit__(self, *exc_info):
        _active.updates = None

    def current(self, variable):
        """The value held for `variable` in this pass, else its value before it."""
        if id(variable) in self._held:
            return self._held[id(variable)]
        if id(variable) not in self._before:  # not one of `variables`: read it now
            self._before[id(variable)] = (variable, tf.convert_to_tensor(variable))
        return self._before[id(variable)][1]

    def hold(self, variable, value):
        """Holds `value` as the variable's new value (assigned by `apply`)."""
        self.current(variable)  # its value before, kept for `apply`
        self._held[id(variable)] = tf.convert_to_tensor(value, variable.dtype)

    def apply(self, applied):
        """variable <- new value if `applied` (a bool tensor), else its value before."""
        for key, (variable, before) in self._before.items():
            new = self._held[key] if key in self._held else tf.convert_to_tensor(variable)
            variable.assign(tf.where(applied, new, before))


def _held_back_updates():
    return getattr(_active, "updates", None)


def current_statistic(variable):
    """The statistic's value: as held back in this training step, else the variable's."""
    updates = _held_back_updates()
    return tf.convert_to_tensor(variable) if updates is None else updates.current(variable)


def update_statistic(variable, value):
    """variable <- value, or held back inside a `HeldBackUpdates` context."""
    updates = _held_back_updates()
    if updates is None:
        variable.assign(value)
    else:
        updates.hold(variable, value)


def move_statistic(variable, batch_value, momentum):
    """moving <- momentum * moving + (1 - momentum) * batch; returns the new value.

    Written moving - (1 - momentum) * (moving - batch), from one read of the statistic (none
    inside a `HeldBackUpdates`, which read it already), and held back there.
    """
    value = current_statistic(variable)
    moved = value - (value - batch_value) * (1.0 - momentum)
    update_statistic(variable, moved)
    return moved


def holding_back():
    """Whether a `HeldBackUpdates` context is collecting updates."""
    return _held_back_updates() is not None


def held_statistics_scope(variables):
    """A `keras.StatelessScope` in which `variables` read as `current_statistic` gives them.

    For a Keras layer that assigns its statistics itself (`keras.layers.BatchNormalization`):
    called inside this scope, its updates are recorded by the scope instead of assigned, and
    the caller hands them on with `update_statistic(variable, scope.get_current_value(variable))`.
    """
    return keras.StatelessScope([(v, current_statistic(v)) for v in variables])
