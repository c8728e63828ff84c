"""Training recipes: the options that change how a flow learns, not what it computes.

    paper   the paper's (section 4.1 and the authors' code): Adam at a constant learning rate,
            the last weights, uniform dequantisation, float32 networks
    modern  the default: the paper's, with bfloat16 coupling networks where the hardware has
            fast bfloat16 (`precision="auto"`), the one change of the later flows that gave
            lower held-out bits/dim at equal wall-clock time on both MNIST and CIFAR-10 here
            (benchmarks/RESULTS.md); warm-up, cosine decay, weight averaging, Adamax and
            variational dequantisation stay options

The command line's `--recipe` picks one; each of its recipe flags (`--optimizer`,
`--warmup-steps`, `--lr-decay`, `--ema`, `--precision`, `--dequantization`) overrides one
field. TensorFlow-free, so that `tfp-realnvp --help` stays fast.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training recipe.

    Attributes:
      optimizer: "adam" (the paper) or "adamax" (Glow).
      warmup_steps: steps of a linear learning-rate warm-up (0: none).
      lr_decay: "none", or "cosine": to 0 over the run after the warm-up (over the time
        budget when the run has one).
      ema_momentum: None, or the momentum of the weights' Polyak average, which validation,
        the saved model, `evaluate` and `sample` use.
      precision: "float32", "mixed_bfloat16", or "auto" (mixed_bfloat16 where fast).
      dequantization: "uniform" (x + u, u ~ U[0, 1)) or "variational" (u ~ q(u | x), a
        learned conditional flow; Flow++).
    """

    optimizer: str = "adam"
    warmup_steps: int = 0
    lr_decay: str = "none"
    ema_momentum: float | None = None
    precision: str = "float32"
    dequantization: str = "uniform"

    def record(self):
        """config.json's "recipe": the fields a resumed run must keep (precision is recorded
        by the flow's own config, as its networks' dtype policy)."""
        record = dataclasses.asdict(self)
        del record["precision"]
        return record


RECIPES = {
    "paper": Recipe(),
    "modern": Recipe(precision="auto"),
}
DEFAULT_RECIPE = "modern"
# `resolve`'s override of `ema_momentum` that turns a recipe's averaging off.
OFF = "off"
# The recipe of a config.json written before it recorded one, or recorded fewer fields.
PAPER_RECORD = RECIPES["paper"].record()


def resolve(name=DEFAULT_RECIPE, **overrides):
    """The recipe `name` with the fields in `overrides` that are not None replaced
    (`ema_momentum=OFF` turns averaging off).

    Raises:
      ValueError: `name` is not a recipe, or an override is not a field.
    """
    if name not in RECIPES:
        raise ValueError(f"`recipe` must be one of {sorted(RECIPES)}; got recipe={name!r}.")
    fields = {field.name for field in dataclasses.fields(Recipe)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a recipe field; the fields are {sorted(fields)}.")
    given = {key: value for key, value in overrides.items() if value is not None}
    if given.get("ema_momentum") == OFF:
        given["ema_momentum"] = None
    return dataclasses.replace(RECIPES[name], **given)
