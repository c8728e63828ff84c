"""The paper's training recipe (section 4.1 and the authors' code)."""

from tfp_realnvp.training.fused_adam import FusedAdam

DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_GLOBAL_CLIPNORM = 100.0


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
