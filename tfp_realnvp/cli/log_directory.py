"""What `train` finds in its log directory, checked, and what running it again recovers.

Called with the directory's lock held (`tfp_realnvp.cli.lock`). Every file is read through
`tfp_realnvp.checked_files`, so damage is a `DamagedFileError` naming the file; here each one
becomes either a line saying what this run does about it or a `UsageError` saying what to do:

    results.json damaged         the model is evaluated again and the file rewritten
    model.keras damaged/missing  a finished run rebuilds it from the backup and evaluates again
                                 (its sha256 is in results.json); an unfinished run rewrites
                                 it at the next epoch's end
    backup damaged               training continues from an intact model.keras (weights,
                                 optimizer state); with no intact model either, nothing can be
                                 resumed: an error, and nothing is touched
    TensorBoard folder a file    an error (TensorBoard could not write there)

`config.json` is checked by `train` itself, which compares it with its flags.
"""

import dataclasses
import os

from tfp_realnvp import checked_files
from tfp_realnvp.checked_files import DamagedFileError
from tfp_realnvp.cli import run_config
from tfp_realnvp.cli.errors import UsageError

TENSORBOARD_FOLDERS = ("train", "validation", "samples")


@dataclasses.dataclass(frozen=True)
class Plan:
    """What `train` does with its log directory.

    Attributes:
      finished: the results of a finished run whose files are all intact (nothing to do), or None.
      from_model: the backup is damaged: restore the model from model.keras instead.
      model_epochs: the epochs model.keras holds, where results.json says (else None).
    """

    finished: dict | None = None
    from_model: bool = False
    model_epochs: int | None = None


def prepare(logdir, epochs, chief=True):
    """Checks `logdir` for `train --epochs epochs`; returns its `Plan`, printing each repair.

    `chief`: this process writes the log directory (it holds the lock) and deletes the
    temporary files that killed runs left there.

    Raises:
      UsageError: a TensorBoard folder is a file, or the backup and model.keras are both
        damaged or missing although the directory holds a run.
    """
    _check_tensorboard_folders(logdir)
    if chief:
        _remove_partial_files(logdir)
    results = _results(logdir)
    model_path = os.path.join(logdir, run_config.MODEL_FILE)
    digest = None if results is None else results.get("model_sha256")
    model = _problem(checked_files.check_keras_file, model_path, sha256=digest)
    backup_dir = os.path.join(logdir, run_config.BACKUP_DIR)
    backup = _problem(_check_backup, backup_dir)
    if model is MISSING:
        model = f"{model_path!r} is missing"
        if backup is MISSING and results is None:
            return Plan()  # a new run (or one killed before its first epoch ended)
    if backup is MISSING:
        backup = f"{backup_dir!r} holds no backup"
    finished = results is not None and results["epochs"] >= epochs
    if backup is None:
        if finished and model is None:
            return Plan(finished=results)
        if finished:
            print(f"{model}; rebuilding it from the backup and evaluating again.")
        return Plan()
    if model is not None:
        raise UsageError(
            f"{backup}, and {model}: nothing in {logdir!r} can be resumed, and nothing was "
            "changed; move its files away to train from the start, or choose another --logdir"
        )
    print(f"{backup}; continuing from {model_path!r} (its weights and optimizer state).")
    return Plan(from_model=True, model_epochs=None if results is None else results["epochs"])


# What `_problem` says of a file that does not exist.
MISSING = "missing"


def _results(logdir):
    try:
        return run_config.read_results(logdir)
    except DamagedFileError as error:
        print(f"{error}; evaluating the model again to rewrite it.")
        return None


def _check_backup(backup_dir):
    """True if `backup_dir` holds a backup (False if none); DamagedFileError if it is damaged."""
    from tfp_realnvp.training.checkpoints import WEIGHTS_FILE, completed_epochs

    if not completed_epochs(backup_dir):
        return False
    return checked_files.check_weights_file(os.path.join(backup_dir, WEIGHTS_FILE))


def _problem(check, path, **kwargs):
    """None if `check(path)` finds the file intact, MISSING if there is none, else a sentence
    saying what is damaged."""
    try:
        return None if check(path, **kwargs) else MISSING
    except DamagedFileError as error:
        return str(error)


def _check_tensorboard_folders(logdir):
    for name in TENSORBOARD_FOLDERS:
        path = os.path.join(logdir, name)
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(
                f"{path!r} is a file, where TensorBoard writes the run's {name} events into a "
                "folder; move it away and run the same command again"
            )


def _remove_partial_files(logdir):
    """Deletes temporary files that killed runs left: with the lock held, none is being written."""
    for folder in (logdir, os.path.join(logdir, run_config.BACKUP_DIR)):
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if checked_files.is_partial_file(name):
                    os.remove(os.path.join(folder, name))
