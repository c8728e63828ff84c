"""Crops, resizes and augmentation, checked on constructed images with known answers."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_realnvp.data.preprocessing import (
    augment,
    center_crop,
    check_square,
    crop_celeb_a,
    resize_shortest_side,
    resize_to_fill,
    resize_uint8,
)


def coordinate_image(height, width):
    """uint8 [H, W, 3]: channel 0 = row, channel 1 = column, channel 2 = 7 (H, W <= 256)."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([rows, cols, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize(
    "shape, crop, top, left",
    [((96, 160), (64, 64), 16, 48), ((97, 96), (64, 64), 16, 16), ((64, 64), (64, 64), 0, 0)],
)
def test_center_crop_takes_the_central_window(shape, crop, top, left):
    out = center_crop(tf.constant(coordinate_image(*shape)), *crop).numpy()
    assert out.shape == (*crop, 3)
    assert out[0, 0, 0] == top and out[0, 0, 1] == left
    np.testing.assert_array_equal(out, coordinate_image(*shape)[top : top + 64, left : left + 64])


def celeb_a_like(inside, outside=0):
    """A 218x178x3 image equal to ``inside`` on the paper's crop [40:188, 15:163]."""
    image = np.full([218, 178, 3], outside, np.uint8)
    image[40:188, 15:163] = inside
    return image


def test_celeb_a_crop_window_is_exactly_rows_40_188_columns_15_163():
    out = crop_celeb_a(tf.constant(celeb_a_like(200))).numpy()
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    # A window shifted by one pixel would blend the 0 border into the edge rows/columns.
    np.testing.assert_array_equal(out, 200)
    for shifted in ([41, 189, 15, 163], [40, 188, 14, 162]):
        image = np.zeros([218, 178, 3], np.uint8)
        image[shifted[0] : shifted[1], shifted[2] : shifted[3]] = 200
        assert crop_celeb_a(tf.constant(image)).numpy().min() < 200


def test_celeb_a_crop_keeps_orientation():
    image = celeb_a_like(0)
    image[40:114, 15:163, 0] = 250  # top half of the window
    image[40:188, 15:89, 1] = 250  # left half of the window
    out = crop_celeb_a(tf.constant(image)).numpy()
    assert (out[:30, :, 0] == 250).all() and (out[34:, :, 0] == 0).all()
    assert (out[:, :30, 1] == 250).all() and (out[:, 34:, 1] == 0).all()


def test_celeb_a_crop_rejects_other_sizes():
    with pytest.raises(
        ValueError, match=r"CelebA image .* shape \[218, 178, 3\]; got \[64, 64, 3\]"
    ):
        crop_celeb_a(tf.zeros([64, 64, 3], tf.uint8))


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((120, 200), (96, 160)),
        ((200, 120), (160, 96)),
        ((50, 50), (96, 96)),
        ((96, 129), (96, 129)),
    ],
)
def test_resize_shortest_side_to_96(shape, expected):
    out = resize_shortest_side(tf.fill([*shape, 3], tf.constant(9, tf.uint8)), 96)
    assert tuple(out.shape) == (*expected, 3)
    np.testing.assert_array_equal(out, 9)  # a constant image stays constant


def test_resize_to_the_same_size_is_the_identity():
    image = np.random.default_rng(0).integers(0, 256, [96, 130, 3], dtype=np.uint8)
    np.testing.assert_array_equal(resize_shortest_side(tf.constant(image), 96), image)


def test_resize_rounds_and_clips_to_uint8():
    image = tf.constant(np.array([[0, 255], [255, 0]], np.uint8)[..., None])
    out = resize_uint8(image, 3, 3).numpy()
    assert out.dtype == np.uint8 and out.min() >= 0 and out.max() <= 255
    assert out[1, 1, 0] == 128  # the centre averages the four corners: 127.5 -> 128


def test_check_square_rejects_other_sizes():
    check_square(tf.zeros([32, 32, 3], tf.uint8), 32)
    with pytest.raises(ValueError, match=r"ImageNet image .* \[32, 32, 3\]; got \[30, 32, 3\]"):
        check_square(tf.zeros([30, 32, 3], tf.uint8), 32)


def test_random_crop_in_training_is_a_window_and_varies():
    image = coordinate_image(96, 160)
    corners = set()
    for i in range(20):
        out = augment(
            tf.constant(image), tf.constant([0, i]), training=True, crop_size=64, flip=False
        ).numpy()
        top, left = int(out[0, 0, 0]), int(out[0, 0, 1])
        assert 0 <= top <= 32 and 0 <= left <= 96
        np.testing.assert_array_equal(out, image[top : top + 64, left : left + 64])
        corners.add((top, left))
    assert len(corners) > 10


def test_evaluation_crops_centrally_and_never_flips():
    image = coordinate_image(96, 160)
    for i in range(10):
        out = augment(
            tf.constant(image), tf.constant([0, i]), training=False, crop_size=64, flip=True
        ).numpy()
        np.testing.assert_array_equal(out, image[16:80, 48:112])


def test_training_flips_about_half_the_time_and_only_left_right():
    image = coordinate_image(8, 8)
    flipped = 0
    for i in range(200):
        out = augment(
            tf.constant(image), tf.constant([1, i]), training=True, crop_size=None, flip=True
        ).numpy()
        if np.array_equal(out, image[:, ::-1]):
            flipped += 1
        else:
            np.testing.assert_array_equal(out, image)
    assert 60 < flipped < 140  # Binomial(200, 1/2): mean 100, sd 7


def test_augment_is_a_function_of_its_seed():
    image = tf.constant(coordinate_image(96, 160))
    a = augment(image, tf.constant([4, 2]), training=True, crop_size=64, flip=True)
    b = augment(image, tf.constant([4, 2]), training=True, crop_size=64, flip=True)
    np.testing.assert_array_equal(a, b)


def test_resize_to_fill_crops_the_central_window_of_the_target_aspect():
    tall = np.zeros((12, 6, 1), np.uint8)
    tall[3:9] = 90  # the central 6x6 window of a 12x6 image
    np.testing.assert_array_equal(resize_to_fill(tf.constant(tall), 2, 2), np.full((2, 2, 1), 90))
    wide = np.zeros((4, 12, 1), np.uint8)
    wide[:, 4:8] = 50  # the central 4x4 window of a 4x12 image
    np.testing.assert_array_equal(resize_to_fill(tf.constant(wide), 4, 4), np.full((4, 4, 1), 50))
    image = np.random.default_rng(0).integers(0, 256, (6, 10, 3)).astype(np.uint8)
    np.testing.assert_array_equal(resize_to_fill(tf.constant(image), 6, 10), image)  # unchanged
