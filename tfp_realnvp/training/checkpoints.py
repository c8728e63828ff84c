"""Checkpoints that survive a kill: backups of the training state (to resume) and model files."""

import math
import os

import keras
import numpy as np

from tfp_realnvp.checked_files import (
    DamagedFileError,
    check_weights_file,
    read_json,
    write_atomically,
    write_json,
)

WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"


class TrainingBackup(keras.callbacks.Callback):
    """Backs up the training state after every epoch, atomically; `restore` resumes from it.

    The backup is two files in `backup_dir`, the layout of Keras's `BackupAndRestore`:

        latest.weights.h5        `model.save_weights`: weights, batch-norm moving statistics,
                                 the optimizer's state and iteration count
        training_metadata.json   {"epoch": the number of completed epochs}

    Each is written to a temporary file of this process's own beside it and moved over the old
    one (`tfp_realnvp.checked_files.write_atomically`), weights first, so a kill at any moment
    leaves a loadable backup; a kill between the two moves at worst repeats one epoch. A backup
    damaged on disk raises `DamagedFileError` naming the file (`restore`, `completed_epochs`).
    Only public Keras API is used: `save_weights`, `load_weights` and `fit(initial_epoch=...)`.

    Under `tf.distribute.MultiWorkerMirroredStrategy` every worker restores from the shared
    `backup_dir` and every worker saves (reading a variable may take all workers), the chief
    into `backup_dir` and the others into a `save_dir` of their own.

    Args:
      backup_dir: the folder the backup is read from and (by default) written to.
      save_dir: the folder to write to instead (a non-chief worker's temporary folder).

    Example:
      >>> flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_res_blocks=0, num_filters=4)
      >>> model = tfp_realnvp.RealNVPModel(flow)
      >>> model.compile()
      >>> backup = TrainingBackup("backup")
      >>> backup.restore(model)  # the completed epochs: 0 for a new run
      0
      >>> history = model.fit(
      ...     images, epochs=1, initial_epoch=backup.restore(model), callbacks=[backup], verbose=0
      ... )
      >>> backup.restore(model)  # run again, `fit` would resume after epoch 1
      1
    """

    def __init__(self, backup_dir, save_dir=None):
        super().__init__()
        self.backup_dir = str(backup_dir)
        self.save_dir = self.backup_dir if save_dir is None else str(save_dir)

    def restore(self, model):
        """Loads the backup into `model` (compiled); returns its completed epochs (0: none).

        Raises:
          DamagedFileError: a file of the backup is damaged or does not fit `model`.
        """
        epochs = completed_epochs(self.backup_dir)
        if epochs:
            path = os.path.join(self.backup_dir, WEIGHTS_FILE)
            check_weights_file(path)
            load_weights(model, path)
        return epochs

    def save(self, model, epochs):
        """Writes the backup of `model` after `epochs` completed epochs into `save_dir`."""
        os.makedirs(self.save_dir, exist_ok=True)
        weights = os.path.join(self.save_dir, WEIGHTS_FILE)
        write_atomically(weights, lambda partial: model.save_weights(partial, overwrite=True))
        write_json(os.path.join(self.save_dir, METADATA_FILE), {"epoch": epochs})

    def on_epoch_end(self, epoch, logs=None):
        self.save(self.model, epoch + 1)


def completed_epochs(backup_dir):
    """The number of epochs a backup of `TrainingBackup` holds (0 when none).

    Raises:
      DamagedFileError: the metadata is damaged, or names epochs whose weights are missing.
    """
    path = os.path.join(backup_dir, METADATA_FILE)
    metadata = read_json(path, fields={"epoch": int})
    if metadata is None:
        return 0  # (weights alone: killed between the first epoch's two writes)
    epochs, weights = metadata["epoch"], os.path.join(backup_dir, WEIGHTS_FILE)
    if epochs < 0:
        raise DamagedFileError(path, f"records {epochs} epochs")
    if epochs and not os.path.exists(weights):
        problem = f"missing, although {METADATA_FILE} records {epochs} epochs"
        raise DamagedFileError(weights, problem)
    return epochs


def load_weights(model, path):
    """`model.load_weights(path)` (a `.weights.h5` or `.keras` file), its optimizer built first
    so that its state loads too; DamagedFileError if the file does not fit `model`."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(path)
    except (OSError, ValueError, KeyError) as error:
        problem = " ".join(str(error).split())[:300]
        raise DamagedFileError(path, f"does not load into this model ({problem})") from None


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
    write_atomically(filepath, lambda partial: model.save(partial, overwrite=True))
