"""The kinds of step a multi-scale flow is made of, by name: couplings, normalizations and
channel mixings. A new kind is added by registering it, with no edit of the flow.

    >>> @register_coupling("my_affine", params_per_unit=2)
    ... def my_affine(keep_mask, conditioner, options, *, dtype, name):
    ...     return tfp_realnvp.MaskedAffineCoupling(keep_mask, conditioner, dtype=dtype, name=name)
    >>> flow = tfp_realnvp.RealNVPMultiScale([4, 4, 1], coupling="my_affine", num_res_blocks=0)

A flow's `coupling=`, `normalization=` and `channel_mixing=` take a registered name, a kind
(`CouplingKind`, ...) or a bijector class: a `MaskedCoupling` subclass is built as
`cls(keep_mask, conditioner, dtype=, name=)` with `cls.params_per_unit` network outputs per
transformed unit; a normalization or mixing class as `cls(event_shape, dtype=, name=)`.
A flow saves the registered name of its kinds (`get_config`), so registering a kind (at import
of the module that defines it) is what lets saved models find it again.
"""

import dataclasses
from collections.abc import Callable

from tfp_realnvp.bijectors.act_norm import ActNorm
from tfp_realnvp.bijectors.invertible_conv_1x1 import InvertibleConv1x1
from tfp_realnvp.bijectors.masked_additive_coupling import MaskedAdditiveCoupling
from tfp_realnvp.bijectors.masked_affine_coupling import MaskedAffineCoupling
from tfp_realnvp.bijectors.masked_coupling import MaskedCoupling
from tfp_realnvp.bijectors.masked_spline_coupling import MaskedSplineCoupling
from tfp_realnvp.bijectors.moving_average_batch_norm import MovingAverageBatchNorm


@dataclasses.dataclass(frozen=True)
class CouplingKind:
    """How a flow builds one kind of coupling.

    Attributes:
      build: `build(keep_mask, conditioner, options, *, dtype, name)` -> a `MaskedCoupling`;
        `options` is the flow's `FlowOptions`.
      params_per_unit: network outputs per transformed unit: an int, or a function of the
        flow's options (a spline's 3K - 1 for K bins).
    """

    build: Callable
    params_per_unit: int | Callable

    def outputs_per_unit(self, options):
        per_unit = self.params_per_unit
        return per_unit(options) if callable(per_unit) else per_unit


@dataclasses.dataclass(frozen=True)
class NormalizationKind:
    """How a flow builds the normalisation after each coupling.

    Attributes:
      build: `build(event_shape, keep_mask, options, *, dtype, name)` -> a bijector on events
        `event_shape`; `keep_mask` marks the units the coupling passed through (1) and
        transformed (0).
      networks_use_batch_norm: whether the coupling networks use batch norm as well.
    """

    build: Callable
    networks_use_batch_norm: bool = False


@dataclasses.dataclass(frozen=True)
class ChannelMixingKind:
    """How a flow builds the mixing before each channel-wise coupling.

    Attributes:
      build: `build(event_shape, options, *, dtype, name)` -> a bijector on events
        `event_shape` (the squeezed [H, W, C]).
    """

    build: Callable


