"""Raw uint8 images from tensorflow-datasets: the named datasets and any ``tfds:NAME[/CONFIG]``.

Offline-capable through tensorflow-datasets' manual-download path, which verifies the official
files' checksums. Every failure is a one-line ``DatasetNotAvailableError`` or ``ValueError``,
within seconds (a download is only tried when the download host answers), and a failed
preparation leaves nothing behind in ``data_dir``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import urllib.parse
from pathlib import Path

import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from tfp_realnvp.data.arrays import array_source_kind
from tfp_realnvp.data.errors import DatasetNotAvailableError, how_to_provide, one_line
from tfp_realnvp.data.registry import DatasetInfo

# Seconds to wait for the download host before saying there is no network.
CONNECT_TIMEOUT = 5.0
# Depth of data_dir entries recorded before preparing, to remove what a failure left behind
# (data_dir/NAME/incomplete.*, data_dir/downloads/NAME/*.tmp.*, data_dir/NAME/CONFIG/...).
SNAPSHOT_DEPTH = 3
# A tensorflow-datasets dataset with only one split: this fraction of it is held out.
HELD_OUT_PERCENT = 10


def builder(tfds_name: str, data_dir: str | Path | None) -> tfds.core.DatasetBuilder:
    """``tfds.builder``; ``ValueError`` naming the source if tensorflow-datasets has no such one."""
    try:
        return tfds.builder(tfds_name, data_dir=None if data_dir is None else str(data_dir))
    except Exception as error:  # DatasetNotFoundError, config errors, ...
        raise ValueError(
            f"`source` 'tfds:{tfds_name}' is not a tensorflow-datasets dataset: {one_line(error)}"
        ) from None


def image_feature(tfds_name: str) -> tuple[tuple, tuple | None, int | None]:
    """(image shape (H, W, C), None where it varies; label shape; number of classes) of a
    tensorflow-datasets dataset, from its static description (nothing is downloaded).

    Raises ``ValueError`` if its examples have no ``image`` feature.
    """
    features = builder(tfds_name, data_dir=None).info.features
    image = features["image"] if "image" in features else None
    if not isinstance(image, tfds.features.Image):
        raise ValueError(
            f"`source` 'tfds:{tfds_name}' must have an 'image' feature; its features are "
            f"{', '.join(features.keys())}."
        )
    label = features["label"] if "label" in features else None
    if isinstance(label, tfds.features.ClassLabel):
        return tuple(image.shape), (), label.num_classes
    return tuple(image.shape), None, None


def resolve_manual_dir(manual_dir: str | Path, info: DatasetInfo) -> Path:
    """The folder holding ``info.manual_files``: ``manual_dir`` itself or ``manual_dir/<name>``.

    The second form lets one parent folder (e.g. ``../shared/data``, with ``mnist/`` and
    ``cifar10/`` inside) serve every dataset. Raises ``DatasetNotAvailableError`` listing the
    missing files when neither folder holds all of them, so tensorflow-datasets never falls back
    to downloading.
    """
    manual_dir = Path(manual_dir).expanduser()
    if not manual_dir.is_dir():
        raise DatasetNotAvailableError(
            f"`manual_dir` must be an existing folder; got {str(manual_dir)!r}. "
            f"For {info.name!r} it must hold {info.manual_instructions or 'the dataset files'}."
        )
    for folder in (manual_dir, manual_dir / info.name):
        if all((folder / file).is_file() for file in info.manual_files):
            return folder
    missing = [file for file in info.manual_files if not (manual_dir / file).is_file()]
    raise DatasetNotAvailableError(
        f"`manual_dir` {str(manual_dir)!r} (or its subfolder {info.name!r}) lacks "
        f"{', '.join(missing)}; for {info.name!r} it must hold {info.manual_instructions}. "
        "tensorflow-datasets verifies their checksums."
    )


def prepared_builder(
    info: DatasetInfo,
    *,
    data_dir: str | Path | None,
    manual_dir: str | Path | None,
    download: bool,
) -> tfds.core.DatasetBuilder:
    """A tensorflow-datasets builder for ``info`` whose data is prepared in ``data_dir``.

    Order: an already prepared ``data_dir`` is used as is; else ``manual_dir`` (checked to hold
    the official files) is prepared through tensorflow-datasets' manual-download path, which
    verifies checksums; else, if ``download`` and the download host answers, tensorflow-datasets
    downloads. Anything else is a ``DatasetNotAvailableError`` saying how to provide the data.
    """
    found = builder(info.tfds_name, data_dir)
    if found.is_prepared():
        return found
    if manual_dir is not None:
        manual_dir = resolve_manual_dir(manual_dir, info)
    elif not download:
        raise DatasetNotAvailableError(
            f"{info.name!r} is not prepared in `data_dir` and downloading is off. "
            + _how_to_provide(info, data_dir)
        )
    else:
        _check_download_host(found, info, data_dir)
    config = tfds.download.DownloadConfig(
        manual_dir=None if manual_dir is None else str(manual_dir)
    )
    root = Path(found.data_dir_root)
    before = _entries(root)
    try:
        found.download_and_prepare(download_config=config)
    except NonMatchingChecksumError as error:
        _remove_new_entries(root, before)
        raise DatasetNotAvailableError(_checksum_message(found, info, manual_dir)) from error
    except Exception as error:  # tensorflow-datasets raises many types; any means "not here"
        _remove_new_entries(root, before)
        raise DatasetNotAvailableError(
            f"{info.name!r} could not be prepared ({type(error).__name__}: {one_line(error)}). "
            + _how_to_provide(info, data_dir)
        ) from error
    except BaseException:  # KeyboardInterrupt: clean up, then stop
        _remove_new_entries(root, before)
        raise
    return found


def _how_to_provide(info: DatasetInfo, data_dir: str | Path | None) -> str:
    instructions = info.manual_instructions or "the files tensorflow-datasets' page names"
    return how_to_provide(info.name, info.tfds_name, instructions, data_dir)


def _check_download_host(found, info: DatasetInfo, data_dir) -> None:
    """Raises ``DatasetNotAvailableError`` at once if the dataset's download host is unreachable
    (instead of tensorflow-datasets' minutes of retries)."""
    hosts = sorted({urllib.parse.urlparse(url).hostname for url in (found.url_infos or {})})
    for host in hosts:
        try:
            socket.create_connection((host, 443), timeout=CONNECT_TIMEOUT).close()
            return
        except OSError as error:
            reason = one_line(error)
    if hosts:
        raise DatasetNotAvailableError(
            f"{info.name!r} is not prepared in `data_dir` and cannot be downloaded: {hosts[0]} "
            f"does not answer ({reason}). " + _how_to_provide(info, data_dir)
        )


def _checksum_message(found, info: DatasetInfo, manual_dir: Path) -> str:
    """Which files of ``manual_dir`` differ from the official ones, and what to do instead."""
    differ = []
    for url_info in (found.url_infos or {}).values():
        path = manual_dir / url_info.filename
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != url_info.checksum:
                differ.append(
                    f"{url_info.filename} (sha256 {digest[:12]}..., official "
                    f"{url_info.checksum[:12]}...)"
                )
    what = (
        f"the files in `manual_dir` {str(manual_dir)!r} are not the official {info.name!r} files "
        f"tensorflow-datasets verifies: {', '.join(differ) or 'a checksum differs'}."
    )
    if array_source_kind(manual_dir) is None:  # archives only tensorflow-datasets can read
        return f"{what} Provide the official files ({info.manual_instructions})."
    return (
        f"{what} To read them without this check, pass the folder itself as `source` "
        f"({str(manual_dir)!r})."
    )


def _entries(root: Path, depth: int = SNAPSHOT_DEPTH) -> set[str]:
    """The paths under ``root`` down to ``depth`` levels."""
    found = set()
    if depth and root.is_dir():
        for entry in os.scandir(root):
            found.add(entry.path)
            if entry.is_dir(follow_symlinks=False):
                found |= _entries(Path(entry.path), depth - 1)
    return found


def _remove_new_entries(root: Path, before: set[str]) -> None:
    """Removes what appeared under ``root`` since ``before`` (the top-most new paths)."""
    for path in sorted(_entries(root) - before):
        if os.path.lexists(path) and os.path.dirname(path) in before | {str(root)}:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


def tfds_split(found: tfds.core.DatasetBuilder, split: str) -> str:
    """The tensorflow-datasets split for ``split``: "test" is the dataset's test split, else its
    validation split, else the last ``HELD_OUT_PERCENT``% of "train" (and "train" the rest).
    Any other split string is passed through."""
    splits = found.info.splits
    if split not in ("train", "test") or "test" in splits:
        return split
    if "validation" in splits:
        return "validation" if split == "test" else split
    cut = 100 - HELD_OUT_PERCENT
    return f"train[{cut}%:]" if split == "test" else f"train[:{cut}%]"


def tfds_images(
    info: DatasetInfo,
    *,
    split: str,
    data_dir: str | Path | None,
    manual_dir: str | Path | None,
    download: bool,
    shuffle_files: bool,
    with_labels: bool,
) -> tf.data.Dataset:
    """A dataset of the uint8 images [H, W, C] of ``split`` (and their int64 labels), raw.

    ``split`` is any tensorflow-datasets split string ("train", "test", "train[:90%]", ...).
    Labels: the ``label`` feature, or for CelebA its 40 ``attributes`` in sorted name order.
    """
    found = prepared_builder(info, data_dir=data_dir, manual_dir=manual_dir, download=download)
    try:
        examples = found.as_dataset(split=tfds_split(found, split), shuffle_files=shuffle_files)
    except (ValueError, KeyError) as error:  # an unknown split
        raise ValueError(
            f"`split` {split!r} is not a split of {info.name!r} (it has "
            f"{', '.join(found.info.splits.keys())}): {one_line(error)}"
        ) from None

    def image_and_label(example):
        if "attributes" in example:
            names = sorted(example["attributes"])
            return example["image"], tf.stack(
                [tf.cast(example["attributes"][n], tf.int64) for n in names]
            )
        return example["image"], tf.cast(example["label"], tf.int64)

    if with_labels:
        return examples.map(image_and_label, num_parallel_calls=tf.data.AUTOTUNE)
    return examples.map(lambda example: example["image"], num_parallel_calls=tf.data.AUTOTUNE)
