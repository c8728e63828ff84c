"""The binary masks of Real NVP's couplings.

Meaning of a mask value, everywhere in this package (`keep_mask`): 1 = passed through unchanged
(and conditioned on), 0 = transformed.
"""

import numpy as np

from tfp_realnvp.bijectors.flow_bijector import image_event_shape


def checkerboard_mask(event_shape, parity=1):
    """keep_mask[i, j, c] = 1 where (i + j) % 2 == parity, else 0.   Shape [H, W, C], float32.

    parity=1 keeps the squares where i + j is odd (the paper's b); parity=0 is its complement.

    >>> checkerboard_mask([2, 3, 1], parity=1)[..., 0]
    array([[0., 1., 0.],
           [1., 0., 1.]], dtype=float32)
    """
    height, width, channels = image_event_shape(event_shape)
    if parity not in (0, 1):
        raise ValueError(f"`parity` must be 0 or 1; got parity={parity!r}.")
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    board = ((rows + cols) % 2 == parity).astype(np.float32)
    return np.repeat(board[:, :, None], channels, axis=2)


def channel_mask(event_shape, keep_first_half=True):
    """keep_mask[i, j, c] = 1 for c < C/2 (or c >= C/2 when keep_first_half=False).   [H, W, C].

    >>> channel_mask([1, 1, 4])[0, 0]
    array([1., 1., 0., 0.], dtype=float32)
    """
    height, width, channels = image_event_shape(event_shape)
    if channels % 2:
        raise ValueError(
            "A channel-wise mask splits the channels in half, so their number must be even; "
            f"got event_shape={list(event_shape)} with {channels} channels."
        )
    first_half = (np.arange(channels) < channels // 2).astype(np.float32)
    keep = first_half if keep_first_half else 1.0 - first_half
    return np.broadcast_to(keep, (height, width, channels)).copy()
