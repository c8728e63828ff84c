"""recipe_optimizer: the paper's optimizer by default; Adamax, warm-up, cosine decay and an EMA
of the weights as options, wrapped to skip non-finite steps, saved and restored with a run."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tfp_realnvp.training import (
    FusedAdam,
    RealNVPModel,
    SkipNonFiniteSteps,
    WarmupCosineDecay,
    default_optimizer,
    recipe_optimizer,
)

EVENT_SHAPE = [4, 4, 1]


def tiny_model(optimizer, seed=0):
    keras.utils.set_random_seed(seed)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    model = RealNVPModel(flow, num_bins=256)
    model.compile(optimizer=optimizer)
    return model


def images(count=16, seed=0):
    return np.random.default_rng(seed).uniform(size=[count, *EVENT_SHAPE]).astype("float32")


def averages(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return [a.numpy().copy() for a in inner._model_variables_moving_average]


def test_the_defaults_are_the_papers_optimizer():
    optimizer = recipe_optimizer()
    assert type(optimizer) is FusedAdam
    config, paper = optimizer.get_config(), default_optimizer().get_config()
    del config["name"], paper["name"]
    assert config == paper
    assert optimizer.skips_non_finite_steps  # compile does not wrap it


def test_adamax_with_the_papers_clipping_is_wrapped_by_compile():
    optimizer = recipe_optimizer(5e-4, optimizer="adamax")
    assert type(optimizer) is keras.optimizers.Adamax
    assert optimizer.global_clipnorm == 100.0 and optimizer.beta_1 == 0.9
    model = tiny_model(optimizer)
    assert isinstance(model.optimizer, SkipNonFiniteSteps)
    assert model.optimizer.inner_optimizer is optimizer


def test_warmup_and_cosine_decay_make_the_learning_rate_a_schedule():
    optimizer = recipe_optimizer(1e-3, warmup_steps=10, lr_decay="cosine", decay_steps=90)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, WarmupCosineDecay)
    assert schedule.get_config() == {
        "learning_rate": 1e-3,
        "warmup_steps": 10,
        "decay_steps": 90,
        "final_fraction": 0.0,
    }
    assert float(optimizer.learning_rate) == pytest.approx(1e-4)  # step 0 of the warm-up


def test_fused_adam_with_an_ema_is_wrapped_and_a_skipped_step_moves_no_average():
    optimizer = recipe_optimizer(0.1, ema_momentum=0.5)
    assert type(optimizer) is FusedAdam and optimizer.use_ema
    assert not optimizer.skips_non_finite_steps
    model = tiny_model(optimizer)
    assert isinstance(model.optimizer, SkipNonFiniteSteps)  # compile wrapped it
    variables = model.trainable_variables
    ones = [tf.ones_like(v) for v in variables]
    assert bool(model.optimizer.apply(ones, variables))
    # The first applied step: the average is the weights.
    for average, v in zip(averages(model.optimizer), variables, strict=True):
        np.testing.assert_array_equal(average, v.numpy())
    before = averages(model.optimizer), [v.numpy().copy() for v in variables]
    nan = [tf.fill(tf.shape(v), float("nan")) for v in variables]
    assert not bool(model.optimizer.apply(nan, variables))
    assert int(model.optimizer.iterations) == 1
    for old, new in zip(before[0], averages(model.optimizer), strict=True):
        np.testing.assert_array_equal(old, new)
    for old, v in zip(before[1], variables, strict=True):
        np.testing.assert_array_equal(old, v.numpy())
    # The next applied step: average = 0.5 * average + 0.5 * weights.
    assert bool(model.optimizer.apply(ones, variables))
    for old, new, v in zip(before[0], averages(model.optimizer), variables, strict=True):
        np.testing.assert_allclose(new, 0.5 * old + 0.5 * v.numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(averages(model.optimizer)[0], variables[0].numpy())


def test_a_non_finite_loss_in_fit_moves_no_average():
    """Through the training step: steps whose loss is infinite are skipped, and the average,
    like the weights, stays as it was."""
    model = tiny_model(recipe_optimizer(0.01, ema_momentum=0.9))
    model.fit(images(8), batch_size=8, epochs=1, verbose=0)
    before = averages(model.optimizer)
    for variable in model.trainable_variables:
        if variable.path.endswith("log_scale/scale"):
            variable.assign(tf.fill(variable.shape, 1e30))  # exp(s) overflows: the loss is inf
    with pytest.warns(UserWarning, match=r"skipped 2 training step\(s\)"):
        history = model.fit(images(16), batch_size=8, epochs=1, verbose=0).history
    assert history["skipped_steps"] == [2]
    assert int(model.optimizer.iterations) == 1
    for old, new in zip(before, averages(model.optimizer), strict=True):
        np.testing.assert_array_equal(old, new)


def test_the_average_iterations_and_schedule_survive_the_backup_and_model_keras(tmp_path):
    def optimizer():
        return recipe_optimizer(
            0.01,
            optimizer="adamax",
            warmup_steps=3,
            lr_decay="cosine",
            decay_steps=5,
            ema_momentum=0.9,
        )

    model = tiny_model(optimizer())
    model.fit(images(16), batch_size=8, epochs=2, verbose=0)  # 4 steps; the averages end in it
    expected = averages(model.optimizer)
    rate = float(model.optimizer.learning_rate)

    model.save_weights(str(tmp_path / "backup.weights.h5"))
    restored = tiny_model(optimizer(), seed=1)
    restored.load_weights(str(tmp_path / "backup.weights.h5"))
    assert int(restored.optimizer.iterations) == 4
    assert float(restored.optimizer.learning_rate) == pytest.approx(rate)
    for old, new in zip(expected, averages(restored.optimizer), strict=True):
        np.testing.assert_array_equal(old, new)

    model.save(str(tmp_path / "model.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "model.keras"))
    inner = loaded.optimizer.inner_optimizer
    assert type(inner) is keras.optimizers.Adamax and inner.use_ema and inner.ema_momentum == 0.9
    assert isinstance(inner._learning_rate, WarmupCosineDecay)
    assert int(loaded.optimizer.iterations) == 4
    assert float(loaded.optimizer.learning_rate) == pytest.approx(rate)
    for old, new in zip(expected, averages(loaded.optimizer), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"optimizer": "sgd"},
            "`optimizer` must be one of ['adam', 'adamax']; got optimizer='sgd'",
        ),
        ({"lr_decay": "linear"}, "`lr_decay` must be one of ['none', 'cosine']; got lr_decay="),
        ({"lr_decay": "cosine"}, "needs `decay_steps`; got decay_steps=None"),
        ({"decay_steps": 5}, "`decay_steps` needs lr_decay='cosine'; got decay_steps=5"),
        ({"ema_momentum": 1.0}, "`ema_momentum` must be None or a number in [0, 1); got "),
        ({"learning_rate": -1.0}, "`learning_rate` must be a number > 0; got learning_rate=-1.0"),
        ({"warmup_steps": -2}, "`warmup_steps` must be an integer >= 0; got warmup_steps=-2"),
    ],
    ids=["optimizer", "decay", "no_decay_steps", "stray_decay_steps", "ema", "rate", "warmup"],
)
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError) as error:
        recipe_optimizer(**kwargs)
    assert message in str(error.value)
