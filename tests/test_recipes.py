"""The named training recipes and their overrides (TensorFlow-free)."""

import dataclasses

import pytest

from tfp_realnvp import recipes


def test_the_paper_recipe_is_the_papers():
    assert recipes.RECIPES["paper"] == recipes.Recipe(
        optimizer="adam",
        warmup_steps=0,
        lr_decay="none",
        ema_momentum=None,
        precision="float32",
        dequantization="uniform",
    )


def test_given_overrides_replace_their_fields_and_none_keeps_the_recipes():
    base = recipes.RECIPES["modern"]
    recipe = recipes.resolve("modern", optimizer="adamax", warmup_steps=None, ema_momentum=0.9)
    assert recipe == dataclasses.replace(base, optimizer="adamax", ema_momentum=0.9)
    assert recipes.resolve("paper", ema_momentum=recipes.OFF).ema_momentum is None
    assert recipes.resolve() == recipes.RECIPES[recipes.DEFAULT_RECIPE]


def test_the_record_is_what_a_rerun_must_keep():
    record = recipes.RECIPES["paper"].record()
    assert record == recipes.PAPER_RECORD
    assert "precision" not in record  # the flow's config records the networks' dtype policy
    assert set(record) == {f.name for f in dataclasses.fields(recipes.Recipe)} - {"precision"}


def test_unknown_names_and_fields_are_refused_by_name():
    with pytest.raises(ValueError, match=r"`recipe` must be one of .*; got recipe='glow'"):
        recipes.resolve("glow")
    with pytest.raises(ValueError, match=r"'momentum' is not a recipe field"):
        recipes.resolve("paper", momentum=0.9)
