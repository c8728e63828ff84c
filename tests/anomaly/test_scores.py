"""The per-image scores: PNG length, input complexity, likelihood ratio, scoring a model."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfp_realnvp.anomaly import (
    input_complexity,
    likelihood_ratio,
    png_bits_per_dim,
    score_batches,
    score_images,
)
from tfp_realnvp.data import dequantize

RNG = np.random.default_rng(0)
CONSTANT = np.full([1, 32, 32, 3], 120, np.uint8)
NOISE = RNG.integers(0, 256, [1, 32, 32, 3], dtype=np.uint8)


class MeanPixelModel:
    """A stand-in density with a known bits/dim: 8 * (1 - mean pixel) + 0.1 * image index."""

    num_bins = 256

    def __init__(self, offset=0.0):
        self.offset = offset

    def bits_per_dim(self, x):
        x = tf.convert_to_tensor(x)
        return 8.0 * (1.0 - tf.reduce_mean(x, axis=[1, 2, 3])) + self.offset


def test_png_length_is_the_file_size_in_bits_per_dimension():
    buffer = io.BytesIO()
    Image.fromarray(NOISE[0]).save(buffer, format="PNG", compress_level=9)
    assert png_bits_per_dim(NOISE, 256)[0] == buffer.tell() * 8 / NOISE[0].size


def test_a_constant_image_compresses_to_a_fraction_of_noise():
    constant, noise = png_bits_per_dim(np.concatenate([CONSTANT, NOISE]), 256)
    assert constant < 0.3 < 8.0 < noise  # uniform noise does not compress


def test_dequantised_images_compress_as_their_integer_pixels():
    pixels = np.concatenate([CONSTANT, NOISE])
    x = dequantize(tf.constant(pixels), 256, tf.constant([1, 2]))
    np.testing.assert_array_equal(png_bits_per_dim(x, 256), png_bits_per_dim(pixels, 256))
    # 17 levels (the digits): floor(x * 17) recovers the levels 0..16.
    levels = RNG.integers(0, 17, [2, 8, 8, 1])
    x = dequantize(tf.constant(levels), 17, tf.constant([3, 4]))
    np.testing.assert_array_equal(png_bits_per_dim(x, 17), png_bits_per_dim(levels, 17))


def test_a_constant_image_scores_as_simple_under_input_complexity():
    # Equal likelihood: the image a compressor finds simple is the more anomalous one.
    images = np.concatenate([CONSTANT, NOISE])
    scores = input_complexity(np.array([3.0, 3.0]), images, 256)
    np.testing.assert_allclose(scores, 3.0 - png_bits_per_dim(images, 256))
    assert scores[0] > scores[1]


def test_likelihood_ratio_is_bits_minus_background_bits():
    np.testing.assert_allclose(likelihood_ratio([3.0, 1.0], [2.5, 2.0]), [0.5, -1.0])
    with pytest.raises(ValueError, match=r"`background_bits_per_dim` must have the shape"):
        likelihood_ratio([3.0, 1.0], [2.5])


def test_score_images_uses_the_models_and_the_formulas():
    x = dequantize(tf.constant(np.concatenate([CONSTANT, NOISE])), 256, tf.constant([5, 6]))
    model, background = MeanPixelModel(), MeanPixelModel(offset=1.5)
    scores = score_images(
        model, x, ["bits_per_dim", "input_complexity", "likelihood_ratio"], background
    )
    bits = model.bits_per_dim(x).numpy()
    np.testing.assert_allclose(scores["bits_per_dim"], bits)
    np.testing.assert_allclose(scores["input_complexity"], bits - png_bits_per_dim(x, 256))
    np.testing.assert_allclose(scores["likelihood_ratio"], [-1.5, -1.5], rtol=1e-6)


def test_score_batches_concatenates_batches_up_to_max_images():
    x = tf.random.uniform([10, 8, 8, 1])
    batches = tf.data.Dataset.from_tensor_slices(x).batch(4)
    model = MeanPixelModel()
    whole = score_images(model, x)
    scored = score_batches(model, batches)
    for method in ("bits_per_dim", "input_complexity"):
        np.testing.assert_allclose(scored[method], whole[method], rtol=1e-6)
    first = score_batches(model, batches, ["bits_per_dim"], max_images=6)["bits_per_dim"]
    np.testing.assert_allclose(first, whole["bits_per_dim"][:6], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"methods": ["bits"]}, r"`methods` must be names from \("),
        ({"methods": []}, r"`methods` must be names from"),
        ({"methods": ["likelihood_ratio"]}, r"`background` is None but `methods` asks for"),
    ],
)
def test_bad_methods_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        score_images(MeanPixelModel(), tf.zeros([1, 4, 4, 1]), **kwargs)


@pytest.mark.parametrize(
    "x, num_bins, message",
    [
        (np.zeros([4, 4, 1]), 256, r"`x` must be images \[B, H, W, C\] with C in 1..4; got "),
        (np.zeros([1, 4, 4, 5]), 256, r"with C in 1..4; got shape \(1, 4, 4, 5\)"),
        (np.zeros([1, 4, 4, 1]), 1, r"`num_bins` must be an integer from 2 to 256; got 1"),
        (np.zeros([1, 4, 4, 1]), 512, r"`num_bins` must be an integer from 2 to 256; got 512"),
    ],
)
def test_png_length_errors_name_the_argument(x, num_bins, message):
    with pytest.raises(ValueError, match=message):
        png_bits_per_dim(x, num_bins)
