"""Per-image out-of-distribution scores of a trained flow, in bits/dim: higher = more anomalous.

    bits_per_dim       S(x) = bits(x) = (-log p(x) + D ln K) / (D ln 2)        the baseline
    input_complexity   S(x) = bits(x) - L(x),  L = PNG length of x / D          Serra et al.
    likelihood_ratio   S(x) = bits(x) - bits_bg(x) = -LLR(x) / (D ln 2)         Ren et al.

The baseline fails on simple inputs: likelihood is dominated by low-level statistics, so smooth,
dark or constant images get few bits under any model, fewer than the model's own test images
(Nalisnick et al., ICLR 2019, https://arxiv.org/abs/1810.09136). Both corrections subtract an
estimate of that "any model" part: a generic compressor's length, or a background model's bits.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import tensorflow as tf
from PIL import Image

# The per-image methods, in the order of a score table.
METHODS = ("bits_per_dim", "input_complexity", "likelihood_ratio")
# zlib's strongest level (Pillow's default is 6).
PNG_COMPRESS_LEVEL = 9
# Pillow's image mode for each channel count.
_PNG_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class DensityModel(Protocol):
    """What the scores need of a model: a `RealNVPModel`, or anything with these two."""

    num_bins: int

    def bits_per_dim(self, x: tf.Tensor) -> tf.Tensor: ...


def png_bits_per_dim(x: np.ndarray | tf.Tensor, num_bins: int) -> np.ndarray:
    """L(x): the length in bits of each image's PNG file, per dimension: [B, H, W, C] -> [B].

    The image compressed is the discrete one the model sees, p = floor(x * K) in {0, ..., K-1}
    (K = ``num_bins``; dequantised x = (p + u) / K gives back p exactly), stored as 8-bit
    grey / grey-alpha / RGB / RGBA and encoded with Pillow's PNG writer at zlib level 9 (its
    strongest), as Serra et al. use PNG. L counts the whole file, headers included: a constant
    57 bytes for one image size, which shifts every score alike and changes no ranking.

    Args:
      x: float [B, H, W, C] dequantised images in [0, 1) (what ``tfp_realnvp.data.load``
        yields), or integer pixels in {0, ..., K-1}; C in 1..4.
      num_bins: K, the number of levels a pixel takes (256 for 8-bit images).

    Example:
      >>> flat = np.zeros([1, 32, 32, 3], np.uint8)
      >>> float(png_bits_per_dim(flat, 256)[0]) < 0.5  # a constant image compresses well
      True
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not 2 <= num_bins <= 256:
        raise ValueError(f"`num_bins` must be an integer from 2 to 256; got {num_bins!r}.")
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] not in _PNG_MODES:
        raise ValueError(f"`x` must be images [B, H, W, C] with C in 1..4; got shape {x.shape}.")
    if np.issubdtype(x.dtype, np.floating):
        x = np.floor(x * num_bins)
    pixels = np.clip(x, 0, num_bins - 1).astype(np.uint8)
    mode = _PNG_MODES[x.shape[-1]]
    lengths = [_png_bytes(image, mode) for image in pixels]
    return np.asarray(lengths, np.float64) * 8.0 / np.prod(x.shape[1:])


def _png_bytes(image: np.ndarray, mode: str) -> int:
    buffer = io.BytesIO()
    pixels = image[..., 0] if mode == "L" else image  # Pillow's grey images are [H, W]
    Image.fromarray(pixels, mode).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.tell()


def input_complexity(
    bits_per_dim: np.ndarray | tf.Tensor, x: np.ndarray | tf.Tensor, num_bins: int
) -> np.ndarray:
    """Input complexity score S(x) = bits(x) - L(x): [B] bits/dim, [B, H, W, C] images -> [B].

    bits(x) = -log2 p(x) / D under the flow, L(x) the PNG length per dimension
    (``png_bits_per_dim``). A generic compressor is a universal model of "any image", so S is a
    log-likelihood ratio of the compressor against the flow (Occam's razor): simple images,
    which both model well, no longer score as typical. High S = out of distribution.

    Reference: Serra et al., "Input complexity and out-of-distribution detection with
    likelihood-based generative models", ICLR 2020, https://arxiv.org/abs/1909.11480.
    """
    return np.asarray(bits_per_dim, np.float64) - png_bits_per_dim(x, num_bins)


