"""Keras callbacks for long runs: sample grids, step-exact TensorBoard, checkpoints, NaN stops."""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from tfp_realnvp.training.image_grid import image_grid


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; raised before anything is saved."""


class StopOnNonFiniteLoss(keras.callbacks.TerminateOnNaN):
    """`TerminateOnNaN` that raises `NonFiniteLossError` at once instead of finishing the epoch.

    Keras's `TerminateOnNaN()` only sets `stop_training`: the epoch still ends, so end-of-epoch
    callbacks (backups, checkpoints) would save the broken weights. Raising from the batch that
    went wrong skips them all, so the last good checkpoint stays on disk. Put this callback
    first in the list.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"the training loss became {float(loss)} at epoch {self._epoch + 1}, "
                f"batch {batch + 1}; training stopped before saving anything"
            )


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


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras's `TensorBoard`, fixed for runs that log every N steps and resume.

    - Epoch-level scalars (training and validation) are always written. Keras writes them
      inside the `record_if(step % update_freq == 0)` context of the epoch's last batch, so
      with `update_freq=N` they are silently dropped whenever N does not divide that step.
    - Batch-level steps continue after a restart: Keras counts batches from 0 in every `fit`;
      here the count starts at the optimizer's iteration count (restored by
      `BackupAndRestore`, which must come earlier in the callback list). Epoch-level scalars
      already use the (resumed) epoch index.
    """

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # Keras's private batch counter; the public alternative would be a second writer.
        self._global_train_batch = int(self.model.optimizer.iterations.numpy())

    def on_epoch_end(self, epoch, logs=None):
        with tf.summary.record_if(True):
            super().on_epoch_end(epoch, logs)

    def on_test_end(self, logs=None):
        with tf.summary.record_if(True):
            super().on_test_end(logs)


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of model samples to TensorBoard as an image at the end of every epoch.

    The latents are drawn once (from `seed`), so successive images show the same samples as
    the model trains. Sampling runs in inference mode (moving batch-norm statistics).

    Args:
      log_dir: the run's log directory; the image goes to `<log_dir>/samples` with step = epoch.
      num_samples: images in the grid.
      temperature: standard deviation of the latents.
      seed: seed of the latents.
      every_n_epochs: write every this many epochs.
    """

    def __init__(self, log_dir, num_samples=64, temperature=1.0, seed=0, every_n_epochs=1):
        super().__init__()
        self.log_dir = os.path.join(str(log_dir), "samples")
        self.num_samples = int(num_samples)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.every_n_epochs = int(every_n_epochs)
        self._writer = None
        self._latents = None

    def latents(self):
        if self._latents is None:
            shape = (self.num_samples, *self.model.event_shape)
            noise = np.random.default_rng(self.seed).standard_normal(shape)
            self._latents = noise * self.temperature
        return self._latents

    def grid(self):
        """The current sample grid: uint8 [H', W', C]."""
        images = self.model.decode(self._latents_tensor())
        return image_grid(np.asarray(images), num_bins=self.model.num_bins)

    def _latents_tensor(self):
        return tf.constant(self.latents(), dtype=self.model.flow.dtype)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        grid = self.grid()
        # record_if(True): TensorBoard(update_freq=N) may leave a step filter active.
        with self._writer.as_default(), tf.summary.record_if(True):
            tf.summary.image("samples", grid[np.newaxis], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
