"""Small image sources written for the data and CLI tests: PNG folders, .npz files and
re-compressed MNIST idx files."""

import gzip
from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
CLASSES = ("circles", "squares")


def class_images(count, side=8, seed=0):
    """uint8 [count, side, side, 3] and labels [count] (0, 1, 0, ...): class 0 pixels are in
    0..127, class 1 pixels in 128..255, so a label can be read off its image."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    images = rng.integers(0, 128, size=(count, side, side, 3)) + 128 * labels[:, None, None, None]
    return images.astype(np.uint8), labels


def write_png_folder(folder, count=30, side=8):
    """``count`` RGB PNGs, one sub-folder per class; returns (images, labels) in file order."""
    from PIL import Image

    images, labels = class_images(count, side)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        sub = Path(folder) / CLASSES[label]
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(sub / f"{index:03d}.png")
    order = np.argsort(labels, kind="stable")  # files sort by class, then by name
    return images[order], labels[order]


def write_npz(path, num_train=40, num_test=10, side=8):
    """x_train/x_test of grey images [N, side, side] with y_train/y_test; returns the arrays."""
    x_train, y_train = class_images(num_train, side, seed=1)
    x_test, y_test = class_images(num_test, side, seed=2)
    arrays = {
        "x_train": x_train[..., 0],
        "y_train": y_train,
        "x_test": x_test[..., 0],
        "y_test": y_test,
    }
    np.savez(path, **arrays)
    return arrays


def recompressed_mnist(folder, keep=None):
    """The MNIST idx files gzipped again at another level: other bytes, the same images (only
    the first `keep` of each split when given, for a short training run)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        original = (MNIST_DIR / name).read_bytes()
        raw = gzip.decompress(original)
        if keep is not None:
            raw = _first_items(raw, keep)
        again = gzip.compress(raw, compresslevel=1, mtime=0)
        assert again != original
        (folder / name).write_bytes(again)
    return folder


def _first_items(raw, keep):
    """An idx file's bytes cut to its first `keep` items, the count in its header updated."""
    dimensions = raw[3]  # magic number 0x0000 08 NN: NN dimensions, the first the count
    sizes = np.frombuffer(raw[4 : 4 + 4 * dimensions], ">u4")
    header = 4 + 4 * dimensions
    count = min(keep, int(sizes[0]))
    items = raw[header : header + count * int(np.prod(sizes[1:]))]
    return raw[:4] + np.array([count], ">u4").tobytes() + raw[8:header] + items


def idx_images(path):
    """Independent parse of a gzipped idx3 file: 16-byte big-endian header, then pixels."""
    raw = gzip.decompress(Path(path).read_bytes())
    magic, count, rows, cols = np.frombuffer(raw[:16], ">u4")
    assert magic == 2051
    return np.frombuffer(raw[16:], np.uint8).reshape(count, rows, cols, 1)


def idx_labels(path):
    raw = gzip.decompress(Path(path).read_bytes())
    assert np.frombuffer(raw[:4], ">u4")[0] == 2049
    return np.frombuffer(raw[8:], np.uint8).astype(np.int64)


def collect_pairs(dataset):
    """(images, labels) of a dataset of (image, label) batches, each concatenated."""
    batches = list(dataset.as_numpy_iterator())
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])
