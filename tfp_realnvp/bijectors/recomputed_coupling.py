"""Memory-saving gradients: recompute a coupling's activations from its output by invertibility."""

import keras
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import IMAGE_EVENT_NDIMS, FlowBijector
from tfp_realnvp.bijectors.masked_coupling import MaskedCoupling
from tfp_realnvp.networks.recomputation import available_after


class RecomputedCoupling(FlowBijector):
    """A coupling whose training gradient keeps no network activations, only its output.

    The same map as `coupling`, in both directions and modes. The difference is the gradient of
    `inverse(x, training=True)` (the paper's f, what
    `log_prob(..., bijector_kwargs={"training": True})` differentiates): instead of keeping
    every activation of the coupling's network for the backward pass, it keeps only the output
    z [B, H, W, C], and in the backward pass rebuilds the input by inversion,

        theta = NN(b*z) under a tape; b*z = b*x exactly (the kept units pass through)
        x = coupling.untransform(z, theta)                       (the input, rebuilt)
        z', log|det| = coupling.transform(x, theta) under the same tape

    and differentiates z' and log|det| against the incoming gradients. This is the reversible
    networks' trick (RevNets, https://arxiv.org/abs/1707.04585; i-RevNet,
    https://arxiv.org/abs/1802.07088; Glow's memory-saving gradients,
    https://arxiv.org/abs/1807.03039). The network runs twice per training step instead of
    once (about 4/3 of the compute), and peak memory holds the activations of one coupling
    instead of all of them. It works for every `MaskedCoupling` (affine, additive, spline, a
    user's network): it calls the coupling's own `network_output`, `transform` and
    `untransform`, so both paths run the same arithmetic. A normalisation after the coupling
    stays a step of its own: its backward pass keeps only tensors of the image's size.

    Batch normalisation inside the network, in training mode: its batch statistics are
    functions of the kept units, which are rebuilt exactly, so the recomputation reproduces
    them. Its moving averages are updated once, in the forward pass: the recomputation runs in
    a `keras.StatelessScope`, which discards the updates.

    A conditional coupling's context c is passed to the recomputation as well (theta =
    NN(b*z, c)), and gets its gradient from it.

    In inference mode and in `forward` (sampling) nothing is recomputed.

    Args:
      coupling: a `MaskedCoupling` (for example `MaskedAffineCoupling`).
      validate_args: check inputs at run time.
      name: name of the bijector.
    """

    def __init__(
        self,
        coupling: MaskedCoupling,
        validate_args: bool = False,
        name: str = "recomputed_coupling",
    ) -> None:
        parameters = dict(locals())
        if not isinstance(coupling, MaskedCoupling):
            raise TypeError(
                "`coupling` must be a MaskedCoupling (affine, additive, spline, ...); "
                f"got coupling={coupling!r} of type {type(coupling).__name__}."
            )
        with tf.name_scope(name) as name:
            self._coupling = coupling
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                dtype=coupling.dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def coupling(self):
        return self._coupling

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        return self._coupling._forward_and_log_det(z, False, conditional_input)

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        if not training:
            return self._coupling._inverse_and_log_det(x, False, conditional_input)
        if conditional_input is None:
            return self._memory_saving_inverse(x)
        return self._memory_saving_inverse(x, tf.convert_to_tensor(conditional_input))

    def _memory_saving_inverse(self, *inputs):
        """`inputs`: (x,) or, in a conditional flow, (x, context); both get gradients."""
        coupling = self._coupling

        @tf.custom_gradient
        def inverse(*inputs):
            z, log_det = coupling._inverse_and_log_det(inputs[0], True, *inputs[1:])

            def grad(dz, dlog_det, variables=None):
                # An output the loss does not use gets no gradient (None): that means 0 here,
                # not the tape's default of 1.
                dz = tf.zeros_like(z) if dz is None else dz
                dlog_det = tf.zeros_like(log_det) if dlog_det is None else dlog_det
                return self._recomputed_gradients(z, inputs[1:], dz, dlog_det, variables or [])

            return (z, log_det), grad

        return inverse(*inputs)

    def _recomputed_gradients(self, z, context, dz, dlog_det, variables):
        """([dx] or [dx, dcontext], variable gradients); `context` is () or (c,)."""
        coupling = self._coupling
        # Recompute only once this coupling's output gradient exists. Without the dependency a
        # graph executor may rebuild every coupling's activations as soon as the forward pass
        # ends (they depend on z alone) and hold them all, which is what this class avoids.
        z = available_after([dz, dlog_det], z)
        kept = z * coupling.keep_mask
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(variables)
            tape.watch(kept)
            tape.watch(context)
            with keras.StatelessScope():  # the forward pass already moved the averages
                params = coupling.network_output(kept, True, *context)
                x = tf.stop_gradient(coupling.untransform(z, params)[0])
                tape.watch(x)
                z_again, log_det = coupling.transform(x, params)
        dkept, dx, *dcontext_and_variables = tape.gradient(
            [z_again, log_det],
            [kept, x, *context, *variables],
            output_gradients=[dz, dlog_det],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        dcontext = dcontext_and_variables[: len(context)]
        dvariables = dcontext_and_variables[len(context) :]
        dx = dx + coupling.keep_mask * dkept
        # Hand dx on (and so let the previous coupling's recomputation start) only once every
        # gradient of this coupling is computed: otherwise a graph executor may postpone the
        # weight gradients and keep several couplings' activations alive at once.
        return [available_after(dvariables, dx), *dcontext], dvariables