class StepRegistry:
    """Registered step kinds of one role (`what`), by name; `None` means no such step."""

    def __init__(self, what, kind_type, from_class, allows_none):
        self.what = what
        self._kind_type = kind_type
        self._from_class = from_class
        self._allows_none = allows_none
        self._kinds = {}
        self._classes = {}

    def register(self, name, kind):
        """Registers `kind` (a kind, or a bijector class) under `name`; returns `kind`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.what} is registered under a name; got name={name!r}.")
        resolved = self._kind_of(kind)
        self._kinds[name] = resolved
        if isinstance(kind, type):
            self._classes.setdefault(kind, name)  # saved under its first name
        return kind

    def decorator(self, name, **fields):
        """A decorator that registers a build function under `name`, as a kind with `fields`."""

        def register(build):
            self.register(name, self._kind_type(build, **fields))
            return build

        return register

    def names(self):
        return (*self._kinds, *([None] if self._allows_none else []))

    def resolve(self, value):
        """The kind of a registered name, a kind or a class; None for None where allowed."""
        if value is None and self._allows_none:
            return None
        if isinstance(value, str):
            if value not in self._kinds:
                raise ValueError(
                    f"`{self.what}` must be one of {self.names()} (registered names) or a "
                    f"{self._kind_type.__name__} or bijector class; got {self.what}={value!r}."
                )
            return self._kinds[value]
        return self._kind_of(value, argument=True)

    def name_of(self, value, default=None):
        """The registered name that `value` (a name, kind or class) is saved under; `default`
        (or, without one, a ValueError saying what to do) for one that is not registered."""
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, type) and value in self._classes:
            return self._classes[value]
        for name, kind in self._kinds.items():
            if kind == value:
                return name
        if default is not None:
            return default
        raise ValueError(
            f"`{self.what}`={value!r} is not registered, so a saved flow could not find it "
            f"again: register it first (tfp_realnvp.multiscale.register_{self.what}(name, ...))."
        )

    def _kind_of(self, value, argument=False):
        if isinstance(value, self._kind_type):
            return value
        if isinstance(value, type):
            if value in self._classes:  # registered: the same kind as its name gives
                return self._kinds[self._classes[value]]
            return self._from_class(value)
        label = f"`{self.what}`" if argument else f"A registered {self.what}"
        raise ValueError(
            f"{label} must be a registered name, a {self._kind_type.__name__} or a bijector "
            f"class; got {self.what}={value!r}."
        )


def _coupling_from_class(cls):
    if not (issubclass(cls, MaskedCoupling) and isinstance(cls.params_per_unit, int)):
        raise ValueError(
            "A coupling class must be a MaskedCoupling subclass with an integer "
            f"`params_per_unit`; got coupling={cls!r}."
        )
    return CouplingKind(
        build=lambda keep_mask, conditioner, options, *, dtype, name: cls(
            keep_mask, conditioner, dtype=dtype, name=name
        ),
        params_per_unit=cls.params_per_unit,
    )


def _normalization_from_class(cls):
    return NormalizationKind(
        build=lambda event_shape, keep_mask, options, *, dtype, name: cls(
            event_shape, dtype=dtype, name=name
        )
    )


def _channel_mixing_from_class(cls):
    return ChannelMixingKind(
        build=lambda event_shape, options, *, dtype, name: cls(event_shape, dtype=dtype, name=name)
    )


COUPLINGS = StepRegistry("coupling", CouplingKind, _coupling_from_class, allows_none=False)
NORMALIZATIONS = StepRegistry(
    "normalization", NormalizationKind, _normalization_from_class, allows_none=True
)
CHANNEL_MIXINGS = StepRegistry(
    "channel_mixing", ChannelMixingKind, _channel_mixing_from_class, allows_none=True
)


def register_coupling(name, kind=None, *, params_per_unit=None):
    """Registers a coupling kind under `name`: a `CouplingKind`, a `MaskedCoupling` class, or
    (as a decorator, with `params_per_unit`) a `build(keep_mask, conditioner, options, *,
    dtype, name)` function."""
    if kind is not None:
        return COUPLINGS.register(name, kind)
    return COUPLINGS.decorator(name, params_per_unit=params_per_unit)


def register_normalization(name, kind=None, *, networks_use_batch_norm=False):
    """Registers a normalization kind under `name`: a `NormalizationKind`, a bijector class, or
    (as a decorator) a `build(event_shape, keep_mask, options, *, dtype, name)` function."""
    if kind is not None:
        return NORMALIZATIONS.register(name, kind)
    return NORMALIZATIONS.decorator(name, networks_use_batch_norm=networks_use_batch_norm)


def register_channel_mixing(name, kind=None):
    """Registers a channel-mixing kind under `name`: a `ChannelMixingKind`, a bijector class,
    or (as a decorator) a `build(event_shape, options, *, dtype, name)` function."""
    if kind is not None:
        return CHANNEL_MIXINGS.register(name, kind)
    return CHANNEL_MIXINGS.decorator(name)


# -- the built-in kinds ---------------------------------------------------------------------


@register_coupling("affine", params_per_unit=MaskedAffineCoupling.params_per_unit)
def _affine(keep_mask, conditioner, options, *, dtype, name):
    """The paper's affine coupling, its scales under the flow's L2 penalty."""
    return MaskedAffineCoupling(
        keep_mask, conditioner, scale_regularizer=options.regularizer, dtype=dtype, name=name
    )


register_coupling("additive", MaskedAdditiveCoupling)


@register_coupling(
    "spline",
    params_per_unit=lambda options: MaskedSplineCoupling.params_for_bins(options.spline_bins),
)
def _spline(keep_mask, conditioner, options, *, dtype, name):
    """Rational-quadratic splines with the flow's `spline_bins` bins."""
    return MaskedSplineCoupling(
        keep_mask, conditioner, num_bins=options.spline_bins, dtype=dtype, name=name
    )


@register_normalization("batch_norm", networks_use_batch_norm=True)
def _batch_norm(event_shape, keep_mask, options, *, dtype, name):
    """The paper's batch norm of the units the coupling transformed."""
    return MovingAverageBatchNorm(
        event_shape,
        keep_mask=keep_mask,
        momentum=options.batch_norm_momentum,
        epsilon=options.batch_norm_epsilon,
        training_statistics=options.batch_norm_statistics,
        dtype=dtype,
        name=name,
    )


register_normalization("act_norm", ActNorm)
register_channel_mixing("invertible_1x1", InvertibleConv1x1)
