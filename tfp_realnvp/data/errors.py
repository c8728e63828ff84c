"""The error raised when a dataset's files are not here and cannot be fetched, and its message."""

from __future__ import annotations

from tfp_realnvp.data.info import DatasetInfo


class DatasetNotAvailableError(FileNotFoundError):
    """A dataset could not be found, prepared or downloaded.

    Raised instead of ever substituting other data. The message says how to provide the data:
    download it with internet access, point ``data_dir=`` at an already prepared
    tensorflow-datasets folder, or pass ``manual_dir=`` with the official files.
    """


def how_to_provide(info: DatasetInfo, data_dir: object) -> str:
    """The three ways to make ``info``'s data available, for error messages."""
    where = "the default ~/tensorflow_datasets" if data_dir is None else repr(str(data_dir))
    return (
        f"Provide {info.name!r} in one of these ways: (1) run once with internet access and "
        f"download=True, and tensorflow-datasets downloads and prepares it into data_dir "
        f"(now {where}); (2) pass data_dir= a folder where tensorflow-datasets already prepared "
        f"{info.tfds_name!r}; (3) pass manual_dir= a folder holding {info.manual_instructions}."
    )
