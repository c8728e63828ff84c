"""``load`` on the embedded digits: batching, range, fresh vs fixed noise, shuffling, errors."""

import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp.data as data
from tests.image_sources import collect_pairs
from tfp_realnvp.data.arrays import DIGITS_NUM_TEST as NUM_TEST
from tfp_realnvp.data.arrays import DIGITS_NUM_TRAIN as NUM_TRAIN
from tfp_realnvp.data.arrays import read_digits


def digits_array(split):
    return read_digits()[split][0]


def collect(dataset):
    return np.concatenate([batch.numpy() for batch in dataset])


@pytest.mark.parametrize("split, count", [("train", NUM_TRAIN), ("test", NUM_TEST)])
def test_digits_batches_shape_dtype_range(split, count):
    ds = data.load("digits", split=split, batch_size=64)
    assert ds.element_spec.shape.as_list() == [None, 8, 8, 1]
    assert ds.element_spec.dtype == tf.float32
    x = collect(ds)
    assert x.shape == (count, 8, 8, 1)
    assert x.min() >= 0.0 and x.max() < 1.0


def test_digits_split_is_fixed_last_297_are_test():
    from sklearn.datasets import load_digits

    images = load_digits().images
    np.testing.assert_array_equal(digits_array("train")[..., 0], images[:1500])
    np.testing.assert_array_equal(digits_array("test")[..., 0], images[1500:])
    assert digits_array("train").max() == 16 and digits_array("train").dtype == np.uint8


def test_evaluation_is_in_order_and_floor_recovers_17_levels():
    x = collect(data.load("digits", split="test", batch_size=100))
    np.testing.assert_array_equal(np.floor(x * 17).astype(np.uint8), digits_array("test"))


def test_fresh_noise_each_epoch_even_under_a_global_seed():
    tf.random.set_seed(123)  # a stateful op in the map would repeat its noise every epoch
    ds = data.load("digits", split="test", batch_size=97, training=True, shuffle=False)
    first, second = collect(ds), collect(ds)
    np.testing.assert_array_equal(np.floor(first * 17), np.floor(second * 17))  # same images
    assert np.mean(first == second) < 1e-3  # different noise


def test_noise_seed_gives_identical_passes_and_differs_across_seeds():
    ds = data.load("digits", split="test", batch_size=50, noise_seed=7)
    first, second = collect(ds), collect(ds)
    np.testing.assert_array_equal(first, second)
    again = collect(data.load("digits", split="test", batch_size=50, noise_seed=7))
    np.testing.assert_array_equal(first, again)
    other = collect(data.load("digits", split="test", batch_size=50, noise_seed=8))
    assert np.mean(first == other) < 1e-3


def test_fixed_noise_does_not_depend_on_batch_size():
    a = collect(data.load("digits", split="test", batch_size=50, noise_seed=3))
    b = collect(data.load("digits", split="test", batch_size=13, noise_seed=3))
    np.testing.assert_array_equal(a, b)


def test_training_shuffles_and_reshuffles_each_epoch():
    ds = data.load("digits", split="train", batch_size=1500)
    first, second = collect(ds), collect(ds)
    ordered = digits_array("train")
    levels = [np.floor(x * 17).astype(np.uint8) for x in (first, second)]
    assert not np.array_equal(levels[0], ordered)
    assert not np.array_equal(levels[0], levels[1])
    # A permutation of the same images: equal multisets of image bytes.
    key = sorted(image.tobytes() for image in ordered)
    assert sorted(image.tobytes() for image in levels[0]) == key


def test_drop_remainder_gives_a_static_batch_dimension():
    ds = data.load("digits", split="test", batch_size=64, drop_remainder=True)
    assert ds.element_spec.shape.as_list() == [64, 8, 8, 1]
    assert collect(ds).shape[0] == 64 * (NUM_TEST // 64)


def test_cache_off_gives_the_same_data():
    cached = collect(data.load("digits", split="test", batch_size=64, noise_seed=1))
    uncached = collect(data.load("digits", split="test", batch_size=64, noise_seed=1, cache=False))
    np.testing.assert_array_equal(cached, uncached)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "64", True, None])
