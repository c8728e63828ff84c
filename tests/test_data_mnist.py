"""MNIST through tensorflow-datasets' manual-download path, from ../shared/data/mnist (offline)."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

import tfp_realnvp.data as data
from tfp_realnvp.data.registry import dataset_info
from tfp_realnvp.data.tfds_source import resolve_manual_dir

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST files not found in {MNIST_DIR} (see shared/data/README.md)",
)


@pytest.fixture(scope="session")
def mnist_data_dir(tmp_path_factory):
    """A tfds data_dir with MNIST prepared once per session from the official files (~10 s)."""
    data_dir = tmp_path_factory.mktemp("tfds")
    data.load("mnist", split="test", batch_size=1, data_dir=data_dir, manual_dir=MNIST_DIR)
    return data_dir


def idx_images(path):
    """Independent parse of an idx3 file: 16-byte big-endian header, then uint8 pixels."""
    raw = gzip.decompress(Path(path).read_bytes())
    magic, count, rows, cols = np.frombuffer(raw[:16], ">u4")
    assert magic == 2051
    return np.frombuffer(raw[16:], np.uint8).reshape(count, rows, cols, 1)


def collect(dataset):
    return np.concatenate([batch.numpy() for batch in dataset])


@needs_mnist
def test_prepared_data_dir_is_used_without_manual_dir_or_network(mnist_data_dir):
    builder = tfds.builder("mnist", data_dir=str(mnist_data_dir))
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples == 60000
    ds = data.load(
        "mnist",
        split="train",
        batch_size=64,
        data_dir=mnist_data_dir,
        download=False,
        shuffle_buffer=1000,
    )
    batch = next(iter(ds)).numpy()
    assert batch.shape == (64, 28, 28, 1) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() < 1.0


@needs_mnist
def test_evaluation_equals_the_official_pixels_plus_fixed_noise(mnist_data_dir):
    ds = data.load(
        "mnist", split="test[:500]", batch_size=128, data_dir=mnist_data_dir, noise_seed=0
    )
    assert ds.element_spec.shape.as_list() == [None, 28, 28, 1]
    x = collect(ds)
    assert x.shape == (500, 28, 28, 1)
    assert x.min() >= 0.0 and x.max() < 1.0
    builder = tfds.builder("mnist", data_dir=str(mnist_data_dir))
    stored = np.stack([ex["image"] for ex in tfds.as_numpy(builder.as_dataset(split="test[:500]"))])
    np.testing.assert_array_equal(np.floor(x * 256).astype(np.uint8), stored)
    np.testing.assert_array_equal(x, collect(ds))


@needs_mnist
def test_prepared_images_are_the_official_ones(mnist_data_dir):
    # tensorflow-datasets stores examples in its own shuffled order: compare as multisets.
    x = collect(data.load("mnist", split="test", batch_size=2000, data_dir=mnist_data_dir))
    official = idx_images(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    assert x.shape == official.shape == (10000, 28, 28, 1)
    levels = np.floor(x * 256).astype(np.uint8)
    assert sorted(i.tobytes() for i in levels) == sorted(i.tobytes() for i in official)


@needs_mnist
def test_training_noise_differs_between_epochs(mnist_data_dir):
    ds = data.load(
        "mnist",
        split="test[:300]",
        batch_size=100,
        data_dir=mnist_data_dir,
        training=True,
        shuffle=False,
    )
    first, second = collect(ds), collect(ds)
    np.testing.assert_array_equal(np.floor(first * 256), np.floor(second * 256))
    assert np.mean(first == second) < 1e-3


@needs_mnist
def test_manual_dir_may_be_the_parent_folder():
    assert resolve_manual_dir(SHARED_DATA, dataset_info("mnist")) == SHARED_DATA / "mnist"
    assert resolve_manual_dir(MNIST_DIR, dataset_info("mnist")) == MNIST_DIR


@needs_mnist
def test_wrong_files_fail_the_checksum_rather_than_loading(tmp_path):
    # The MNIST files carry Fashion-MNIST's names; tensorflow-datasets must refuse them.
    with pytest.raises(NonMatchingChecksumError, match="wrong checksum"):
        data.load(
            "fashion_mnist", split="test", batch_size=8, data_dir=tmp_path, manual_dir=MNIST_DIR
        )


def test_manual_dir_missing_files_lists_them(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load("mnist", split="test", batch_size=8, data_dir=tmp_path, manual_dir=tmp_path)
    message = str(err.value)
    assert "lacks train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels" in message
    assert "train-images-idx3-ubyte.gz," not in message.split("lacks")[1].split(";")[0]


def test_not_prepared_and_no_download_says_how_to_provide_it(tmp_path):
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load("mnist", split="test", batch_size=8, data_dir=tmp_path, download=False)
    message = str(err.value)
    assert "'mnist' is not prepared in data_dir and download=False" in message
    assert "internet access" in message and "pass data_dir=" in message
    assert "pass manual_dir= a folder holding the four official idx files" in message


def test_failed_download_is_reported_with_how_to_provide_it(tmp_path, monkeypatch):
    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load("mnist", split="test", batch_size=8, data_dir=tmp_path)
    message = str(err.value)
    assert (
        "'mnist' could not be downloaded or prepared (ConnectionError: Failed to resolve" in message
    )
    assert "pass manual_dir=" in message
    assert isinstance(err.value.__cause__, ConnectionError)
