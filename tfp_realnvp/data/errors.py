"""The data pipelines' error for data that is not here, and how its messages name arguments.

Every data error message (``DatasetNotAvailableError`` and ``ValueError``) is one line that
names ``load``'s arguments in backticks (`` `source` ``, `` `manual_dir` ``, ...), so that the
command line can say the same with its own flags (``argument_names``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ARGUMENT = re.compile(r"`(\w+)`")


class DatasetNotAvailableError(FileNotFoundError):
    """A dataset could not be found, read, prepared or downloaded.

    Raised instead of ever substituting other data. The message says what is missing and how
    to provide the data: download it with internet access, point `data_dir` at an already
    prepared tensorflow-datasets folder, pass `manual_dir` with the official files, or pass the
    files themselves as the source (a folder, an array file).
    """


def how_to_provide(name: str, tfds_name: str, manual_instructions: str, data_dir: object) -> str:
    """The ways to make the named dataset ``name`` available, for error messages."""
    where = "~/tensorflow_datasets" if data_dir is None else repr(str(data_dir))
    return (
        f"Provide {name!r} in one of these ways: (1) run once with internet access, and "
        f"tensorflow-datasets downloads and prepares it into `data_dir` (now {where}); "
        f"(2) pass `data_dir` a folder where tensorflow-datasets already prepared {tfds_name!r}; "
        f"(3) pass `manual_dir` a folder holding {manual_instructions}."
    )


def one_line(error: BaseException | str) -> str:
    """``error``'s message with every run of white space (newlines too) made one space."""
    return " ".join(str(error).split())


def argument_names(message: str, names: Mapping[str, str]) -> str:
    """``message`` with each `` `argument` `` in ``names`` replaced by its name there.

    >>> argument_names("`image_size` must be ...", {"image_size": "--image-size"})
    '--image-size must be ...'
    """
    return _ARGUMENT.sub(lambda m: names.get(m.group(1), m.group(0)), message)
