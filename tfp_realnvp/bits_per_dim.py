"""The paper's likelihood unit: bits per dimension of discrete data."""

import math


def bits_per_dim(log_prob, event_shape, num_bins=256):
    """Bits per dimension from a pixel-space log-density (nats) of dequantised x in [0, 1]^D.

        bits/dim = (-log p(x) + D * ln(num_bins)) / (D * ln 2),   D = prod(event_shape)

    x = (pixels + u) / num_bins has density num_bins^D times that of the integer pixels' bins,
    hence the D ln(num_bins) term. This is the number the paper reports (with num_bins = 256).

    Args:
      log_prob: float Tensor [B...], log p(x) in nats, including the logit preprocessing's log-det.
      event_shape: the shape of one x, for example [32, 32, 3].
      num_bins: how many values a pixel takes (256 for 8-bit images).

    Returns:
      float Tensor [B...].

    Example:
      >>> float(bits_per_dim(0.0, [32, 32, 3]))  # the uniform density on [0, 1]^D: 8 bits
      8.0
      >>> float(bits_per_dim(0.0, [8, 8, 1], num_bins=17))  # log2(17)
      4.08...
    """
    num_dims = math.prod(int(d) for d in event_shape)
    if num_dims <= 0:
        raise ValueError(f"`event_shape` must be non-empty and positive; got {list(event_shape)}.")
    if int(num_bins) < 2:
        raise ValueError(f"`num_bins` must be at least 2; got num_bins={num_bins!r}.")
    import tensorflow as tf  # here: `import tfp_realnvp` must not load TensorFlow (the CLI)

    log_prob = tf.convert_to_tensor(log_prob)
    nats = -log_prob + num_dims * math.log(num_bins)
    return nats / (num_dims * math.log(2.0))
