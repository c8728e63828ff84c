"""Saved files written whole and read checked: the one way the package writes and reads them.

- `write_atomically(path, write)` has `write` fill a temporary file of this process's own beside
  `path` (`.partial-<pid>-<random>.<name>`, so two processes never share one), flushes it to
  disk and moves it over `path` (`os.replace`). A reader sees the old file or the new one,
  whole; a kill leaves at worst a temporary file (`is_partial_file`).
- `read_json`, `check_weights_file` and `check_keras_file` read a file that may have been
  damaged (cut short, emptied, overwritten): a missing file is None or False, a damaged one
  raises `DamagedFileError`, whose message names the file and what is wrong, in one line.

TensorFlow-free: the command line checks files before it imports TensorFlow.
"""

import hashlib
import json
import os
import secrets
import zipfile

PARTIAL_PREFIX = ".partial-"


class DamagedFileError(ValueError):
    """A saved file that exists but cannot be used: "'<path>' is damaged: <problem>".

    Attributes:
      path: the file.
      problem: what is wrong with it, a short phrase.
    """

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path!r} is damaged: {problem}")


def write_atomically(path, write):
    """Calls `write(temporary_path)`, then moves the file written there over `path`.

    The temporary file has `path`'s name after a prefix, so it keeps its suffix (`.keras`,
    `.weights.h5`), which writers such as Keras require. On any failure it is removed.
    """
    directory, name = os.path.split(os.path.abspath(path))
    own = f"{PARTIAL_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.{name}"
    partial = os.path.join(directory, own)
    try:
        write(partial)
        with open(partial, "rb+") as file:  # on disk before the rename: survives a power cut
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


def is_partial_file(name):
    """Whether a file name is one of `write_atomically`'s temporary files."""
    return name.startswith(PARTIAL_PREFIX)


def write_json(path, value):
    """Writes `value` as indented JSON to `path`, atomically."""

    def write(partial):
        with open(partial, "w") as file:
            json.dump(value, file, indent=2, sort_keys=True)
            file.write("\n")

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomically(path, write)


def read_json(path, fields=None):
    """The JSON object in `path`, or None if there is no such file.

    Args:
      path: the file.
      fields: {key: type or tuple of types} the object must hold (bool is not an int here).

    Raises:
      DamagedFileError: the file is empty, not JSON, not an object, or lacks a field.
    """
    data = _read_bytes(path)
    if data is None:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except ValueError as error:  # also UnicodeDecodeError
        raise DamagedFileError(path, f"not JSON ({_one_line(error)})") from None
    if not isinstance(value, dict):
        raise DamagedFileError(path, f"holds a {type(value).__name__}, not a JSON object")
    for key, types in (fields or {}).items():
        found = value.get(key)
        if not isinstance(found, types) or isinstance(found, bool):
            raise DamagedFileError(path, f"lacks a valid {key!r} (got {found!r})")
    return value


def check_weights_file(path):
    """True if `path` is a whole HDF5 file whose every dataset reads; False if it does not exist.

    Raises:
      DamagedFileError: the file is empty, cut short or not HDF5.
    """
    if _read_size(path) is None:
        return False
    import h5py

    def read(name, item):
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as file:
            file.visititems(read)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise DamagedFileError(path, f"not a whole HDF5 file ({_one_line(error)})") from None
    return True


def check_keras_file(path, sha256=None):
    """True if `path` is a whole `.keras` archive; False if it does not exist.

    Checks that it is a zip archive holding a model's config and weights, each member passing
    its CRC check, and, given `sha256`, that it is the very file whose digest that is.

    Raises:
      DamagedFileError: the file is empty, cut short, overwritten or not that file.
    """
    if _read_size(path) is None:
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            missing = {"config.json", "model.weights.h5"} - set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        problem = f"not a whole .keras (zip) archive ({_one_line(error)})"
        raise DamagedFileError(path, problem) from None
    if broken is not None:
        raise DamagedFileError(path, f"its member {broken!r} fails its CRC check")
    if missing:
        raise DamagedFileError(path, f"lacks {', '.join(sorted(missing))}")
    if sha256 is not None and file_sha256(path) != sha256:
        raise DamagedFileError(path, "its sha256 is not the one recorded when it was saved")
    return True


def file_sha256(path):
    """The hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_size(path):
    """The size of a readable, non-empty file; None if it does not exist; else DamagedFileError."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DamagedFileError(path, f"cannot be read ({error.strerror})") from None
    if os.path.isdir(path):
        raise DamagedFileError(path, "is a folder, not a file")
    if size == 0:
        raise DamagedFileError(path, "empty (0 bytes)")
    return size


def _read_bytes(path):
    if _read_size(path) is None:
        return None
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise DamagedFileError(path, f"cannot be read ({error.strerror})") from None


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__
