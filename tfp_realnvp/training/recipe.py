"""The paper's training recipe (section 4.1 and the authors' code), and the later flows' options."""

import keras

from tfp_realnvp.training.fused_adam import FusedAdam
from tfp_realnvp.training.schedules import WarmupCosineDecay

DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_GLOBAL_CLIPNORM = 100.0

# The optimizers `recipe_optimizer` builds: name -> the Keras class (beta 0.9 / 0.999 for both).
OPTIMIZERS = {"adam": FusedAdam, "adamax": keras.optimizers.Adamax}
LR_DECAYS = ("none", "cosine")


def default_optimizer(learning_rate=DEFAULT_LEARNING_RATE):
    """Adam (beta1 0.9, beta2 0.999) with global gradient-norm clipping at 100, as in the paper.

    Keras's Adam with each variable's update fused into one kernel (`FusedAdam`): the same
    map, a training graph a fraction of the size, so a shorter first step; it skips a step
    whose loss or gradients are not finite itself.
    """
    return FusedAdam(
        learning_rate=learning_rate,
        beta_1=0.9,
        beta_2=0.999,
        global_clipnorm=DEFAULT_GLOBAL_CLIPNORM,
    )


def recipe_optimizer(
    learning_rate=DEFAULT_LEARNING_RATE,
    *,
    optimizer="adam",
    warmup_steps=0,
    lr_decay="none",
    decay_steps=None,
    ema_momentum=None,
):
    """The optimizer of a training recipe: the paper's with its defaults, the later flows' options.

        optimizer     "adam" (the paper; `FusedAdam`) or "adamax" (Glow; Keras's `Adamax`),
                      beta 0.9 / 0.999, global gradient-norm clipping at 100
        warmup_steps  a linear warm-up over that many steps (Glow, Flow++); 0: none
        lr_decay      "none", or "cosine" over `decay_steps` steps after the warm-up (Jet,
                      TarFlow); see `WarmupCosineDecay`
        ema_momentum  None, or Polyak averaging of the weights (Keras's `use_ema`) with this
                      momentum (Flow++: 0.999); `AveragedWeights` evaluates and saves them

    With every default it is `default_optimizer(learning_rate)`. `RealNVPModel.compile` wraps
    what does not skip non-finite steps itself (Adamax; Adam with an EMA) in
    `SkipNonFiniteSteps`; a skipped step moves neither the weights nor their average.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"`optimizer` must be one of {sorted(OPTIMIZERS)}; got optimizer={optimizer!r}."
        )
    if lr_decay not in LR_DECAYS:
        raise ValueError(f"`lr_decay` must be one of {list(LR_DECAYS)}; got lr_decay={lr_decay!r}.")
    if lr_decay == "cosine" and decay_steps is None:
        raise ValueError("`lr_decay='cosine'` needs `decay_steps`; got decay_steps=None.")
    if lr_decay == "none" and decay_steps is not None:
        raise ValueError(
            f"`decay_steps` needs lr_decay='cosine'; got decay_steps={decay_steps!r} with "
            "lr_decay='none'."
        )
    if ema_momentum is not None and not (
        isinstance(ema_momentum, (int, float)) and 0 <= ema_momentum < 1
    ):
        raise ValueError(
            f"`ema_momentum` must be None or a number in [0, 1); got ema_momentum={ema_momentum!r}."
        )
    rate = learning_rate
    if warmup_steps or lr_decay != "none":
        rate = WarmupCosineDecay(learning_rate, warmup_steps=warmup_steps, decay_steps=decay_steps)
    elif not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(
            f"`learning_rate` must be a number > 0; got learning_rate={learning_rate!r}."
        )
    averaging = {} if ema_momentum is None else {"use_ema": True, "ema_momentum": ema_momentum}
    return OPTIMIZERS[optimizer](
        learning_rate=rate,
        beta_1=0.9,
        beta_2=0.999,
        global_clipnorm=DEFAULT_GLOBAL_CLIPNORM,
        **averaging,
    )
