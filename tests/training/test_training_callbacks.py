"""The training callbacks: TensorBoard scalars and sample images, backups, NaN stops."""

import glob
import hashlib
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tests.flow_cases import perturb
from tfp_realnvp.training import RealNVPModel, callbacks

EVENT_SHAPE = [4, 4, 1]
BATCH = 8
STEPS = 4  # batches per epoch


def images(count, seed=0):
    return np.random.default_rng(seed).uniform(size=[count, *EVENT_SHAPE]).astype("float32")


def batches(data):
    return tf.data.Dataset.from_tensor_slices(data).batch(BATCH)


@pytest.fixture(scope="module")
def model():
    """One tiny compiled model shared by the tests (its train step is traced once)."""
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    model = RealNVPModel(flow, num_bins=256)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def read_events(directory):
    """{tag: [(step, value)]} of every event file under `directory` (scalars and images)."""
    found = {}
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    return {tag: sorted(entries, key=lambda entry: entry[0]) for tag, entries in found.items()}


def file_digest(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def state(model):
    """Every weight of the model (batch-norm statistics included) and of its optimizer."""
    return [v.numpy().copy() for v in [*model.weights, *model.optimizer.variables]]


def test_tensorboard_scalars_and_sample_images(model, tmp_path):
    logdir = str(tmp_path)
    history = model.fit(
        batches(images(BATCH * STEPS)),
        validation_data=batches(images(BATCH * 2, seed=1)),
        epochs=2,
        verbose=0,
        callbacks=[
            # 3 divides neither epoch's last step: Keras alone would drop the epoch scalars.
            callbacks.TensorBoard(logdir, update_freq=3),
            callbacks.SampleGrid(logdir, num_samples=4),
        ],
    ).history
    start = int(model.optimizer.iterations.numpy()) - 2 * STEPS  # earlier tests' steps
    train = read_events(os.path.join(logdir, "train"))
    validation = read_events(os.path.join(logdir, "validation"))
    samples = read_events(os.path.join(logdir, "samples"))

    # Every 3 steps during training, and once per epoch for training and validation.
    steps = [step for step, _ in train["batch_bits_per_dim"]]
    assert steps == [s for s in range(start + 1, start + 2 * STEPS + 1) if s % 3 == 0]
    epoch_values = [float(v) for _, v in train["epoch_bits_per_dim"]]
    np.testing.assert_allclose(epoch_values, history["bits_per_dim"], rtol=1e-6)
    assert [s for s, _ in train["epoch_bits_per_dim"]] == [0, 1]
    val_values = [float(v) for _, v in validation["epoch_bits_per_dim"]]
    np.testing.assert_allclose(val_values, history["val_bits_per_dim"], rtol=1e-6)
    assert "epoch_loss" in train and "epoch_loss" in validation

    # One sample grid per epoch: 2x2 grid of 4x4 images zoomed 8x, 1-pixel padding.
    assert [s for s, _ in samples["samples"]] == [0, 1]
    width, height, png = samples["samples"][-1][1][:3]
    image = tf.image.decode_png(png).numpy()
    assert (int(width), int(height)) == (2 * 33 + 1, 2 * 33 + 1)
    assert image.shape[:2] == (67, 67)


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(model, tmp_path):
    backup_dir = str(tmp_path / "backup")
    model_path = str(tmp_path / "model.keras")

    def fit(data, epochs, *more_callbacks):
        backup = callbacks.TrainingBackup(backup_dir)
        return model.fit(
            batches(data),
            epochs=epochs,
            initial_epoch=backup.restore(model),
            verbose=0,
            callbacks=[
                callbacks.StopOnNonFiniteLoss(),
                backup,
                *more_callbacks,
                callbacks.AtomicModelCheckpoint(model_path),
            ],
        )

    before = state(model)
    fit(images(BATCH * STEPS), epochs=1)
    weights_path = os.path.join(backup_dir, "latest.weights.h5")
    good = {path: file_digest(path) for path in (weights_path, model_path)}
    assert callbacks.completed_epochs(backup_dir) == 1

    # A huge learning rate (set after the backup restored the optimizer): the first steps
    # throw the weights so far that the loss overflows (the model skips that step, the
    # callback stops training there).
    huge_learning_rate = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: model.optimizer.learning_rate.assign(1e30)
    )
    message = r"^the training loss or its gradient became NaN or infinite at epoch 2, batch "
    with pytest.raises(callbacks.NonFiniteLossError, match=message):
        fit(images(BATCH * STEPS, seed=1), 3, huge_learning_rate)
    assert all(np.all(np.isfinite(v)) for v in state(model))  # the skipped step changed nothing
    assert {path: file_digest(path) for path in good} == good
    assert callbacks.completed_epochs(backup_dir) == 1
    restored = keras.saving.load_model(model_path)
    assert all(np.all(np.isfinite(v.numpy())) for v in restored.weights)
    model.optimizer.learning_rate.assign(1e-2)
    for variable, value in zip([*model.weights, *model.optimizer.variables], before, strict=True):
        variable.assign(value)  # the other tests share this model


