"""`train`'s recipe (--recipe and its parts --optimizer, --warmup-steps, --lr-decay, --ema,
--dequantization, --precision) and --time-budget: recorded, kept on reruns, the averaged weights
are what is evaluated, and `evaluate --importance-samples` tightens a variational bound."""

import contextlib
import io
import json
import re

import keras
import numpy as np
import pytest

from tfp_realnvp.training.precision import choose_precision

RECIPE = ["--optimizer", "adamax", "--warmup-steps", "2", "--lr-decay", "cosine", "--ema", "0.9"]


def read(logdir, name):
    with open(logdir / name) as file:
        return json.load(file)


def held_out(stdout, prefix):
    match = re.search(rf"^{re.escape(prefix)}: (\d+\.\d+)$", stdout, flags=re.MULTILINE)
    assert match, stdout
    return float(match.group(1))


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory, train_argv):
    """One tiny run with every recipe option and --precision auto: (logdir, stdout)."""
    from tfp_realnvp.cli import main

    logdir = tmp_path_factory.mktemp("recipe") / "run"
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert main(train_argv(logdir, *RECIPE, "--precision", "auto")) == 0
    return logdir, stdout.getvalue()


def test_the_recipe_is_recorded_and_the_precision_announced(recipe_run):
    logdir, stdout = recipe_run
    config = read(logdir, "config.json")
    assert config["recipe"] == {
        "optimizer": "adamax",
        "warmup_steps": 2,
        "lr_decay": "cosine",
        "ema_momentum": 0.9,
        "dequantization": "uniform",
    }
    assert (
        "Recipe: adamax, warm-up over 2 steps, cosine decay, weight averaging (momentum 0.9), "
        "uniform dequantisation." in stdout
    )
    policy, why = choose_precision("auto")
    assert f"Precision: {policy} ({why})." in stdout
    expected = None if policy == "float32" else "mixed_bfloat16"
    assert config["flow"]["network_dtype_policy"] == expected
    assert "with the averaged weights, batch-norm statistics refreshed first" in stdout
    results = read(logdir, "results.json")
    assert results["steps"] == 6 and "time_budget" not in results  # 2 epochs of 3 steps


def test_model_keras_holds_the_averages_and_evaluate_agrees(recipe_run, command):
    logdir, stdout = recipe_run
    model = keras.saving.load_model(str(logdir / "model.keras"))
    inner = model.optimizer.inner_optimizer
    assert type(inner) is keras.optimizers.Adamax and inner.ema_momentum == 0.9
    schedule = inner._learning_rate.get_config()
    assert schedule["warmup_steps"] == 2 and schedule["decay_steps"] == 4  # 6 steps - 2
    for variable, average in zip(
        model.trainable_variables, inner._model_variables_moving_average, strict=True
    ):
        np.testing.assert_array_equal(variable.numpy(), average.numpy())
    status, out, _ = command("evaluate", "--logdir", logdir)
    assert status == 0
    trained = held_out(stdout, "Held-out bits/dim (digits test)")
    assert held_out(out, "bits/dim (digits test)") == pytest.approx(trained)


@pytest.mark.parametrize(
    "change, message",
    [
        (["--ema", "0.99"], "ema_momentum=0.9 there, 0.99 asked"),
        (["--optimizer", "adam"], "optimizer='adamax' there, 'adam' asked"),
        (["--warmup-steps", "0"], "warmup_steps=2 there, 0 asked"),
    ],
    ids=["ema", "optimizer", "warmup"],
)
def test_a_rerun_with_another_recipe_is_refused(recipe_run, train_argv, command, change, message):
    logdir, _ = recipe_run
    flags = dict(zip(RECIPE[::2], RECIPE[1::2], strict=True))
    flags.update(dict(zip(change[::2], change[1::2], strict=True)))
    argv = [arg for flag, value in flags.items() for arg in (flag, value)]
    status, _, err = command(*train_argv(logdir, *argv, "--precision", "auto"))
    assert status == 2
    assert "holds a run of another architecture or recipe" in err and message in err


def test_the_papers_recipe_is_what_a_config_without_one_means(trained_run, train_argv, command):
    config = read(trained_run, "config.json")
    assert config["recipe"] == {
        "optimizer": "adam",
        "warmup_steps": 0,
        "lr_decay": "none",
        "ema_momentum": None,
        "dequantization": "uniform",
    }
    del config["recipe"]  # as an older run wrote it
    (trained_run / "config.json").write_text(json.dumps(config))
    status, out, _ = command(*train_argv(trained_run))
    assert status == 0 and "already holds a finished run" in out
    status, _, err = command(*train_argv(trained_run, "--ema", "0.5"))
    assert status == 2 and "ema_momentum=None there, 0.5 asked" in err


