"""A chain of flow steps that passes `training` to each and evaluates every network once."""

import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    forward_and_log_det,
    inverse_and_log_det,
)


class FlowSequence(FlowBijector):
    """Composition of flow steps, listed in the order of the paper's f (data -> latent).

        inverse (f):  x -> steps[-1].inverse( ... steps[0].inverse(x))
        forward (g):  z -> steps[0].forward( ... steps[-1].forward(z))
        log|det| = the sum of the steps' log|det|s

    This is the order of `tfb.Chain(steps)`, which also applies its list from the end in the
    forward direction and from the start in the inverse direction. Unlike `tfb.Chain`, which
    routes keyword arguments by bijector name, `training=...` and `conditional_input=...` given
    to the sequence reach every step of this package, and each step's value and log-det come
    from one evaluation. Steps may be any `tfb.Bijector` over image events [H, W, C] (for
    example `tfb.Invert(Squeeze())`).

    Args:
      steps: list of bijectors in data -> latent order.
      validate_args: check inputs at run time.
      name: name of the bijector.

    Example (`images`: a batch [4, 8, 8, 1] in [0, 1)):
      >>> flow = FlowSequence([LogitPreprocess(), Squeeze()])  # f: logit, then squeeze
      >>> z = flow.inverse(images)
      >>> z.shape
      TensorShape([4, 4, 4, 4])
      >>> np.testing.assert_allclose(tfb.Chain([LogitPreprocess(), Squeeze()]).inverse(images), z)
      >>> np.testing.assert_allclose(flow.forward(z), images, atol=1e-5)  # g(f(x)) = x
    """

    def __init__(self, steps, validate_args=False, name="flow_sequence"):
        parameters = dict(locals())
        if not steps:
            raise ValueError("`steps` must hold at least one bijector; got an empty list.")
        with tf.name_scope(name) as name:
            self._steps = list(steps)
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @property
    def steps(self):
        return list(self._steps)

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        log_det = 0.0
        for step in self._steps:
            x, step_log_det = inverse_and_log_det(step, x, training, conditional_input)
            log_det += step_log_det
        return x, log_det

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        log_det = 0.0
        for step in reversed(self._steps):
            z, step_log_det = forward_and_log_det(step, z, training, conditional_input)
            log_det += step_log_det
        return z, log_det

    def _forward_event_shape(self, input_shape):
        for step in reversed(self._steps):
            input_shape = step.forward_event_shape(input_shape)
        return input_shape

    def _inverse_event_shape(self, output_shape):
        for step in self._steps:
            output_shape = step.inverse_event_shape(output_shape)
        return output_shape

    def _forward_event_shape_tensor(self, input_shape):
        for step in reversed(self._steps):
            input_shape = step.forward_event_shape_tensor(input_shape)
        return input_shape

    def _inverse_event_shape_tensor(self, output_shape):
        for step in self._steps:
            output_shape = step.inverse_event_shape_tensor(output_shape)
        return output_shape
