"""Checkpoints that survive a kill: atomic Keras backups (for resuming) and model files."""

import json
import math
import os

import keras
import numpy as np


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose files are replaced atomically, so a kill never corrupts them.

    Keras writes `latest.weights.h5` (model weights, batch-norm moving statistics and the
    optimizer's state and iteration count) and `training_metadata.json` (the epoch) in place;
    a SIGKILL in the middle of the write would leave a truncated file. Here each is written to
    a temporary file beside it and moved over the old one (`os.replace`), weights first: a kill
    between the two moves at worst repeats one epoch. A restarted `fit` with this callback
    resumes after the last completed epoch.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        partial_weights = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(partial_weights, overwrite=True)
        os.replace(partial_weights, self._weights_path)
        partial_metadata = self._training_metadata_path + ".partial"
        with open(partial_metadata, "w") as file:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, file)
        os.replace(partial_metadata, self._training_metadata_path)


def completed_epochs(backup_dir):
    """The number of epochs a backup of `AtomicBackupAndRestore` holds (0 when none)."""
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(os.path.join(backup_dir, "latest.weights.h5")) or not os.path.exists(
        path
    ):
        return 0
    with open(path) as file:
        return int(json.load(file)["epoch"])


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (`model.save`, `.keras`) after every epoch whose logs are finite.

    The file is written beside the target and moved over it, so a kill leaves either the old
    or the new model, and an epoch with a NaN or infinite metric never replaces a good one.

    Args:
      filepath: the `.keras` file.
    """

    def __init__(self, filepath):
        super().__init__()
        if not str(filepath).endswith(".keras"):
            raise ValueError(f"`filepath` must end in .keras; got filepath={filepath!r}.")
        self.filepath = str(filepath)

    def on_epoch_end(self, epoch, logs=None):
        values = [float(v) for v in (logs or {}).values() if np.ndim(v) == 0]
        if all(math.isfinite(v) for v in values):
            save_model_atomically(self.model, self.filepath)


def save_model_atomically(model, filepath):
    """`model.save(filepath)` through a temporary file, so `filepath` is never half-written."""
    directory, name = os.path.split(os.path.abspath(filepath))
    partial = os.path.join(directory, "partial." + name)
    model.save(partial, overwrite=True)
    os.replace(partial, filepath)