def test_a_time_budget_stops_early_and_each_rerun_has_the_budget_again(
    tmp_path, train_argv, command
):
    logdir = tmp_path / "run"
    argv = train_argv(logdir, "--time-budget", "0.0001")  # 6 ms: the first step crosses it
    status, out, _ = command(*argv)
    assert status == 0 and "Stopping after 0.0001 minutes of training (--time-budget)." in out
    results = read(logdir, "results.json")
    assert results["time_budget"]["stopped"] is True and results["time_budget"]["minutes"] == 1e-4
    assert results["steps"] == 1 and results["epochs"] == 1  # the stopped epoch counts
    assert np.isfinite(results["bits_per_dim"]) and results["time_budget"]["train_seconds"] > 0
    assert read(logdir, "config.json")["training"]["time_budget_minutes"] == 0.0001
    status, out, _ = command(*argv)  # resumes from the backup, its steps and epochs
    assert status == 0 and f"Resuming {logdir} after epoch 1 of 2." in out
    results = read(logdir, "results.json")
    assert results["steps"] == 2 and results["epochs"] == 2
    status, out, _ = command(*argv)  # --epochs 2 reached: finished
    assert status == 0 and "already holds a finished run of 2 epochs" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--mixed-precision", "--precision", "float32"],
            "argument --mixed-precision: it means --precision mixed_bfloat16, but --precision "
            "float32 was given too",
        ),
        (["--ema", "1"], "argument --ema: must be a number in [0, 1) or off; got '1'"),
        (["--ema", "x"], "argument --ema: must be a number in [0, 1) or off; got 'x'"),
        (["--recipe", "glow"], "argument --recipe: invalid choice: 'glow'"),
        (["--dequantization", "gauss"], "argument --dequantization: invalid choice: 'gauss'"),
        (["--time-budget", "0"], "argument --time-budget: must be a positive number; got 0"),
        (["--warmup-steps", "-1"], "argument --warmup-steps: must be a non-negative integer"),
        (["--precision", "fp16"], "argument --precision: invalid choice: 'fp16'"),
        (
            ["--warmup-steps", "6", "--lr-decay", "cosine"],
            "argument --warmup-steps: 6 leaves no step for --lr-decay cosine (the run has 6 steps)",
        ),
    ],
    ids=[
        "alias_conflict",
        "ema_one",
        "ema_text",
        "recipe",
        "dequantization",
        "budget",
        "warmup",
        "precision",
        "no_decay",
    ],
)
def test_bad_flags_are_one_line_errors(tmp_path, train_argv, command, argv, message):
    status, _, err = command(*train_argv(tmp_path / "run", *argv))
    assert status == 2
    assert err.count("\n") == 1 and message in err, err


def test_a_named_recipe_fills_the_flags_not_given(tmp_path, train_argv, command):
    from tfp_realnvp import recipes

    logdir = tmp_path / "run"
    flags = ["--warmup-steps", "1", "--lr-decay", "cosine", "--ema", "off"]
    status, out, _ = command(
        *train_argv(logdir, "--recipe", "modern", *flags, "--time-budget", "5")
    )
    assert status == 0, out
    expected = recipes.resolve("modern", warmup_steps=1, lr_decay="cosine", ema_momentum="off")
    config = read(logdir, "config.json")
    assert config["recipe"] == expected.record()
    policy, why = choose_precision(expected.precision)
    assert f"Precision: {policy} ({why})." in out
    assert config["flow"]["network_dtype_policy"] == (None if policy == "float32" else policy)
    assert "Recipe: adam, warm-up over 1 steps, cosine decay, uniform dequantisation." in out
    # With --time-budget the decay runs over the budget: the optimizer's rate is a number that
    # `CosineDecayOverBudget` sets before each step (below the peak once the warm-up is over).
    model = keras.saving.load_model(str(logdir / "model.keras"))
    rate = model.optimizer.learning_rate
    assert isinstance(float(rate), float) and 0 < float(rate) < 1e-3
    precision = ["--precision", expected.precision]
    status, _, err = command(*train_argv(logdir, "--recipe", "paper", *precision))
    assert status == 2 and "lr_decay='cosine' there, 'none' asked" in err


def test_variational_dequantisation_trains_and_evaluate_tightens_its_bound(
    tmp_path, train_argv, command
):
    logdir = tmp_path / "run"
    status, out, _ = command(*train_argv(logdir, "--dequantization", "variational"))
    assert status == 0
    assert read(logdir, "config.json")["recipe"]["dequantization"] == "variational"
    trained = held_out(out, "Held-out bits/dim (digits test, the variational bound)")
    status, out, _ = command("evaluate", "--logdir", logdir, "--importance-samples", "16")
    assert status == 0
    assert held_out(out, "bits/dim (digits test, the variational bound)") == pytest.approx(trained)
    tighter = held_out(out, "bits/dim (digits test, the bound with 16 importance samples)")
    assert tighter < trained
