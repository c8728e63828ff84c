"""Raw uint8 images from tensorflow-datasets, offline-capable through its manual-download path."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
import tensorflow_datasets as tfds

from tfp_realnvp.data.errors import DatasetNotAvailableError, how_to_provide
from tfp_realnvp.data.info import DatasetInfo


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
            f"For {info.name!r} it must hold {info.manual_instructions}."
        )
    candidates = (manual_dir, manual_dir / info.name)
    for folder in candidates:
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
    verifies checksums; else, if ``download``, tensorflow-datasets downloads. Anything else is a
    ``DatasetNotAvailableError`` saying how to provide the data.
    """
    builder = tfds.builder(info.tfds_name, data_dir=None if data_dir is None else str(data_dir))
    if builder.is_prepared():
        return builder
    if manual_dir is not None:
        manual_dir = resolve_manual_dir(manual_dir, info)
    elif not download:
        raise DatasetNotAvailableError(
            f"{info.name!r} is not prepared in data_dir and download=False. "
            + how_to_provide(info, data_dir)
        )
    config = tfds.download.DownloadConfig(
        manual_dir=None if manual_dir is None else str(manual_dir)
    )
    try:
        builder.download_and_prepare(download_config=config)
    except OSError as err:  # no network, refused connection, unreadable file
        raise DatasetNotAvailableError(
            f"{info.name!r} could not be downloaded or prepared ({type(err).__name__}: "
            f"{err}). " + how_to_provide(info, data_dir)
        ) from err
    return builder


def tfds_images(
    info: DatasetInfo,
    *,
    split: str,
    data_dir: str | Path | None,
    manual_dir: str | Path | None,
    download: bool,
    shuffle_files: bool,
) -> tf.data.Dataset:
    """A dataset of the uint8 images [H, W, C] of ``split`` (labels dropped), unpreprocessed.

    ``split`` is any tensorflow-datasets split string ("train", "test", "train[:90%]", ...).
    """
    builder = prepared_builder(info, data_dir=data_dir, manual_dir=manual_dir, download=download)
    examples = builder.as_dataset(split=split, shuffle_files=shuffle_files)
    return examples.map(lambda example: example["image"], num_parallel_calls=tf.data.AUTOTUNE)
