"""AveragedWeights: validation, end-of-epoch saves and the end of fit use the averaged weights
with their own statistics, training the trained ones; TimeBudget stops fit at a step boundary."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tfp_realnvp.training import RealNVPModel, callbacks, recipe_optimizer

EVENT_SHAPE = [4, 4, 1]
BATCH = 8


def images(count, seed=0):
    return np.random.default_rng(seed).uniform(size=[count, *EVENT_SHAPE]).astype("float32")


def batches(data):
    return tf.data.Dataset.from_tensor_slices(data).batch(BATCH)


def tiny_model(optimizer):
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    model = RealNVPModel(flow, num_bins=256)
    model.compile(optimizer=optimizer)
    return model


def weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def averages(model):
    return [
        a.numpy().copy() for a in model.optimizer.inner_optimizer._model_variables_moving_average
    ]


def training_mode_bits(model, x):
    return float(tf.reduce_mean(tfp_realnvp.bits_per_dim(model(x, training=True), EVENT_SHAPE)))


def assert_all_equal(first, second):
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


class Probe(keras.callbacks.Callback):
    """Records the model's weights at validation's start and at the epoch's end."""

    def __init__(self, x=None):
        super().__init__()
        self.x, self.at_test_begin, self.at_epoch_end, self.bits = x, [], [], []

    def on_test_begin(self, logs=None):
        self.at_test_begin.append(weights(self.model))

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end.append((weights(self.model), averages(self.model)))
        if self.x is not None:
            self.bits.append(training_mode_bits(self.model, self.x))


def test_validation_and_end_of_epoch_saves_see_the_averages_training_the_trained_weights():
    model = tiny_model(recipe_optimizer(0.02, ema_momentum=0.8))
    x = images(BATCH, seed=5)
    before, after = Probe(x), Probe()  # around AveragedWeights: the saves, and the backup
    averaged = callbacks.AveragedWeights(batches(x), steps=250)
    history = model.fit(
        batches(images(4 * BATCH)),
        epochs=2,
        validation_data=batches(x),
        callbacks=[before, averaged, after],
        verbose=0,
    ).history
    for epoch in range(2):
        trained = before.at_test_begin[epoch]  # the probe runs before the swap
        in_model, average = before.at_epoch_end[epoch]
        assert_all_equal(in_model, average)  # validation and the saves before it: the averages
        assert not np.allclose(in_model[0], trained[0])
        assert_all_equal(after.at_epoch_end[epoch][0], trained)  # the backup: the trained ones
        # Validation on x with statistics refreshed on x: the training-mode value of the averages.
        assert history["val_bits_per_dim"][epoch] == pytest.approx(before.bits[epoch], abs=1e-4)
    # The second epoch trained on from the trained weights, not from the averages.
    assert_all_equal(before.at_test_begin[0], after.at_epoch_end[0][0])
    # fit ends with the averages in the model, their statistics fresh.
    assert_all_equal(weights(model), averages(model))
    evaluated = model.evaluate(batches(x), return_dict=True, verbose=0)["bits_per_dim"]
    assert evaluated == pytest.approx(training_mode_bits(model, x), abs=1e-4)


def test_without_validation_the_statistics_are_refreshed_at_the_end_of_fit():
    model = tiny_model(recipe_optimizer(0.05, ema_momentum=0.5))
    x = images(BATCH, seed=6)
    model.fit(
        batches(images(4 * BATCH)),
        epochs=1,
        callbacks=[callbacks.AveragedWeights(batches(x), steps=250)],
        verbose=0,
    )
    assert_all_equal(weights(model), averages(model))
    evaluated = model.evaluate(batches(x), return_dict=True, verbose=0)["bits_per_dim"]
    assert evaluated == pytest.approx(training_mode_bits(model, x), abs=1e-4)


def test_averaged_weights_need_an_optimizer_with_an_ema():
    model = tiny_model(recipe_optimizer(0.01))
    with pytest.raises(
        ValueError, match=r"AveragedWeights needs .* got FusedAdam with use_ema=False"
    ):
        model.fit(batches(images(BATCH)), callbacks=[callbacks.AveragedWeights(batches(images(8)))])


class FakeClock:
    def __init__(self, seconds_per_call):
        self.now, self.step = 0.0, seconds_per_call

    def __call__(self):
        value, self.now = self.now, self.now + self.step
        return value


def test_time_budget_stops_at_the_step_that_crosses_it_and_fit_ends_normally():
    model = tiny_model(recipe_optimizer(0.01))
    # begin: t = 0; the batches end at 25, 50, 75 s: the third crosses one minute.
    budget = callbacks.TimeBudget(1, clock=FakeClock(25.0))
    history = model.fit(
        batches(images(4 * BATCH)).repeat(),
        epochs=5,
        steps_per_epoch=4,
        validation_data=batches(images(BATCH)),
        callbacks=[budget],
        verbose=0,
    ).history
    assert budget.stopped and budget.steps == 3 and budget.elapsed_seconds == 75.0
    assert int(model.optimizer.iterations) == 3
    assert len(history["val_bits_per_dim"]) == 1  # the stopped epoch is still validated


def test_time_budget_that_is_not_reached_lets_fit_finish():
    model = tiny_model(recipe_optimizer(0.01))
    budget = callbacks.TimeBudget(10, clock=FakeClock(1.0))
    model.fit(batches(images(2 * BATCH)), epochs=2, callbacks=[budget], verbose=0)
    assert not budget.stopped and budget.steps == 4 and int(model.optimizer.iterations) == 4


@pytest.mark.parametrize("minutes", [0, -1.0, float("nan"), True, "5"])
def test_time_budget_must_be_positive(minutes):
    with pytest.raises(ValueError, match=r"`minutes` must be a number > 0; got minutes="):
        callbacks.TimeBudget(minutes)


class LearningRates(keras.callbacks.Callback):
    """Records the learning rate each training step ran with."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))


def test_cosine_decay_over_a_budget_warms_up_by_steps_then_decays_by_time():
    model = tiny_model(recipe_optimizer(0.01))
    # The batches end at 10, 20, ... s of a one-minute budget; the warm-up ends at step 2
    # (20 s), so the cosine runs over the 40 s left: t = (elapsed - 20) / 40 before each step.
    budget = callbacks.TimeBudget(1, clock=FakeClock(10.0))
    schedule = callbacks.CosineDecayOverBudget(budget, 0.01, warmup_steps=2)
    rates = LearningRates()
    model.fit(
        batches(images(BATCH)).repeat(),
        epochs=1,
        steps_per_epoch=10,
        callbacks=[budget, schedule, rates],
        verbose=0,
    )
    cosine = [0.5 * (1 + np.cos(np.pi * t)) for t in (0, 0, 0.25, 0.5, 0.75)]
    expected = [0.005, 0.01] + [0.01 * c for c in cosine[1:]]
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-6, atol=1e-9)
    assert budget.stopped and budget.steps == 6


def test_cosine_decay_over_a_budget_needs_the_budget():
    with pytest.raises(ValueError, match=r"`budget` must be a TimeBudget; got budget=5"):
        callbacks.CosineDecayOverBudget(5, 0.01)
