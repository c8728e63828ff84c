"""Shared test set-up: quiet TensorFlow logs and reproducible randomness."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    tf.random.set_seed(0)
    np.random.seed(0)


@pytest.fixture
def offline(monkeypatch):
    """No network: the download host never answers, and a download attempt fails the test."""
    import tensorflow_datasets as tfds

    from tfp_realnvp.data import tfds_source

    def no_network(address, timeout):
        raise OSError("Name or service not known")

    def download_and_prepare(self, *args, **kwargs):
        raise AssertionError("no download may be tried without network")

    monkeypatch.setattr(tfds_source.socket, "create_connection", no_network)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)


@pytest.fixture
def cli_error(capsys):
    """`cli_error(argv)` runs `tfp-realnvp ARGV`, expects exit status 2 and one stderr line (no
    usage block, no traceback) and returns that line."""
    from tfp_realnvp.cli import main

    def error_line(argv):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        return line

    return error_line


@pytest.fixture(scope="session")
def digests():
    """`digests(directory)`: {relative path: sha256} of every file under it."""
    import hashlib

    def of(directory):
        found = {}
        for root, _, names in os.walk(directory):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as file:
                    digest = hashlib.sha256(file.read()).hexdigest()
                found[os.path.relpath(path, directory)] = digest
        return found

    return of
