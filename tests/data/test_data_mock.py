"""Datasets that cannot be downloaded here (CelebA, LSUN, downsampled ImageNet), through
``tfds.testing.mock_data``: shapes, ranges, and the crop/resize recipes on constructed images."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfp_realnvp.data as data
from tfp_realnvp.data import tfds_source


@pytest.fixture(autouse=True)
def download_host_answers(monkeypatch):
    """``mock_data`` stands in for a download: let the host check pass without a network."""
    monkeypatch.setattr(tfds_source, "_check_download_host", lambda *args: None)


def collect(dataset):
    return np.concatenate([batch.numpy() for batch in dataset])


def serve(images):
    """An ``as_dataset_fn`` for ``mock_data`` that yields exactly ``images`` (uint8 [N,H,W,C])."""

    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_tensor_slices({"image": np.asarray(images, np.uint8)})

    return as_dataset


def serve_ragged(images):
    """Like ``serve`` for images of different sizes."""

    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_generator(
            lambda: ({"image": image} for image in images),
            output_signature={"image": tf.TensorSpec([None, None, 3], tf.uint8)},
        )

    return as_dataset


@pytest.mark.parametrize(
    "name",
    [
        "celeb_a",
        "lsun/bedroom",
        "lsun/tower",
        "lsun/church_outdoor",
    ],
)
@pytest.mark.parametrize("split", ["train", "validation"])
def test_random_mock_examples_come_out_as_dequantised_batches(tmp_path, name, split):
    # mock_data's random images: 218x178 for CelebA, random sizes for LSUN.
    with tfds.testing.mock_data(num_examples=10):
        ds = data.load(name, split=split, batch_size=4, data_dir=tmp_path)
        x = collect(ds)
    assert ds.element_spec.shape.as_list() == [None, *data.image_shape(name)]
    assert x.shape == (10, *data.image_shape(name)) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() < 1.0


def test_celeb_a_labels_are_its_40_attributes_in_name_order(tmp_path):
    names = [f"attribute_{i:02d}" for i in range(40)]
    values = np.random.default_rng(0).integers(0, 2, size=(3, 40)).astype(bool)

    def as_dataset(self, *args, **kwargs):
        attributes = {name: values[:, i] for i, name in enumerate(reversed(names))}
        images = np.zeros([3, 218, 178, 3], np.uint8)
        return tf.data.Dataset.from_tensor_slices({"image": images, "attributes": attributes})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        ds = data.load(
            "celeb_a", split="validation", batch_size=3, data_dir=tmp_path, with_labels=True
        )
        x, y = next(iter(ds))
    assert x.shape == (3, 64, 64, 3) and y.shape == (3, 40) and y.dtype == tf.int64
    np.testing.assert_array_equal(y, values[:, ::-1].astype(np.int64))  # sorted by name


def celeb_a_image(inside, outside=0):
    image = np.full([218, 178, 3], outside, np.uint8)
    image[40:188, 15:163] = inside
    return image


def test_celeb_a_pipeline_crops_the_paper_window(tmp_path):
    with tfds.testing.mock_data(as_dataset_fn=serve([celeb_a_image(200)] * 3)):
        x = collect(data.load("celeb_a", split="validation", batch_size=3, data_dir=tmp_path))
    assert x.shape == (3, 64, 64, 3)
    np.testing.assert_array_equal(np.floor(x * 256), 200)  # no border pixel leaked in


def test_celeb_a_flips_in_training_only(tmp_path):
    image = celeb_a_image(0)
    image[40:188, 15:89] = 250  # left half of the window bright
    left_bright = lambda levels: (levels[:, :, :30] == 250).all(axis=(1, 2, 3))  # noqa: E731
    with tfds.testing.mock_data(as_dataset_fn=serve([image] * 64)):
        evaluation = collect(
            data.load("celeb_a", split="validation", batch_size=64, data_dir=tmp_path)
        )
        training = collect(
            data.load("celeb_a", split="train", batch_size=64, data_dir=tmp_path, shuffle=False)
        )
    assert left_bright(np.floor(evaluation * 256)).all()
    flipped = 64 - left_bright(np.floor(training * 256)).sum()
    assert 12 < flipped < 52  # Binomial(64, 1/2): mean 32, sd 4


def lsun_expected_resize(image):
    """Independent reference: the 120x200 image resized to 96x160, rounded to integers."""
    resized = tf.image.resize(tf.cast(image, tf.float32), [96, 160], antialias=True)
    return np.clip(np.round(resized.numpy()), 0, 255)


def test_lsun_evaluation_is_the_centre_crop_of_the_96_pixel_resize(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, [2, 120, 200, 3], dtype=np.uint8)
    with tfds.testing.mock_data(as_dataset_fn=serve(images)):
        x = collect(data.load("lsun/tower", split="validation", batch_size=2, data_dir=tmp_path))
    for image, out in zip(images, np.floor(x * 256), strict=True):
        np.testing.assert_array_equal(out, lsun_expected_resize(image)[16:80, 48:112])


def find_window(resized, crop):
    """(top, left, mirrored) of the 64x64 window of ``resized`` equal to ``crop``, or None."""
    for mirrored, target in ((False, crop), (True, crop[:, ::-1])):
        starts = resized[: resized.shape[0] - 63, : resized.shape[1] - 63]
        corner = (starts == target[0, 0]).all(axis=-1)
        for top, left in np.argwhere(corner):
            if np.array_equal(resized[top : top + 64, left : left + 64], target):
                return int(top), int(left), mirrored
    return None


def test_lsun_training_takes_random_windows_and_flips(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, [120, 200, 3], dtype=np.uint8)
    with tfds.testing.mock_data(as_dataset_fn=serve([image] * 24)):
        x = collect(data.load("lsun/bedroom", split="train", batch_size=8, data_dir=tmp_path))
    resized = lsun_expected_resize(image)
    found = [find_window(resized, crop) for crop in np.floor(x * 256)]
    assert None not in found  # every training image is a 64x64 window of the resize
    assert len({(top, left) for top, left, _ in found}) > 12
    assert 2 < sum(mirrored for _, _, mirrored in found) < 22


def test_lsun_portrait_and_landscape_images_share_one_shape(tmp_path):
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(300, 100, 3), (64, 90, 3)]]
    with tfds.testing.mock_data(as_dataset_fn=serve_ragged(images)):
        x = collect(
            data.load("lsun/church_outdoor", split="train", batch_size=2, data_dir=tmp_path)
        )
    assert x.shape == (2, 64, 64, 3)


@pytest.mark.parametrize("size", [32, 64])
def test_downsampled_imagenet_keeps_pixels_and_never_flips(tmp_path, size):
    name = f"downsampled_imagenet/{size}x{size}"
    images = np.random.default_rng(size).integers(0, 256, [16, size, size, 3], dtype=np.uint8)
    with tfds.testing.mock_data(as_dataset_fn=serve(images)):
        x = collect(data.load(name, split="train", batch_size=8, data_dir=tmp_path, shuffle=False))
    assert x.shape == (16, size, size, 3)
    assert x.min() >= 0.0 and x.max() < 1.0
    np.testing.assert_array_equal(np.floor(x * 256), images)


def test_downsampled_imagenet_of_the_wrong_size_is_an_error(tmp_path):
    images = np.zeros([2, 30, 32, 3], np.uint8)
    with tfds.testing.mock_data(as_dataset_fn=serve(images)):
        with pytest.raises(ValueError, match=r"ImageNet image must have shape \[32, 32, 3\]"):
            data.load("downsampled_imagenet/32x32", split="train", batch_size=2, data_dir=tmp_path)


def test_downsampled_imagenet_of_unknown_wrong_size_fails_when_read(tmp_path):
    images = [np.zeros([30, 32, 3], np.uint8)]
    with tfds.testing.mock_data(as_dataset_fn=serve_ragged(images)):
        ds = data.load("downsampled_imagenet/32x32", split="train", batch_size=1, data_dir=tmp_path)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[32,32,3\]"):
            collect(ds)
