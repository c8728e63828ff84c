"""A coupling layer whose transformed units go through monotone rational-quadratic splines."""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp.bijectors.masked_coupling import MaskedCoupling

tfb = tfp.bijectors

# Floors that keep every bin and knot slope of a spline away from zero (Durkan et al.'s 1e-3).
MIN_BIN_SIZE = 1e-3
MIN_SLOPE = 1e-3


class MaskedSplineCoupling(MaskedCoupling):
    """Rational-quadratic spline coupling: each transformed unit goes through its own spline.

    With keep_mask b (1 = passed through), every transformed unit x_i gets a monotone
    rational-quadratic spline h_i on [-B, B] with K bins (TFP's `tfb.RationalQuadraticSpline`),
    the identity outside that interval (linear tails of slope 1). Its K bin widths, K bin
    heights and K - 1 interior knot slopes come from the conditioner's 3K - 1 outputs per unit:

        widths  = m + (2B - K m) * softmax(raw_w)          (positive, summing to 2B)
        heights = m + (2B - K m) * softmax(raw_h)
        slopes  = m' + (1 - m') * softplus(raw_s + log(e - 1))       (1 where raw_s = 0)

        f:  z = b*x + (1-b) * h(x; NN(b*x))           log|det dz/dx| = sum((1-b) * log h'(x))
        g:  x = b*z + (1-b) * h^-1(z; NN(b*z))

    with the floors m = MIN_BIN_SIZE and m' = MIN_SLOPE (1e-3). A zero network output
    gives equal bins and unit slopes, the identity, so a zero-initialised last layer starts the
    coupling as the identity. Each spline is strictly monotone and differentiable, and maps
    [-B, B] onto itself; the log-det per unit is the spline's own.

    Args:
      keep_mask: [H, W, C] array of 0/1, 1 = passed through.
      conditioner: a Keras 3 layer [B, H, W, C] -> [B, H, W, (3K - 1) C]; the outputs of unit
        (h, w, c) are channels c * (3K - 1) ... (c + 1) * (3K - 1) - 1: K widths, K heights,
        K - 1 slopes.
      num_bins: K >= 2.
      bound: B > 0; the splines act on [-B, B]. Logit-preprocessed pixels lie in about
        [-3, 3], and batch-normalised units mostly inside it, hence the default 3.
      validate_args: check inputs at run time (here: only static shapes are checked).
      dtype: tf.float32 or tf.float64.
      name: name of the bijector.

    Example:
      >>> mask = checkerboard_mask([4, 4, 1])
      >>> net = ResNetConditioner(8, 1, mask_channel=mask[..., 0], output_channels=3 * 8 - 1)
      >>> coupling = MaskedSplineCoupling(mask, net, num_bins=8)
      >>> coupling.inverse(tf.random.normal([2, 4, 4, 1])).shape
      TensorShape([2, 4, 4, 1])

    Reference: Durkan, Bekasov, Murray, Papamakarios, "Neural Spline Flows", NeurIPS 2019,
      https://arxiv.org/abs/1906.04032, section 3.
    """

    params_layout = "per unit: K bin widths, K bin heights, K - 1 knot slopes"

    def __init__(
        self,
        keep_mask: np.ndarray,
        conditioner: keras.layers.Layer,
        *,
        num_bins: int = 8,
        bound: float = 3.0,
        validate_args: bool = False,
        dtype: tf.DType | str = tf.float32,
        name: str = "masked_spline_coupling",
    ) -> None:
        parameters = dict(locals())
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
            raise ValueError(f"`num_bins` must be an integer >= 2; got num_bins={num_bins!r}.")
        if not isinstance(bound, (int, float)) or not bound > 0:
            raise ValueError(f"`bound` must be a positive number; got bound={bound!r}.")
        self._num_bins = num_bins
        self._bound = float(bound)
        self.params_per_unit = self.params_for_bins(num_bins)
        super().__init__(
            keep_mask,
            conditioner,
            validate_args=validate_args,
            dtype=dtype,
            name=name,
            parameters=parameters,
        )

    @staticmethod
    def params_for_bins(num_bins: int) -> int:
        """Network outputs per transformed unit for K bins: K widths, K heights, K - 1 slopes."""
        return 3 * num_bins - 1

    @property
    def num_bins(self):
        return self._num_bins

    @property
    def bound(self):
        return self._bound

    def splines(self, params):
        """Every unit's spline, one per row: a `tfb.RationalQuadraticSpline` of batch shape [N].

        `params` [..., H, W, P*C] holds N = (units) x P numbers; row n is the unit at position n
        of the flattened [..., H, W, C] tensor. (Flat rows also keep every op within oneDNN's
        limit of 5 dimensions.)
        """
        per_unit = tf.reshape(params, [-1, self.params_per_unit])
        k = self._num_bins
        raw_widths, raw_heights, raw_slopes = tf.split(per_unit, [k, k, k - 1], axis=-1)
        span = 2.0 * self._bound
        free = span - k * MIN_BIN_SIZE
        widths = MIN_BIN_SIZE + free * tf.nn.softmax(raw_widths)
        heights = MIN_BIN_SIZE + free * tf.nn.softmax(raw_heights)
        slopes = MIN_SLOPE + (1.0 - MIN_SLOPE) * tf.nn.softplus(raw_slopes + math.log(math.e - 1))
        return tfb.RationalQuadraticSpline(widths, heights, slopes, range_min=-self._bound)

    def transform(self, x, params):
        spline, units = self.splines(params), tf.reshape(x, [-1])
        z = tf.reshape(spline.forward(units), tf.shape(x))
        log_derivative = tf.reshape(spline.forward_log_det_jacobian(units, 0), tf.shape(x))
        return self.masked(x, z, log_derivative)

    def untransform(self, z, params):
        spline, units = self.splines(params), tf.reshape(z, [-1])
        x = tf.reshape(spline.inverse(units), tf.shape(z))
        log_derivative = tf.reshape(spline.inverse_log_det_jacobian(units, 0), tf.shape(z))
        return self.masked(z, x, log_derivative)
