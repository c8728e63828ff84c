"""CIFAR-10 from its binary records in ../shared/data/cifar10 (2 train batches, 1000 test)."""

import numpy as np
import pytest

import tfp_realnvp.data as data
from tests.image_sources import SHARED_DATA, collect_pairs
from tfp_realnvp.data.arrays import cifar10_files, read_cifar10_files

CIFAR_DIR = SHARED_DATA / "cifar10"

needs_cifar = pytest.mark.skipif(
    not (CIFAR_DIR / "test_batch_first1000.bin").is_file(),
    reason=f"real CIFAR-10 binary files not found in {CIFAR_DIR} (see shared/data/README.md)",
)


def numpy_records(path):
    """Independent parse: 3073-byte records, label byte, then R, G, B planes of 32x32."""
    records = np.fromfile(path, np.uint8).reshape(-1, 3073)
    return records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def collect(dataset):
    return np.concatenate([batch.numpy() for batch in dataset])


@needs_cifar
def test_split_files_are_found():
    assert [p.name for p in cifar10_files(CIFAR_DIR, "train")] == [
        "data_batch_1.bin",
        "data_batch_2.bin",
    ]
    assert [p.name for p in cifar10_files(CIFAR_DIR, "test")] == ["test_batch_first1000.bin"]


@needs_cifar
def test_decoded_images_match_an_independent_parse():
    path = CIFAR_DIR / "test_batch_first1000.bin"
    images, labels = read_cifar10_files([path])
    assert labels.shape == (1000,) and set(labels) == set(range(10))
    np.testing.assert_array_equal(labels, np.fromfile(path, np.uint8)[::3073])
    assert images.shape == (1000, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, numpy_records(path))


@needs_cifar
@pytest.mark.parametrize("manual_dir", [CIFAR_DIR, SHARED_DATA], ids=["folder", "parent"])
def test_evaluation_pipeline_is_dequantised_in_order_and_unflipped(manual_dir):
    ds = data.load("cifar10", split="test", batch_size=64, manual_dir=manual_dir, noise_seed=0)
    assert ds.element_spec.shape.as_list() == [None, 32, 32, 3]
    x = collect(ds)
    assert x.shape == (1000, 32, 32, 3) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() < 1.0
    raw = numpy_records(CIFAR_DIR / "test_batch_first1000.bin")
    np.testing.assert_array_equal(np.floor(x * 256).astype(np.uint8), raw)
    np.testing.assert_array_equal(x, collect(ds))  # fixed noise: identical second pass


@needs_cifar
def test_training_flips_about_half_and_renews_noise():
    ds = data.load(
        "cifar10", split="test", batch_size=100, manual_dir=CIFAR_DIR, training=True, shuffle=False
    )
    first, second = collect(ds), collect(ds)
    raw = numpy_records(CIFAR_DIR / "test_batch_first1000.bin")
    levels = np.floor(first * 256).astype(np.uint8)
    same = np.all(levels == raw, axis=(1, 2, 3))
    mirrored = np.all(levels == raw[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored)  # every image is itself or its mirror image
    assert 400 < np.sum(mirrored & ~same) < 600  # Binomial(1000, 1/2): sd 16
    assert np.mean(first == second) < 1e-3


@needs_cifar
def test_training_split_reads_every_data_batch():
    ds = data.load("cifar10", split="train", batch_size=1000, manual_dir=CIFAR_DIR)
    assert sum(int(batch.shape[0]) for batch in ds) == 20000


def test_truncated_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(bytes(3073 * 2 + 5))
    with pytest.raises(ValueError, match=r"data_batch_1.bin' has 6151 bytes, not a positive multi"):
        data.load("cifar10", split="train", batch_size=8, manual_dir=tmp_path)


@needs_cifar
def test_binary_split_must_be_train_or_test():
    with pytest.raises(ValueError, match=r"`split` for 'cifar10' must be 'train' or 'test'; got"):
        data.load("cifar10", split="validation", batch_size=8, manual_dir=CIFAR_DIR)


def test_manual_dir_without_records_or_archive_says_what_it_needs(tmp_path):
    (tmp_path / "data_batch_1.bin").write_bytes(bytes(3073))  # train only: no test records
    with pytest.raises(data.DatasetNotAvailableError, match=r"lacks cifar-10-binary.tar.gz") as e:
        data.load("cifar10", split="test", batch_size=8, manual_dir=tmp_path, data_dir=tmp_path)
    assert "data_batch_1.bin ... data_batch_5.bin and test_batch.bin" in str(e.value)


def test_missing_manual_dir_is_an_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(data.DatasetNotAvailableError, match=r"`manual_dir` must be an existing f"):
        data.load("cifar10", split="test", batch_size=8, manual_dir=missing, data_dir=tmp_path)


@needs_cifar
def test_with_labels_gives_the_label_byte_of_each_record():
    ds = data.load(
        "cifar10", split="test", batch_size=250, manual_dir=CIFAR_DIR, noise_seed=0,
        with_labels=True,
    )  # fmt: skip
    x, y = collect_pairs(ds)
    records = np.fromfile(CIFAR_DIR / "test_batch_first1000.bin", np.uint8).reshape(-1, 3073)
    np.testing.assert_array_equal(y, records[:, 0])
    np.testing.assert_array_equal(
        np.floor(x * 256).astype(np.uint8), numpy_records(CIFAR_DIR / "test_batch_first1000.bin")
    )


@needs_cifar
def test_folder_of_records_is_a_source_of_its_own():
    info = data.dataset_info(CIFAR_DIR)
    assert info.image_shape == (32, 32, 3) and info.num_classes == 10 and not info.horizontal_flip
    x = np.concatenate(list(data.load(CIFAR_DIR, split="test", batch_size=500, noise_seed=0)))
    raw = numpy_records(CIFAR_DIR / "test_batch_first1000.bin")
    np.testing.assert_array_equal(np.floor(x * 256).astype(np.uint8), raw)
