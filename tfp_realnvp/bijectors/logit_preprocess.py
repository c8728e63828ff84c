"""Real NVP's preprocessing: pixels in [0, 1] <-> logit space."""

import math

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors


class LogitPreprocess(tfb.Bijector):
    """Maps dequantised pixels x in [0, 1] to logit space, elementwise, with its log-det.

    With p = alpha + (1 - 2*alpha) * x (the authors' code; the paper writes alpha + (1-alpha)x):

        inverse (x -> y):  y = logit(p) = log(p) - log(1 - p)
            log|dy/dx| = log(1 - 2*alpha) - log(p) - log(1 - p)
        forward (y -> x):  x = (sigmoid(y) - alpha) / (1 - 2*alpha)
            log|dx/dy| = -log(1 - 2*alpha) - softplus(-y) - softplus(y)

    Including this log-det in log p(x) reports likelihoods in pixel space. Sampling (`forward`)
    returns x in (-alpha/(1-2alpha), 1 + alpha/(1-2alpha)), slightly wider than [0, 1]: clip only
    where an image is written.

    Args:
      alpha: in (0, 0.5); keeps p away from 0 and 1. The authors' code uses 0.05.
      validate_args: check at run time that `inverse`'s x is in [0, 1] and not NaN.
      name: name of the bijector.

    Example:
      >>> logit = LogitPreprocess(alpha=0.05)
      >>> np.round(logit.inverse([0.0, 0.5, 1.0]).numpy(), 3)  # logit(0.05), 0, logit(0.95)
      array([-2.944,  0.   ,  2.944], dtype=float32)
      >>> np.round(logit.forward([-10.0, 10.0]).numpy(), 3)  # samples may leave [0, 1] a little
      array([-0.056,  1.056], dtype=float32)

    Reference: Real NVP section 4.1, https://arxiv.org/abs/1605.08803.
    """

    def __init__(self, alpha=0.05, validate_args=False, name="logit_preprocess"):
        parameters = dict(locals())
        if not isinstance(alpha, (int, float)) or not 0.0 < alpha < 0.5:
            raise ValueError(f"`alpha` must be a number in (0, 0.5); got alpha={alpha!r}.")
        with tf.name_scope(name) as name:
            self._alpha = float(alpha)
            super().__init__(
                forward_min_event_ndims=0,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @property
    def alpha(self):
        return self._alpha

    def _validated(self, x):
        if not self.validate_args:
            return x
        message = f"{self.name}: pixel values `x` must lie in [0, 1] (dequantised pixels / 256)"
        with tf.control_dependencies(
            [
                tf.debugging.assert_all_finite(x, message=message + "; got NaN or Inf"),
                tf.debugging.assert_greater_equal(x, tf.zeros([], x.dtype), message=message),
                tf.debugging.assert_less_equal(x, tf.ones([], x.dtype), message=message),
            ]
        ):
            return tf.identity(x)

    def _squash(self, x):
        return self._alpha + (1.0 - 2.0 * self._alpha) * self._validated(x)

    def _inverse(self, x):
        p = self._squash(x)
        return tf.math.log(p) - tf.math.log1p(-p)

    def _inverse_log_det_jacobian(self, x):
        p = self._squash(x)
        return math.log1p(-2.0 * self._alpha) - tf.math.log(p) - tf.math.log1p(-p)

    def _forward(self, y):
        return (tf.sigmoid(y) - self._alpha) / (1.0 - 2.0 * self._alpha)

    def _forward_log_det_jacobian(self, y):
        return -math.log1p(-2.0 * self._alpha) - tf.nn.softplus(-y) - tf.nn.softplus(y)
