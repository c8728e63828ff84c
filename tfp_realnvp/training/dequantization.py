"""Dequantisation and its likelihood bounds: uniform, variational, importance-weighted.

Discrete pixels p in {0, ..., K-1}^D are modelled by the density of x = (p + u) / K; for any
density q(u | p) on the unit cube (Flow++, Ho et al. 2019, section 3.1)

    P(p) = integral over [0, 1)^D of p_x((p + u) / K) K^-D du
         = E_{u ~ q(u | p)} [ p_x((p + u) / K) K^-D / q(u | p) ]

so, by Jensen's inequality, for samples u_1..u_S ~ q(u | p) (S = 1: the variational bound)

    log P(p) >= E [ log (1/S) sum_s p_x((p + u_s) / K) / q(u_s | p) ] - D ln K.

Uniform dequantisation is q = U[0, 1)^D, log q = 0. `bits_per_dim` adds the D ln K, so every
bound here is in the unit of `RealNVPModel.log_prob`: "log p" of the dequantised image.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp.data.dequantize import NOISE_RESOLUTION_BITS
from tfp_realnvp.real_nvp_multiscale import RealNVPMultiScale

tfb = tfp.bijectors
tfd = tfp.distributions


def split_dequantized(x, num_bins):
    """(pixels, u) of dequantised images x = (pixels + u) / num_bins, as floats.

    pixels = floor(x K) clipped to {0, ..., K-1}, u = x K - pixels; exact for the images
    `tfp_realnvp.data.dequantize` makes (its u lies on a grid where floor(x K) recovers p).
    """
    scaled = x * float(num_bins)
    pixels = tf.clip_by_value(tf.floor(scaled), 0.0, float(num_bins - 1))
    return pixels, scaled - pixels


def normal_from_uniform(u):
    """Standard normal noise from uniform noise u in [0, 1): the inverse normal CDF of the
    middle of u's cell on the dequantisation grid (so never +-inf); a function, so the noise
    of the input pipeline (fresh each epoch, fixed with its seed) also drives q(u | p)."""
    cells = 2.0**NOISE_RESOLUTION_BITS
    index = tf.clip_by_value(tf.floor(u * cells), 0.0, cells - 1.0)
    return tf.math.ndtri((index + 0.5) / cells)


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class VariationalDequantizer(tf.Module):
    """q(u | p): a small conditional Real NVP on the dequantisation noise u in (0, 1)^D.

        eps ~ N(0, I),   u = sigmoid(g(eps; c)),   c = p / K - 1/2   (the pixels, a feature map)
        log q(u | p) = log N(eps; 0, I) - log|det dg/deps| - sum log(u (1 - u))

    g is a `RealNVPMultiScale` of one scale without logit preprocessing or normalization (so
    q is a per-image density in training as well), conditioned on the pixels through its
    coupling networks (`conditional_shape=[H, W, C]`). Trained jointly with the model by
    maximising the variational bound; `RealNVPModel(..., dequantizer=...)` holds its layers.

    Args:
      image_shape: [H, W, C] of the images.
      num_bins: K, the pixels' number of levels.
      num_res_blocks, num_filters: of g's coupling networks (Flow++'s is small as well).
    """

    def __init__(self, image_shape, num_bins=256, num_res_blocks=1, num_filters=16, name=None):
        super().__init__(name=name or "variational_dequantizer")
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
            raise ValueError(f"`num_bins` must be an integer >= 2; got num_bins={num_bins!r}.")
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_bins = num_bins
        self.num_res_blocks = num_res_blocks
        self.num_filters = num_filters
        self.flow = RealNVPMultiScale(
            list(self.image_shape),
            num_scales=1,
            num_res_blocks=num_res_blocks,
            num_filters=num_filters,
            logit_alpha=None,
            normalization=None,
            conditional_shape=self.image_shape,
            name="dequantizer_flow",
        )
        self._sigmoid = tfb.Sigmoid()
        self._base = tfd.Sample(tfd.Normal(0.0, 1.0), self.image_shape)  # of eps

    @property
    def keras_layers(self):
        return self.flow.keras_layers

    def context(self, pixels):
        """c = p / K - 1/2: what g's coupling networks see of the pixels."""
        return pixels / float(self.num_bins) - 0.5

    def noise_and_log_prob(self, pixels, eps):
        """(u, log q(u | p)) for standard normal `eps` [..., H, W, C]: u = sigmoid(g(eps; c)).

        g has no batch statistics, so training and inference compute the same map.
        """
        kwargs = {"conditional_input": self.context(pixels), "training": False}
        logits = self.flow.forward(eps, **kwargs)
        log_det = self.flow.forward_log_det_jacobian(eps, event_ndims=3, **kwargs)
        log_det += self._sigmoid.forward_log_det_jacobian(logits, event_ndims=3)
        return self._sigmoid.forward(logits), self._base.log_prob(eps) - log_det

    def log_prob(self, u, pixels):
        """log q(u | p) by the inverse path, in inference mode: TFP's TransformedDistribution of
        the same map (what `noise_and_log_prob` computes along the forward path)."""
        bijector = tfb.Chain([self._sigmoid, self.flow])
        distribution = tfd.TransformedDistribution(self._base, bijector)
        kwargs = {"conditional_input": self.context(pixels), "training": False}
        return distribution.log_prob(u, bijector_kwargs={self.flow.name: kwargs})

    def get_config(self):
        return {
            "image_shape": list(self.image_shape),
            "num_bins": self.num_bins,
            "num_res_blocks": self.num_res_blocks,
            "num_filters": self.num_filters,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
