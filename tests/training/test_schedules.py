"""WarmupCosineDecay: the linear warm-up and cosine decay, as a Keras learning rate."""

import math

import keras
import numpy as np
import pytest

from tfp_realnvp.training import WarmupCosineDecay


def expected_rate(step, peak, warmup, decay, final):
    rate = peak * min(1.0, (step + 1) / warmup) if warmup else peak
    if decay is not None:
        t = min(max(step - warmup, 0), decay) / decay
        rate *= final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t))
    return rate


@pytest.mark.parametrize(
    "warmup, decay, final",
    [(0, None, 0.0), (5, None, 0.0), (0, 10, 0.0), (5, 10, 0.1), (1, 3, 1.0)],
    ids=["constant", "warmup", "cosine", "warmup_cosine", "flat_decay"],
)
def test_rates_follow_the_formula(warmup, decay, final):
    schedule = WarmupCosineDecay(2e-3, warmup_steps=warmup, decay_steps=decay, final_fraction=final)
    steps = np.arange(25)
    rates = [float(schedule(step)) for step in steps]
    expected = [expected_rate(s, 2e-3, warmup, decay, final) for s in steps]
    np.testing.assert_allclose(rates, expected, rtol=1e-5, atol=1e-9)


def test_warmup_reaches_the_peak_at_its_last_step_and_the_decay_ends_at_the_final_rate():
    schedule = WarmupCosineDecay(1e-3, warmup_steps=4, decay_steps=6, final_fraction=0.25)
    assert float(schedule(0)) == pytest.approx(0.25e-3)
    assert float(schedule(3)) == pytest.approx(1e-3) and float(schedule(4)) == pytest.approx(1e-3)
    assert float(schedule(10)) == pytest.approx(0.25e-3) and float(schedule(99)) == pytest.approx(
        0.25e-3
    )


def test_config_round_trip_through_keras_serialization():
    schedule = WarmupCosineDecay(3e-4, warmup_steps=7, decay_steps=11, final_fraction=0.5)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, WarmupCosineDecay)
    assert restored.get_config() == schedule.get_config()
    assert [float(restored(s)) for s in range(20)] == [float(schedule(s)) for s in range(20)]


def test_an_optimizer_reads_its_rate_at_its_iterations():
    optimizer = keras.optimizers.SGD(WarmupCosineDecay(1.0, warmup_steps=4))
    w = keras.Variable(0.0)
    rates = []
    for _ in range(5):
        rates.append(float(optimizer.learning_rate))
        optimizer.apply([keras.ops.convert_to_tensor(-1.0)], [w])  # w += rate
    assert rates == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert float(w.numpy()) == pytest.approx(sum(rates))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"learning_rate": 0.0}, "`learning_rate` must be a number > 0; got learning_rate=0.0"),
        ({"warmup_steps": -1}, "`warmup_steps` must be an integer >= 0; got warmup_steps=-1"),
        ({"warmup_steps": 2.5}, "`warmup_steps` must be an integer >= 0; got warmup_steps=2.5"),
        ({"decay_steps": 0}, "`decay_steps` must be an integer >= 1 or None; got decay_steps=0"),
        ({"final_fraction": 1.5}, "`final_fraction` must be a number in [0, 1]; got "),
    ],
    ids=["rate", "negative_warmup", "float_warmup", "decay", "final"],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"learning_rate": 1e-3, **kwargs}
    with pytest.raises(ValueError) as error:
        WarmupCosineDecay(**arguments)
    assert message in str(error.value)
