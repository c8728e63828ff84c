"""What a training step needs to know of the replicas it runs on."""

import tensorflow as tf


def num_replicas(dtype):
    """The number of replicas in sync (1 without a strategy), as a scalar of `dtype`."""
    return tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, dtype)


def reducible_across_workers(logs):
    """Works around Keras 3 under MultiWorkerMirroredStrategy with several workers.

    Keras reduces each replica's step results with `strategy.reduce("MEAN", value, axis=0)`
    there, which fails on scalars ("Invalid reduction dimension 0 for input with 0
    dimensions", tensorflow/tensorflow#72388). Shaped [1], they reduce to the same scalar.
    """
    strategy = tf.distribute.get_strategy()
    several_workers = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.num_replicas_in_sync > len(strategy.extended.worker_devices)
    )
    if not several_workers:
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}
