"""Per-channel mean and variance of a batch of images, over every replica under tf.distribute."""

import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import IMAGE_EVENT_NDIMS


def global_sum(value):
    """`value` summed over the replicas in sync (itself outside `tf.distribute` or on one)."""
    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return value
    return replica.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_channel_moments(x, mask=None):
    """Mean and variance per channel of x [..., H, W, C] over the global batch: ([C], [C]).

    Taken over every axis but the last, and over all replicas under `tf.distribute` (sums and
    counts are all-reduced, so each replica gets the statistics of the global batch, as one
    device would on the whole batch). With `mask` ([H, W, C] of 0/1), only the units where it is
    1 are counted; a channel without any counted unit gets mean and variance 0.
    """
    reduce_axes = list(range(x.shape.rank - 1))
    num_events = tf.cast(tf.reduce_prod(tf.shape(x)[:-IMAGE_EVENT_NDIMS]), x.dtype)
    if mask is None:
        mask = tf.ones(tf.shape(x)[-IMAGE_EVENT_NDIMS:], x.dtype)
    count = global_sum(num_events * tf.reduce_sum(mask, axis=[0, 1]))
    mean = tf.math.divide_no_nan(global_sum(tf.reduce_sum(x * mask, axis=reduce_axes)), count)
    squares = tf.square((x - mean) * mask)
    variance = tf.math.divide_no_nan(global_sum(tf.reduce_sum(squares, axis=reduce_axes)), count)
    return mean, variance
