"""Memory-saving gradients: recompute a coupling's activations from its output by invertibility."""

import keras
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    check_event_shape,
    reject_training_in_forward,
)
from tfp_realnvp.bijectors.masked_affine_coupling import MaskedAffineCoupling
from tfp_realnvp.bijectors.moving_average_batch_norm import MovingAverageBatchNorm

_EVENT_AXES = [-3, -2, -1]


class RecomputedCoupling(FlowBijector):
    """A coupling and its batch norm whose training gradient keeps no network activations.

    The same map as `FlowSequence([coupling, batch_norm])`, in both directions and modes. The
    difference is the gradient of `inverse(x, training=True)` (the paper's f, what
    `log_prob(..., bijector_kwargs={"training": True})` differentiates): instead of keeping
    every activation of the coupling's network for the backward pass, it keeps only the output
    y [B, H, W, C] and the batch norm's per-channel statistics, and in the backward pass

        h = batch_norm^-1(y)  with the saved statistics      (the coupling's output)
        (t, s) = network(b*h) under a tape; b*h = b*x exactly (the kept units pass through)
        x = b*h + (1-b) * (h - t) * exp(-s)                  (the coupling's input, by inversion)
        y', log|det| = batch_norm(x * exp(s) + t) under the same tape (batch statistics again)

    and differentiates y' and log|det| against the incoming gradients. This is the reversible
    networks' trick (RevNets, https://arxiv.org/abs/1707.04585; i-RevNet,
    https://arxiv.org/abs/1802.07088; Glow's memory-saving gradients,
    https://arxiv.org/abs/1807.03039). The network runs twice per training step instead of
    once (about 4/3 of the compute), and peak memory holds the activations of one coupling
    instead of all of them.

    Batch normalisation in training mode: the batch statistics inside the network are functions
    of the kept units, which are reconstructed exactly, so the recomputation reproduces them; the
    coupling's output statistics are recomputed from the reconstructed output (equal up to
    round-off) so the gradient still flows through them. Moving averages are updated once, in
    the forward pass: the recomputation runs in a `keras.StatelessScope`, which discards the
    updates (and, for `training_statistics="running_average"`, sees the moving averages as they
    were before this step's update).

    In inference mode (`training=False`) and in `forward` (sampling) nothing is recomputed.

    Args:
      coupling: a `MaskedAffineCoupling`.
      batch_norm: the `MovingAverageBatchNorm` of its transformed units, or None.
      validate_args: check inputs at run time.
      name: name of the bijector.
    """

    # Layers are found through `_steps` only, in the order of a plain `FlowSequence`
    # (`parameters` holds the same bijectors, in an order of its own).
    _TF_MODULE_IGNORED_PROPERTIES = FlowBijector._TF_MODULE_IGNORED_PROPERTIES.union(
        ("_parameters",)
    )

    def __init__(self, coupling, batch_norm=None, validate_args=False, name="recomputed_coupling"):
        parameters = dict(locals())
        if not isinstance(coupling, MaskedAffineCoupling):
            raise TypeError(
                f"`coupling` must be a MaskedAffineCoupling; got {type(coupling).__name__}."
            )
        if batch_norm is not None and not isinstance(batch_norm, MovingAverageBatchNorm):
            raise TypeError(
                "`batch_norm` must be a MovingAverageBatchNorm or None; "
                f"got {type(batch_norm).__name__}."
            )
        with tf.name_scope(name) as name:
            self._steps = [coupling] if batch_norm is None else [coupling, batch_norm]
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                dtype=coupling.dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def coupling(self):
        return self._steps[0]

    @property
    def batch_norm(self):
        return self._steps[1] if len(self._steps) > 1 else None

    @property
    def steps(self):
        return list(self._steps)

    # -- the map, as FlowSequence([coupling, batch_norm]) -----------------------------------------

    def _forward_and_log_det(self, y, training=False):
        reject_training_in_forward(training, self.name)
        log_det = 0.0
        for step in reversed(self._steps):
            y, step_log_det = step._forward_and_log_det(y, training=training)
            log_det += step_log_det
        return y, log_det

    def _inverse_and_log_det(self, x, training=False):
        if training is False:
            log_det = 0.0
            for step in self._steps:
                x, step_log_det = step._inverse_and_log_det(x, training=False)
                log_det += step_log_det
            return x, log_det
        check_event_shape(x, self.coupling._event_shape, "x", self.name)
        return self._memory_saving_inverse(x)

    # -- training: forward without a tape, backward by recomputation ------------------------------

    def _previous_moving_moments(self):
        """Moving averages before this step's update, if the normalisation depends on them."""
        bn = self.batch_norm
        if bn is None or bn._training_statistics != "running_average":
            return ()
        return (tf.identity(bn.moving_mean), tf.identity(bn.moving_variance))

    def _memory_saving_inverse(self, x):
        coupling, bn = self.coupling, self.batch_norm
        previous = self._previous_moving_moments()

        @tf.custom_gradient
        def inverse(x):
            h, log_det = coupling._inverse_and_log_det(x, training=True)
            if bn is None:
                y, mean, variance = h, None, None
            else:
                mean, variance = bn._statistics(h, True)  # updates the moving averages, once
                y, bn_log_det = bn._normalise(h, mean, variance)
                log_det += bn_log_det

            def grad(dy, dlog_det, variables=None):
                # An output the loss does not use gets no gradient (None): that means 0 here,
                # not the tape's default of 1.
                dy = tf.zeros_like(y) if dy is None else dy
                dlog_det = tf.zeros_like(log_det) if dlog_det is None else dlog_det
                return self._recomputed_gradients(
                    y, mean, variance, previous, dy, dlog_det, variables or []
                )

            return (y, log_det), grad

        return inverse(x)

    def _recomputed_gradients(self, y, mean, variance, previous, dy, dlog_det, variables):
        coupling, bn = self.coupling, self.batch_norm
        # Recompute only once this coupling's output gradient exists. Without the dependency a
        # graph executor may rebuild every coupling's activations as soon as the forward pass
        # ends (they depend on y alone) and hold them all, which is what this class avoids.
        with tf.control_dependencies([dy, dlog_det]):
            y = tf.identity(y)
            if bn is not None:
                mean, variance = tf.identity(mean), tf.identity(variance)
        h = y if bn is None else bn._denormalise(y, mean, variance)[0]
        kept = h * coupling._keep
        mapping = []
        if previous:
            moments = (bn._moments.moving_mean, bn._moments.moving_variance)
            mapping = list(zip(moments, previous, strict=True))
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(variables)
            tape.watch(kept)
            with keras.StatelessScope(state_mapping=mapping):
                shift, log_scale = coupling._shift_and_log_scale(kept, True)
                transformed = tf.stop_gradient((h - shift) * tf.exp(-log_scale))
                tape.watch(transformed)
                x = kept + coupling._transform * transformed  # the coupling's input, rebuilt
                h = x * tf.exp(log_scale) + shift
                log_det = tf.reduce_sum(log_scale, axis=_EVENT_AXES)
                if bn is not None:
                    y, bn_log_det = bn._inverse_and_log_det(h, training=True)
                    log_det += bn_log_det
                else:
                    y = h
        dkept, dtransformed, *dvariables = tape.gradient(
            [y, log_det],
            [kept, transformed, *variables],
            output_gradients=[dy, dlog_det],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        # d/dx: the kept units reach y directly and through the network; the others through
        # x * exp(s). (The network saw `kept` as given, so its gradient off the mask is dropped.)
        dx = coupling._keep * dkept + coupling._transform * dtransformed
        # Hand dx on (and so let the previous coupling's recomputation start) only once every
        # gradient of this coupling is computed: otherwise a graph executor may postpone the
        # weight gradients and keep several couplings' activations alive at once.
        with tf.control_dependencies([g for g in dvariables if g is not None]):
            dx = tf.identity(dx)
        return dx, dvariables
