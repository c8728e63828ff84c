"""The images a `RealNVPModel` accepts: float pixels in its flow's domain, checked."""

import tensorflow as tf


def pixel_domain(logit_alpha):
    """The open interval of x where log p(x) is finite: (0, 1) widened by the logit's margin.

    LogitPreprocess maps x to logit(alpha + (1 - 2 alpha) x), finite for x in
    (-alpha / (1 - 2 alpha), 1 + alpha / (1 - 2 alpha)); samples of the flow fill it.
    Without preprocessing the flow is defined everywhere.
    """
    if logit_alpha is None:
        return -float("inf"), float("inf")
    margin = logit_alpha / (1 - 2 * logit_alpha)
    return -margin, 1 + margin


def as_images(x, dtype):
    """x as a tensor of `dtype`; integer images are refused (they need noise first)."""
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(
            f"`x` must be float images with values in [0, 1]; got x of dtype "
            f"{x.dtype.name}. Dequantise integer pixels first, x = (pixels + u) / num_bins "
            f"with u ~ U[0, 1) (`tfp_realnvp.data.dequantize`), or load batches with "
            f"`tfp_realnvp.data.load`."
        )
    return x if x.dtype == dtype else tf.cast(x, dtype)


def checked_images(x, dtype, domain):
    """`as_images(x, dtype)`, checked at run time: finite values inside `domain` (low, high).

    Everything computed from the result waits for the check, so a refused batch raises
    `tf.errors.InvalidArgumentError` before any variable changes.
    """
    x = as_images(x, dtype)
    low, high = domain
    inside = tf.reduce_all(tf.logical_and(x > low, x < high))  # False for NaN
    check = tf.debugging.Assert(
        inside,
        [
            "`x` must hold finite pixel values in [0, 1] (dequantised: x = (pixels + u) / "
            "num_bins, as `tfp_realnvp.data` gives); got values from",
            tf.reduce_min(x),
            "to",
            tf.reduce_max(x),
            "with NaN:",
            tf.reduce_any(tf.math.is_nan(x)),
        ],
        name="check_images",
    )
    with tf.control_dependencies([check]):
        return tf.identity(x)
