"""The options of a multi-scale flow, checked once, in one frozen dataclass."""

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import image_event_shape
from tfp_realnvp.multiscale.steps import (
    CHANNEL_MIXINGS,
    COUPLINGS,
    NORMALIZATIONS,
    ChannelMixingKind,
    CouplingKind,
    NormalizationKind,
)
from tfp_realnvp.networks.context_projection import conditional_event_shape
from tfp_realnvp.networks.l2_penalty import L2Penalty

SPLIT_PRIORS = ("standard", "learned")
# memory_saving_gradients: what is recomputed in the backward pass (True means "couplings").
MEMORY_SAVINGS = (False, True, "couplings", "blocks")
# squeeze_order -> (order of the squeeze before the channel-wise couplings,
#                   order of the squeeze at the factor-out, which half is factored out)
SQUEEZE_ORDERS = {
    "space_to_depth": ("space_to_depth", "space_to_depth", "first"),
    "authors": ("authors", "authors_diagonal_first", "second"),
}


@dataclasses.dataclass(frozen=True)
class FlowOptions:
    """Everything `RealNVPMultiScale` is built from, checked and resolved.

    Constructed from the flow's arguments (see `RealNVPMultiScale` for each one's meaning);
    a value that is not allowed raises a `ValueError` naming the argument and the value.
    Resolved here: the step kinds (`coupling`, `normalization`, `channel_mixing`: a
    registered name or a class/factory, see `tfp_realnvp.multiscale.steps`), the older
    `use_batch_norm` switch, the memory-saving level (None, "couplings" or "blocks"), the
    networks' dtype policy and the context's shape.
    """

    event_shape: tuple[int, int, int]
    num_scales: int = 2
    num_res_blocks: int = 8
    num_filters: int = 64
    coupling: str | type | CouplingKind = "affine"
    spline_bins: int = 8
    conditioner_fn: Callable[..., keras.layers.Layer] | None = None
    squeeze_order: str = "space_to_depth"
    normalization: str | type | NormalizationKind | None = "batch_norm"
    channel_mixing: str | type | ChannelMixingKind | None = None
    split_prior: str = "standard"
    logit_alpha: float | None = 0.05
    use_batch_norm: bool | None = None
    batch_norm_momentum: float = 0.9
    batch_norm_epsilon: float = 1e-4
    batch_norm_statistics: str = "batch"
    l2_regularization: float = 5e-5
    memory_saving_gradients: bool | str | None = False
    network_dtype_policy: str | keras.DTypePolicy | None = None
    conditional_shape: tuple[int, ...] | None = None
    dtype: tf.DType | str = tf.float32

    def __post_init__(self):
        set_field = object.__setattr__.__get__(self)  # frozen: fields are resolved once, here
        set_field("num_scales", _checked_num_scales(self.num_scales))
        set_field("event_shape", _checked_event_shape(self.event_shape, self.num_scales))
        for name, minimum in (("num_res_blocks", 0), ("num_filters", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
        set_field("coupling", COUPLINGS.resolve(self.coupling))
        spline_bins = self.spline_bins
        if isinstance(spline_bins, bool) or not isinstance(spline_bins, int) or spline_bins < 2:
            raise ValueError(
                f"`spline_bins` must be an integer >= 2; got spline_bins={spline_bins!r}."
            )
        if self.conditioner_fn is not None and not callable(self.conditioner_fn):
            raise ValueError(
                "`conditioner_fn` must be None or a callable returning a Keras layer; "
                f"got conditioner_fn={self.conditioner_fn!r}."
            )
        if self.squeeze_order not in SQUEEZE_ORDERS:
            raise ValueError(
                f"`squeeze_order` must be one of {tuple(SQUEEZE_ORDERS)}; "
                f"got squeeze_order={self.squeeze_order!r}."
            )
        set_field("normalization", _checked_normalization(self.normalization, self.use_batch_norm))
        set_field("use_batch_norm", None)  # folded into `normalization`
        set_field("channel_mixing", CHANNEL_MIXINGS.resolve(self.channel_mixing))
        if self.split_prior not in SPLIT_PRIORS:
            raise ValueError(
                f"`split_prior` must be one of {SPLIT_PRIORS}; "
                f"got split_prior={self.split_prior!r}."
            )
        set_field(
            "memory_saving_gradients",
            _checked_memory_saving(self.memory_saving_gradients, self.conditioner_fn),
        )
        if self.l2_regularization < 0:
            raise ValueError(f"`l2_regularization` must be >= 0; got {self.l2_regularization!r}.")
        dtype = tf.as_dtype(self.dtype)
        if dtype not in (tf.float32, tf.float64):
            raise ValueError(f"`dtype` must be float32 or float64; got dtype={dtype.name}.")
        set_field("dtype", dtype)
        set_field("network_dtype_policy", _checked_network_policy(self.network_dtype_policy, dtype))
        if self.conditional_shape is not None:
            set_field("conditional_shape", tuple(conditional_event_shape(self.conditional_shape)))

    @property
    def squeeze_orders(self):
        """(squeeze before the channel-wise couplings, squeeze at the factor-out, factored half)."""
        return SQUEEZE_ORDERS[self.squeeze_order]

    @property
    def regularizer(self):
        """The L2 penalty of weight-norm magnitudes and coupling scales, or None."""
        return L2Penalty(self.l2_regularization) if self.l2_regularization else None

    @property
    def networks_use_batch_norm(self):
        """Whether the coupling networks normalise their features with batch statistics."""
        return self.normalization is not None and self.normalization.networks_use_batch_norm


def _checked_num_scales(num_scales):
    if isinstance(num_scales, bool) or not isinstance(num_scales, int) or num_scales < 1:
        raise ValueError(f"`num_scales` must be an integer >= 1; got num_scales={num_scales!r}.")
    return num_scales


def _checked_event_shape(event_shape, num_scales):
    shape = image_event_shape(event_shape)
    factor = 2 ** (num_scales - 1)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"With num_scales={num_scales}, height and width are squeezed {num_scales - 1} "
            f"time(s) and must be divisible by {factor}; got event_shape={shape}."
        )
    return tuple(shape)


def _checked_normalization(normalization, use_batch_norm):
    """The normalization's kind (or None), reconciled with the older `use_batch_norm` switch."""
    kind = NORMALIZATIONS.resolve(normalization)
    if use_batch_norm is None:
        return kind
    if use_batch_norm not in (True, False):
        raise ValueError(
            f"`use_batch_norm` must be True, False or None; got use_batch_norm={use_batch_norm!r}."
        )
    batch_norm = NORMALIZATIONS.resolve("batch_norm")
    if use_batch_norm and kind is not batch_norm:
        raise ValueError(
            f"`use_batch_norm=True` contradicts normalization={normalization!r}; "
            "pass `normalization` alone."
        )
    # use_batch_norm=False turns batch norm off (the default normalization) and nothing else.
    return None if kind is batch_norm and not use_batch_norm else kind


def _checked_memory_saving(memory_saving_gradients, conditioner_fn):
    """None (keep every activation), "couplings" or "blocks" (see `RealNVPMultiScale`)."""
    value = memory_saving_gradients
    if isinstance(value, str) and value in MEMORY_SAVINGS:
        level = value
    elif isinstance(value, bool):
        level = "couplings" if value else None
    elif value is None:
        level = None
    else:
        raise ValueError(
            f"`memory_saving_gradients` must be one of {MEMORY_SAVINGS}; "
            f"got memory_saving_gradients={value!r}."
        )
    if level == "blocks" and conditioner_fn is not None:
        raise ValueError(
            "memory_saving_gradients='blocks' recomputes the residual blocks of the paper's "
            "networks, and a `conditioner_fn` builds networks of its own; got "
            f"conditioner_fn={conditioner_fn!r}. Use memory_saving_gradients=True."
        )
    return level


def _checked_network_policy(network_dtype_policy, dtype):
    """The Keras dtype policy of the coupling networks; its variables must be in `dtype`."""
    if network_dtype_policy is None:
        return keras.DTypePolicy(dtype.name)
    try:
        policy = keras.dtype_policies.get(network_dtype_policy)
    except ValueError as error:
        raise ValueError(
            "`network_dtype_policy` must be a Keras dtype policy such as 'mixed_bfloat16'; "
            f"got network_dtype_policy={network_dtype_policy!r}."
        ) from error
    if policy.variable_dtype != dtype.name:
        raise ValueError(
            f"`network_dtype_policy` must keep the networks' weights in dtype={dtype.name}; "
            f"got network_dtype_policy={policy.name!r} (weights in {policy.variable_dtype})."
        )
    return policy
