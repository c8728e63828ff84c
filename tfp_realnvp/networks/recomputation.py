"""Gradient checkpointing: keep a function's input, recompute the rest in the backward pass."""

import keras
import tensorflow as tf


def available_after(dependencies, tensor):
    """`tensor`, made available only once every tensor of `dependencies` (None ignored) is.

    A graph executor runs an op as soon as its inputs exist. A recomputation depends only on
    tensors of the forward pass, so without this it may run early and hold its activations
    alongside all the others: what recomputing is meant to avoid.
    """
    with tf.control_dependencies([d for d in dependencies if d is not None]):
        return tf.identity(tensor)


def recompute_in_backward(function, inputs):
    """y = function(inputs), with a gradient that keeps `inputs` only (gradient checkpointing).

        forward:   y = f(x); none of f's intermediate tensors is kept
        backward:  once dy exists, y' = f(x) again under a tape, then
                   dx, dW = dy^T dy'/d(x, W)  (W: the variables f read)

    Chen et al. 2016, https://arxiv.org/abs/1604.06174. f runs twice per training step, and
    the backward pass holds the activations of one f at a time. dx is handed on only once
    every dW is computed, so the executor cannot postpone them and keep this f's activations
    while it recomputes the next one.

    f must be deterministic (the same y from the same x and variables). Its state updates (a
    batch norm's moving averages) happen once, in the forward pass: the recomputation runs in
    a `keras.StatelessScope`, which discards them.

    Args:
      function: a callable of one tensor [B, ...] returning one tensor.
      inputs: the tensor x.
    """

    @tf.custom_gradient
    def checkpointed(x):
        def gradient(dy, variables=None):
            variables = list(variables or [])
            x_again = available_after([dy], x)
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x_again)
                tape.watch(variables)
                with keras.StatelessScope():
                    y_again = function(x_again)
            dx, *dvariables = tape.gradient(
                y_again,
                [x_again, *variables],
                output_gradients=dy,
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
            return available_after(dvariables, dx), dvariables

        return function(x), gradient

    return checkpointed(inputs)
