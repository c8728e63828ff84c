"""The moving-average update of a batch-norm statistic, shared by every batch norm here."""

import tensorflow as tf


def move_statistic(variable, batch_value, momentum):
    """moving <- momentum * moving + (1 - momentum) * batch; returns the new value.

    Written moving - (1 - momentum) * (moving - batch), as Keras's batch normalisation rounds
    it, from one read of the statistic.
    """
    value = tf.convert_to_tensor(variable)
    moved = value - (value - batch_value) * (1.0 - momentum)
    variable.assign(moved)
    return moved
