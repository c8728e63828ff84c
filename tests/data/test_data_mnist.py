"""MNIST through tensorflow-datasets' manual-download path, from ../shared/data/mnist (offline)."""

import gzip
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfp_realnvp.data as data
from tests.image_sources import MNIST_DIR, SHARED_DATA, collect_pairs, idx_images
from tfp_realnvp.data import tfds_source
from tfp_realnvp.data.tfds_source import resolve_manual_dir

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
@pytest.mark.parametrize("source", ["mnist", "tfds:mnist"])
def test_with_labels_pairs_images_with_the_official_labels(mnist_data_dir, source):
    ds = data.load(
        source, split="test", batch_size=2500, data_dir=mnist_data_dir, noise_seed=0,
        with_labels=True,
    )  # fmt: skip
    x, y = collect_pairs(ds)
    assert x.shape == (10000, 28, 28, 1) and y.shape == (10000,) and y.dtype == np.int64
    official = idx_images(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    raw = gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    labels = np.frombuffer(raw[8:], np.uint8)
    # tensorflow-datasets stores its own order: compare (image, label) pairs as multisets.
    pairs = sorted(i.tobytes() + bytes([label]) for i, label in zip(official, labels, strict=True))
    levels = np.floor(x * 256).astype(np.uint8)
    assert sorted(i.tobytes() + bytes([label]) for i, label in zip(levels, y, strict=True)) == pairs


@needs_mnist
def test_tfds_source_reads_any_image_dataset_with_its_own_splits(mnist_data_dir):
    info = data.dataset_info("tfds:mnist")
    assert info.image_shape == (28, 28, 1) and info.num_classes == 10 and info.source == "tfds"
    ds = data.load("tfds:mnist", split="train", batch_size=8, data_dir=mnist_data_dir)
    assert next(iter(ds)).shape == (8, 28, 28, 1)


def test_tfds_sources_without_images_or_unknown_are_value_errors():
    with pytest.raises(ValueError, match=r"`source` 'tfds:no_such_set' is not a tensorflow-data"):
        data.dataset_info("tfds:no_such_set")
    with pytest.raises(ValueError, match=r"`source` 'tfds:imdb_reviews' must have an 'image' fe"):
        data.dataset_info("tfds:imdb_reviews")
    with pytest.raises(ValueError, match=r"'tfds:tf_flowers' has images of no fixed size; pass `"):
        data.dataset_info("tfds:tf_flowers")
    assert data.image_shape("tfds:tf_flowers", image_size=32) == (32, 32, 3)


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
    assert resolve_manual_dir(SHARED_DATA, data.dataset_info("mnist")) == SHARED_DATA / "mnist"
    assert resolve_manual_dir(MNIST_DIR, data.dataset_info("mnist")) == MNIST_DIR


@needs_mnist
def test_wrong_files_fail_the_checksum_in_one_line_leaving_nothing_behind(tmp_path):
    # The MNIST files carry Fashion-MNIST's names; tensorflow-datasets must refuse them.
    data_dir = tmp_path / "tfds"
    data_dir.mkdir()
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load(
            "fashion_mnist", split="test", batch_size=8, data_dir=data_dir, manual_dir=MNIST_DIR
        )
    message = str(err.value)
    assert "\n" not in message
    assert "are not the official 'fashion_mnist' files tensorflow-datasets verifies" in message
    official = tfds.builder("fashion_mnist").url_infos
    checksum = next(i.checksum for i in official.values() if i.filename.startswith("t10k-images"))
    assert "t10k-images-idx3-ubyte.gz (sha256 " in message and checksum[:12] in message
    assert f"pass the folder itself as `source` ({str(MNIST_DIR)!r})" in message
    assert list(data_dir.iterdir()) == []  # nothing half-written


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
    assert "'mnist' is not prepared in `data_dir` and downloading is off" in message
    assert "internet access" in message and "pass `data_dir` a folder" in message
    assert "pass `manual_dir` a folder holding the four official idx files" in message


def test_unreachable_download_host_fails_at_once_without_trying(tmp_path, offline):
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load("mnist", split="test", batch_size=8, data_dir=tmp_path)
    message = str(err.value)
    assert "'mnist' is not prepared in `data_dir` and cannot be downloaded" in message
    assert "does not answer (Name or service not known)" in message
    assert "pass `manual_dir` a folder holding" in message and "\n" not in message


def test_failed_download_is_reported_and_cleaned_up(tmp_path, monkeypatch):
    def reachable(address, timeout):
        return open(os.devnull)  # something with close()

    def offline(self, *args, **kwargs):
        (tmp_path / "downloads" / "mnist").mkdir(parents=True)
        (tmp_path / "downloads" / "mnist" / "t10k.gz.tmp.123").write_bytes(b"partial")
        raise ConnectionError("connection reset\nby peer")

    monkeypatch.setattr(tfds_source.socket, "create_connection", reachable)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    (tmp_path / "kept.txt").write_text("a file of the user's")
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load("mnist", split="test", batch_size=8, data_dir=tmp_path)
    message = str(err.value)
    assert "'mnist' could not be prepared (ConnectionError: connection reset by peer)" in message
    assert "pass `manual_dir`" in message
    assert isinstance(err.value.__cause__, ConnectionError)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]
