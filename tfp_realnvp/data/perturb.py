"""Background-model training data: dequantised images with a fraction of values made noise."""

from __future__ import annotations

import numbers

import tensorflow as tf


def perturb_pixels(x: tf.Tensor, rate: float, seed: tf.Tensor | None = None) -> tf.Tensor:
    """Replaces each value of dequantised images, independently with probability ``rate``, by
    a uniform random value: the inputs of Ren et al.'s background model.

        x'_i = v_i  if r_i < rate  else x_i,      r_i, v_i ~ U[0, 1) independently

    A uniform v in [0, 1) is a uniform random level p in {0, ..., K-1} plus its dequantisation
    noise, so on dequantised x = (p + u) / K this is the paper's perturbation of the discrete
    pixels (each value of each channel on its own), followed by dequantisation. Use it in
    training only: a background model p_bg learns the population-level statistics the noise
    leaves intact, and the likelihood ratio log p(x) - log p_bg(x) cancels them.

    Reference: Ren et al., "Likelihood Ratios for Out-of-Distribution Detection", NeurIPS 2019,
    https://arxiv.org/abs/1906.02845 (mutation rates 0.1-0.3).

    Args:
      x: float Tensor [B, H, W, C] (any shape) of dequantised values in [0, 1).
      rate: mu, the probability in [0, 1] that a value is replaced.
      seed: int32 Tensor [2], a stateless seed; None draws one from TensorFlow's global
        generator (fresh noise at each call, reproducible under ``tf.random.set_seed``).

    Returns:
      float Tensor of ``x``'s shape and dtype, values in [0, 1).

    Example:
      >>> x = tf.zeros([2, 8, 8, 1])
      >>> y = perturb_pixels(x, 0.2, seed=tf.constant([1, 2]))  # about 20% of values nonzero
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
        raise ValueError(f"`rate` must be a number in [0, 1]; got rate={rate!r}.")
    x = tf.convert_to_tensor(x)
    if seed is None:
        seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32)
    replace_seed, value_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    replace = tf.random.stateless_uniform(tf.shape(x), replace_seed) < rate
    noise = tf.random.stateless_uniform(tf.shape(x), value_seed, dtype=x.dtype)
    return tf.where(replace, noise, x)
