"""``load`` on arrays read directly: .npz/.npy files and re-compressed MNIST idx files (other
bytes, the same images), with labels; malformed files give one-line errors."""

import gzip

import numpy as np
import pytest

import tfp_realnvp.data as data
from tests.image_sources import (
    MNIST_DIR,
    collect_pairs,
    idx_images,
    idx_labels,
    recompressed_mnist,
    write_npz,
)
from tfp_realnvp.data.arrays import read_arrays, read_idx
from tfp_realnvp.data.sources import held_out_split

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST files not found in {MNIST_DIR} (see shared/data/README.md)",
)


def in_order(source, split, batch_size=64, **options):
    return collect_pairs(
        data.load(
            source, split=split, batch_size=batch_size, noise_seed=0, training=False,
            with_labels=True, **options,
        )
    )  # fmt: skip


def test_npz_splits_and_labels_are_its_own(tmp_path):
    arrays = write_npz(tmp_path / "faces.npz")
    info = data.dataset_info(tmp_path / "faces.npz")
    assert info.image_shape == (8, 8, 1) and info.num_bins == 256 and info.source == "arrays"
    assert info.label_shape == () and info.num_classes == 2
    for split in ("train", "test"):
        x, y = in_order(tmp_path / "faces.npz", split)
        np.testing.assert_array_equal(np.floor(x[..., 0] * 256), arrays[f"x_{split}"])
        np.testing.assert_array_equal(y, arrays[f"y_{split}"])


def test_npy_of_grey_images_holds_out_a_fixed_tenth(tmp_path):
    images = np.random.default_rng(3).integers(0, 256, size=(20, 4, 6), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    train = np.concatenate(list(data.load(tmp_path / "x.npy", split="train", batch_size=64)))
    test = np.concatenate(
        list(data.load(tmp_path / "x.npy", split="test", batch_size=64, noise_seed=0))
    )
    train_index, test_index = held_out_split(20)
    assert train.shape == (18, 4, 6, 1) and test.shape == (2, 4, 6, 1)
    np.testing.assert_array_equal(np.floor(test[..., 0] * 256), images[test_index])
    stored = sorted(image.tobytes() for image in images[train_index])
    assert sorted(np.floor(x[..., 0] * 256).astype(np.uint8).tobytes() for x in train) == stored


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x_train": np.zeros((4, 8, 8), np.float32)}, r"must hold uint8 images .*got dtype flo"),
        ({"x_train": np.zeros((4, 8), np.uint8)}, r"images \[N, H, W, C\] .*got shape \[4, 8\]"),
        ({"images": np.zeros((4, 8, 8), np.uint8)}, r"must hold the arrays x_train .*got images"),
        (
            {"x_train": np.zeros((4, 8, 8), np.uint8), "y_train": np.zeros(3, np.int64)},
            r"labels y_train of `source` .* must be 4 non-negative integers",
        ),
        (
            {"x_train": np.zeros((4, 8, 8), np.uint8), "x_test": np.zeros((2, 4, 4), np.uint8)},
            r"images of different shapes in its splits: \[4, 4, 1\], \[8, 8, 1\]",
        ),
    ],
    ids=["float", "2d", "keys", "labels", "shapes"],
)
def test_malformed_npz_is_one_value_error(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        data.load(tmp_path / "bad.npz", split="train", batch_size=2)


@pytest.fixture(scope="module")
def recompressed(tmp_path_factory):
    return recompressed_mnist(tmp_path_factory.mktemp("mnist_again"))


@needs_mnist
def test_recompressed_idx_files_give_the_official_images_and_labels(recompressed):
    info = data.dataset_info(recompressed)
    assert info.image_shape == (28, 28, 1) and info.num_classes == 10
    x, y = in_order(recompressed, "test", batch_size=2500)
    official = idx_images(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(np.floor(x * 256).astype(np.uint8), official)
    np.testing.assert_array_equal(y, idx_labels(MNIST_DIR / "t10k-labels-idx1-ubyte.gz"))
    x, y = next(iter(data.load(recompressed, split="train", batch_size=64, with_labels=True)))
    assert x.shape == (64, 28, 28, 1) and y.shape == (64,) and set(y.numpy()) <= set(range(10))
    images, labels = read_arrays(recompressed)["train"]
    assert images.shape == (60000, 28, 28, 1) and labels.shape == (60000,)
    np.testing.assert_array_equal(images, idx_images(MNIST_DIR / "train-images-idx3-ubyte.gz"))


@needs_mnist
def test_one_uncompressed_idx_file_holds_out_a_tenth(tmp_path):
    raw = gzip.decompress((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw)
    source = tmp_path / "t10k-images-idx3-ubyte"
    assert data.dataset_info(source).label_shape is None  # no labels file beside it
    test = np.concatenate(list(data.load(source, split="test", batch_size=5000, noise_seed=0)))
    official = idx_images(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(np.floor(test * 256), official[held_out_split(10000)[1]])


def test_truncated_idx_file_is_named(tmp_path):
    header = np.array([0x0803, 5, 4, 4], ">u4").tobytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + bytes(5 * 16 - 3))
    with pytest.raises(ValueError, match=r"idx3-ubyte' holds 77 values but its header says \[5, "):
        data.load(tmp_path, split="train", batch_size=2)
    (tmp_path / "x-idx3-ubyte").write_bytes(b"not an idx file")
    with pytest.raises(ValueError, match=r"is not an idx file of uint8 values \(bad header\)"):
        read_idx(tmp_path / "x-idx3-ubyte")
