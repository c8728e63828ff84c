"""TensorBoard logging: Keras's callback fixed for resumed runs, and sample-grid images."""

import os

import keras
import numpy as np
import tensorflow as tf

from tfp_realnvp.training.image_grid import class_rows, image_grid


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras's `TensorBoard`, fixed for runs that log every N steps and resume.

    - Epoch-level scalars (training and validation) are always written. Keras writes them
      inside the `record_if(step % update_freq == 0)` context of the epoch's last batch, so
      with `update_freq=N` they are silently dropped whenever N does not divide that step.
    - Batch-level steps continue after a restart: Keras counts batches from 0 in every `fit`;
      here the count starts at the optimizer's iteration count (restored with the rest of
      the training state, e.g. by `TrainingBackup.restore`, before `fit`). Epoch-level
      scalars already use the (resumed) epoch index.
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

    A class-conditional model (`num_classes` K set) draws one row per class:
    ceil(num_samples / K) samples of p(x | y = k) in row k.

    Args:
      log_dir: the run's log directory; the image goes to `<log_dir>/samples` with step = epoch.
      num_samples: images in the grid (of a class-conditional model: at least; whole rows).
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
        self._labels = None
        self._columns = None
        self._writer = None
        self._latents = None

    def latents(self):
        """The fixed latents [N, H, W, C] (the model's base distribution), drawn once."""
        if self._latents is None:
            count = self.num_samples
            if self.model.num_classes is not None:
                self._labels, self._columns = class_rows(self.model.num_classes, count)
                count = len(self._labels)
            base = self.model.base_distribution(self.temperature)
            self._latents = base.sample(count, seed=(0, self.seed)).numpy()
        return self._latents

    def grid(self):
        """The current sample grid: uint8 [H', W', C']."""
        images = self.model.decode(self.latents(), labels=self._labels).numpy()
        return image_grid(images, num_bins=self.model.num_bins, columns=self._columns)

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