def test_model_checkpoint_skips_epochs_with_non_finite_logs(model, tmp_path):
    path = str(tmp_path / "model.keras")
    checkpoint = callbacks.AtomicModelCheckpoint(path)
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"loss": float("inf"), "bits_per_dim": 3.0})
    assert not os.path.exists(path)
    checkpoint.on_epoch_end(0, {"loss": 1.0, "bits_per_dim": 3.0})
    assert os.path.exists(path)
    assert not os.path.exists(str(tmp_path / "partial.model.keras"))
    with pytest.raises(ValueError, match=r"^`filepath` must end in \.keras; got filepath='x\.h5'"):
        callbacks.AtomicModelCheckpoint("x.h5")


def test_backup_restores_weights_statistics_optimizer_and_epoch(tmp_path):
    keras.utils.set_random_seed(2)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    model = RealNVPModel(flow)
    model.compile()
    backup_dir = str(tmp_path / "backup")
    logdir = str(tmp_path / "logs")
    data = batches(images(BATCH * STEPS))

    backup = callbacks.TrainingBackup(backup_dir)
    assert backup.restore(model) == 0  # nothing to restore yet

    def backup_callbacks():
        return [backup, callbacks.TensorBoard(logdir, update_freq=1)]

    model.fit(data, epochs=1, verbose=0, callbacks=backup_callbacks())
    saved = state(model)
    assert int(model.optimizer.iterations.numpy()) == STEPS
    with open(os.path.join(backup_dir, "training_metadata.json")) as file:
        assert json.load(file)["epoch"] == 1

    # Scramble everything, as a fresh process would have other values.
    rng = np.random.default_rng(0)
    for variable in [*model.weights, *model.optimizer.variables]:
        variable.assign(rng.uniform(size=variable.shape).astype(variable.dtype))
    restored, epochs_run = [], []

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            restored.extend(state(self.model))

        def on_epoch_begin(self, epoch, logs=None):
            epochs_run.append(epoch)

    initial_epoch = backup.restore(model)
    assert initial_epoch == 1
    model.fit(
        data,
        epochs=2,
        initial_epoch=initial_epoch,
        verbose=0,
        callbacks=[*backup_callbacks(), Probe()],
    )
    assert len(restored) == len(saved) > 0
    for before, after in zip(saved, restored, strict=True):
        np.testing.assert_array_equal(before, after)
    assert epochs_run == [1]
    # TensorBoard's batch steps continue from the restored iteration count.
    steps = [s for s, _ in read_events(os.path.join(logdir, "train"))["batch_bits_per_dim"]]
    assert steps == list(range(1, 2 * STEPS + 1))


def test_sample_grid_uses_fixed_latents(model, tmp_path):
    grid = callbacks.SampleGrid(str(tmp_path), num_samples=9, temperature=0.5, seed=3)
    grid.set_model(model)
    first, second = grid.grid(), grid.grid()
    np.testing.assert_array_equal(first, second)
    assert first.shape == (3 * 33 + 1, 3 * 33 + 1, 1)
    assert np.std(grid.latents()) == pytest.approx(0.5, rel=0.2)


def test_backup_with_a_save_dir_reads_one_folder_and_writes_another(model, tmp_path):
    """A non-chief worker restores from the shared backup and writes only to its own folder."""
    shared, own = str(tmp_path / "shared"), str(tmp_path / "own")
    chief = callbacks.TrainingBackup(shared)
    chief.set_model(model)
    chief.on_epoch_end(2)
    worker = callbacks.TrainingBackup(shared, save_dir=own)
    worker.set_model(model)
    assert worker.restore(model) == 3
    worker.on_epoch_end(4)  # must not touch `shared`
    assert callbacks.completed_epochs(shared) == 3
    assert callbacks.completed_epochs(own) == 5
    assert sorted(os.listdir(own)) == ["latest.weights.h5", "training_metadata.json"]
    assert sorted(os.listdir(shared)) == ["latest.weights.h5", "training_metadata.json"]


def test_validation_during_fit_uses_refreshed_batch_norm_statistics():
    """Stale moving statistics distort validation; refreshed ones give the training-mode value.

    With a learning rate of 0 the weights stay put, so after the refresh (on the one batch
    validated) the inference map normalises with exactly that batch's statistics.
    """
    keras.utils.set_random_seed(2)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    model = RealNVPModel(flow, num_bins=256)
    perturb(model, 0.3)  # the moving statistics (initial ones) no longer match the weights
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    x = images(BATCH, seed=5)
    expected = float(tf.reduce_mean(tfp_realnvp.bits_per_dim(model(x, training=True), EVENT_SHAPE)))

    def validated(*more_callbacks):
        history = model.fit(
            batches(x), validation_data=batches(x), callbacks=list(more_callbacks), verbose=0
        )
        return history.history["val_bits_per_dim"][0]

    stale = validated()
    assert abs(stale - expected) > 0.05
    refresh = callbacks.RefreshBatchNormStatistics(batches(x), steps=250)
    assert validated(refresh) == pytest.approx(expected, abs=1e-4)