def test_batch_size_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer; got ") as err:
        data.load("digits", split="train", batch_size=bad)
    assert str(err.value).endswith(f"got {bad!r}.")


def test_numpy_integer_batch_size_is_accepted():
    ds = data.load("digits", split="test", batch_size=np.int64(32))
    assert next(iter(ds)).shape[0] == 32


@pytest.mark.parametrize("bad", [0, -5, 1.0])
def test_shuffle_buffer_must_be_a_positive_integer(bad):
    message = rf"`shuffle_buffer` must be a positive integer; got {bad}\."
    with pytest.raises(ValueError, match=message):
        data.load("digits", split="train", batch_size=8, shuffle_buffer=bad)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", False])
def test_noise_seed_must_be_none_or_a_non_negative_integer(bad):
    with pytest.raises(ValueError, match=r"`noise_seed` must be None or a non-negative integer"):
        data.load("digits", split="test", batch_size=8, noise_seed=bad)


@pytest.mark.parametrize("bad", ["", None, 0])
def test_split_must_be_a_non_empty_string(bad):
    with pytest.raises(ValueError, match=rf"`split` must be a non-empty string .*; got {bad!r}"):
        data.load("digits", split=bad, batch_size=8)


def test_digits_has_only_train_and_test():
    with pytest.raises(
        ValueError, match=r"`split` for 'digits' must be 'train' or 'test'; got 'valid"
    ):
        data.load("digits", split="validation", batch_size=8)


def test_digits_rejects_a_manual_dir(tmp_path):
    with pytest.raises(ValueError, match=r"`manual_dir` must be None for 'digits'"):
        data.load("digits", split="train", batch_size=8, manual_dir=tmp_path)


def test_digits_with_labels_pairs_each_image_with_its_digit():
    from sklearn.datasets import load_digits

    ds = data.load("digits", split="test", batch_size=100, noise_seed=0, with_labels=True)
    assert ds.element_spec[1].shape.as_list() == [None]
    x, y = collect_pairs(ds)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, load_digits().target[NUM_TRAIN:])
    np.testing.assert_array_equal(np.floor(x * 17).astype(np.uint8), digits_array("test"))


def test_five_bit_data_has_32_levels():
    info = data.dataset_info("mnist", num_bits=5)
    assert info.num_bins == data.num_bins("mnist", num_bits=5) == 32
    pixels = tf.constant(np.arange(256, dtype=np.uint8))
    np.testing.assert_array_equal(data.reduce_bits(pixels, 5), np.arange(256) // 8)
    np.testing.assert_array_equal(data.reduce_bits(pixels, 8), np.arange(256))
    with pytest.raises(ValueError, match=r"`num_bits` reduces 8-bit images, but 'digits' has 17"):
        data.dataset_info("digits", num_bits=5)
    for bad in (0, 9, 2.5, True):
        with pytest.raises(ValueError, match=r"`num_bits` must be an integer from 1 to 8; got"):
            data.reduce_bits(pixels, bad)


@pytest.mark.parametrize("bad", [0, -3, (8,), (8, 0), "8x8", 2.0, True])
def test_image_size_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match=r"`image_size` must be a positive integer H or a pair"):
        data.dataset_info("digits", image_size=bad)


def test_image_size_and_flips_apply_to_named_datasets():
    info = data.dataset_info("digits", image_size=(4, 8), horizontal_flip=True)
    assert info.image_shape == (4, 8, 1) and info.horizontal_flip and info.num_bins == 17
    x = next(iter(data.load("digits", split="test", batch_size=5, image_size=(4, 8))))
    assert x.shape == (5, 4, 8, 1)