def likelihood_ratio(
    bits_per_dim: np.ndarray | tf.Tensor, background_bits_per_dim: np.ndarray | tf.Tensor
) -> np.ndarray:
    """Likelihood-ratio score S(x) = bits(x) - bits_bg(x), in bits/dim: [B], [B] -> [B].

    Ren et al.'s statistic is LLR(x) = log p(x) - log p_bg(x), low for out-of-distribution
    inputs; S = -LLR(x) / (D ln 2) is the same ranking, with the sign of the other scores (high
    = anomalous). p_bg is a model of the same kind trained on inputs with a fraction of pixels
    replaced by noise (``tfp_realnvp.data.perturb_pixels``, ``tfp-realnvp train --perturb``):
    it learns the background statistics that dominate both likelihoods, and the ratio keeps
    the semantic part.

    Reference: Ren et al., "Likelihood Ratios for Out-of-Distribution Detection", NeurIPS 2019,
    https://arxiv.org/abs/1906.02845.
    """
    bits = np.asarray(bits_per_dim, np.float64)
    background = np.asarray(background_bits_per_dim, np.float64)
    if bits.shape != background.shape:
        raise ValueError(
            f"`background_bits_per_dim` must have the shape of `bits_per_dim`, {bits.shape}; "
            f"got {background.shape}."
        )
    return bits - background


def score_images(
    model: DensityModel,
    x: np.ndarray | tf.Tensor,
    methods: Sequence[str] = METHODS[:2],
    background: DensityModel | None = None,
) -> dict[str, np.ndarray]:
    """Each method's score of each image, higher = more anomalous: {method: [B]}.

    Args:
      model: the trained flow (a ``RealNVPModel``: inference mode, bits/dim of the discrete
        data).
      x: float [B, H, W, C] dequantised images in [0, 1), of the model's shape.
      methods: names from ``METHODS``.
      background: the background model, needed for "likelihood_ratio".

    Example:
      >>> scores = score_images(model, images)  # doctest: +SKIP
      >>> scores["input_complexity"].shape  # doctest: +SKIP
      (64,)
    """
    return _score(
        model.bits_per_dim,
        x,
        model.num_bins,
        _checked(methods, background),
        None if background is None else background.bits_per_dim,
    )


def score_batches(
    model: DensityModel,
    batches: Iterable[tf.Tensor],
    methods: Sequence[str] = METHODS[:2],
    background: DensityModel | None = None,
    max_images: int | None = None,
) -> dict[str, np.ndarray]:
    """``score_images`` over batches of images (a ``tf.data.Dataset``), concatenated:
    {method: [N]}, N the images read (at most ``max_images``).

    The models' bits/dim run as ``tf.function`` s. Pass held-out batches with fixed
    dequantisation noise and no augmentation for reproducible scores.
    """
    methods = _checked(methods, background)
    parts, count = [], 0
    for x in batches:
        if not parts:  # one trace for every batch size
            spec = tf.TensorSpec([None, *x.shape[1:]], x.dtype)
            bits_per_dim, background_bits = (
                None if m is None else tf.function(m.bits_per_dim, input_signature=[spec])
                for m in (model, background)
            )
        if max_images is not None:
            x = x[: max_images - count]
        parts.append(_score(bits_per_dim, x, model.num_bins, methods, background_bits))
        count += len(x)
        if max_images is not None and count >= max_images:
            break
    if not parts:
        return {method: np.zeros([0]) for method in methods}
    return {method: np.concatenate([part[method] for part in parts]) for method in methods}


def _checked(methods: Sequence[str], background: DensityModel | None) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    unknown = [method for method in methods if method not in METHODS]
    if unknown or not methods:
        raise ValueError(f"`methods` must be names from {METHODS}; got {list(methods)!r}.")
    if "likelihood_ratio" in methods and background is None:
        raise ValueError(
            "`background` is None but `methods` asks for 'likelihood_ratio', which needs a "
            "background model (trained with `tfp-realnvp train --perturb 0.2`)."
        )
    return tuple(methods)


def _score(bits_per_dim, x, num_bins, methods, background_bits_per_dim):
    """The scores of one batch, the flow's bits/dim computed once."""
    bits = np.asarray(bits_per_dim(x), np.float64)
    computed = {
        "bits_per_dim": lambda: bits,
        "input_complexity": lambda: input_complexity(bits, x, num_bins),
        "likelihood_ratio": lambda: likelihood_ratio(bits, background_bits_per_dim(x)),
    }
    return {method: computed[method]() for method in methods}
