"""A registry of every bijector of the package, for the contract tests."""

import dataclasses
import os
import socket
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from tfp_realnvp import (
    ActNorm,
    FactorOut,
    FlowSequence,
    InvertibleConv1x1,
    LogitPreprocess,
    MaskedAdditiveCoupling,
    MaskedAffineCoupling,
    MaskedSplineCoupling,
    MovingAverageBatchNorm,
    RealNVPMultiScale,
    RecomputedCoupling,
    ResNetConditioner,
    Squeeze,
    channel_mask,
    checkerboard_mask,
)

tfb = tfp.bijectors
EVENT = [8, 8, 2]
CONTEXT = [3]  # a vector context of conditional cases
CONTEXT_MAP = [4, 4, 3]  # a feature-map context: resized up to 8x8, kept at 4x4


@dataclasses.dataclass
class Case:
    """A bijector factory and what its inputs look like."""

    name: str
    make: Callable[[tf.DType], tfb.Bijector]
    event_shape: list = dataclasses.field(default_factory=lambda: list(EVENT))
    pixels: bool = False  # inverse inputs are pixels in [0, 1]
    conditional_shape: list | None = None  # a conditional bijector's context shape
    # A composition of steps each tested in graph mode on its own: its graph-mode (tf.function)
    # contract tests run with `pytest -m slow` (and in CI), its eager ones always.
    graph_tests_slow: bool = False
    # Its log-det against autodiff (float64 Jacobians of the whole flow) runs with the slow set.
    slogdet_slow: bool = False

    def kwargs(self, batch_shape, dtype, seed=0):
        """Keyword arguments of every call: a context [*batch_shape, *conditional_shape] if
        the bijector is conditional (one per seed), else none."""
        if self.conditional_shape is None:
            return {}
        shape = [*batch_shape, *self.conditional_shape]
        return {"conditional_input": tf.random.stateless_normal(shape, [seed, 3], dtype=dtype)}

    def data(self, batch_shape, dtype, seed=0):
        """Inputs of `inverse`: images [*batch_shape, H, W, C]."""
        shape = [*batch_shape, *self.event_shape]
        if self.pixels:
            return tf.random.stateless_uniform(shape, [seed, 1], 0.02, 0.98, dtype=dtype)
        return tf.random.stateless_normal(shape, [seed, 2], dtype=dtype)


def takes_training(bijector):
    return isinstance(bijector, tfp_realnvp.FlowBijector)


def small_conditioner(mask, dtype, checkerboard=True, output_channels=None):
    return ResNetConditioner(
        4,
        1,
        mask_channel=mask[..., 0] if checkerboard else None,
        output_channels=output_channels,
        dtype=tf.as_dtype(dtype).name,
    )


def _checkerboard_coupling(dtype):
    mask = checkerboard_mask(EVENT, parity=1)
    return MaskedAffineCoupling(mask, small_conditioner(mask, dtype), dtype=dtype)


def _channel_coupling(dtype):
    mask = channel_mask(EVENT, keep_first_half=False)
    return MaskedAffineCoupling(mask, small_conditioner(mask, dtype, False), dtype=dtype)


def _dense_coupling(dtype):
    """A coupling around a user's own Keras network (not the package's ResNet)."""
    mask = checkerboard_mask(EVENT, parity=0)
    network = keras.Sequential(
        [
            keras.layers.Conv2D(6, 3, padding="same", activation="tanh", dtype=dtype.name),
            keras.layers.Conv2D(4, 3, padding="same", kernel_initializer="zeros", dtype=dtype.name),
        ]
    )
    return MaskedAffineCoupling(mask, network, dtype=dtype)


def _additive_coupling(dtype):
    mask = checkerboard_mask(EVENT, parity=1)
    network = small_conditioner(mask, dtype, output_channels=EVENT[-1])
    return MaskedAdditiveCoupling(mask, network, dtype=dtype)


SPLINE_BINS = 4


def _spline_coupling(dtype):
    mask = channel_mask(EVENT, keep_first_half=True)
    network = small_conditioner(mask, dtype, False, output_channels=(3 * SPLINE_BINS - 1) * 2)
    return MaskedSplineCoupling(mask, network, num_bins=SPLINE_BINS, bound=2.0, dtype=dtype)


def _recomputed_spline_coupling(dtype):
    return RecomputedCoupling(_spline_coupling(dtype))


@keras.saving.register_keras_serializable(package="tfp_realnvp_tests")
def plain_conv_conditioner(*, output_channels, num_filters, dtype, name, **_):
    """A user's own coupling network: two plain convolutions, the last one zero-initialised."""
    return keras.Sequential(
        [
            keras.layers.Conv2D(num_filters, 3, padding="same", activation="tanh", dtype=dtype),
            keras.layers.Conv2D(
                output_channels, 3, padding="same", kernel_initializer="zeros", dtype=dtype
            ),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="tfp_realnvp_tests")
def wide_resnet_conditioner(
    *, event_shape, keep_mask, mask_kind, num_filters, output_channels, dtype, name
):
    """A user's `conditioner_fn` that takes every keyword it is given: a ResNet of 1.5x width."""
    assert list(keep_mask.shape) == list(event_shape)
    return ResNetConditioner(
        num_filters + num_filters // 2,
        1,
        mask_channel=keep_mask[..., 0] if mask_kind == "checkerboard" else None,
        output_channels=output_channels,
        dtype=dtype,
        name=name,
    )


def _batch_norm(dtype):
    return MovingAverageBatchNorm(EVENT, momentum=0.5, dtype=dtype)


def _masked_batch_norm(dtype):
    return MovingAverageBatchNorm(
        EVENT, keep_mask=checkerboard_mask(EVENT), momentum=0.5, dtype=dtype
    )


def _running_average_batch_norm(dtype):
    return MovingAverageBatchNorm(
        EVENT,
        keep_mask=channel_mask(EVENT),
        momentum=0.5,
        training_statistics="running_average",
        dtype=dtype,
    )


def _act_norm(dtype):
    """Initialised on shifted, scaled data, so that its parameters are far from the identity's."""
    norm = ActNorm(EVENT, dtype=dtype)
    scales = tf.constant([0.5, 3.0], dtype)
    norm.inverse(
        2.0 + scales * tf.random.stateless_normal([16, *EVENT], [9, 9], dtype=dtype), training=True
    )
    return norm


def _invertible_conv_1x1(dtype):
    return InvertibleConv1x1([4, 4, 3], seed=0, dtype=dtype)


def _glow_step(dtype):
    """Glow's step: act norm, then an invertible 1x1 convolution, then a channel-wise coupling."""
    return FlowSequence(
        [
            ActNorm(EVENT, dtype=dtype),
            InvertibleConv1x1(EVENT, seed=1, dtype=dtype),
            _channel_coupling(dtype),
        ]
    )


def _factor_out(dtype):
    inner = [8, 8, 1]
    mask = checkerboard_mask(inner)
    return FactorOut(MaskedAffineCoupling(mask, small_conditioner(mask, dtype), dtype=dtype))


def _sequence(dtype):
    mask = channel_mask([4, 4, 8])
    return FlowSequence(
        [
            _checkerboard_coupling(dtype),
            _masked_batch_norm(dtype),
            Squeeze(),
            MaskedAffineCoupling(mask, small_conditioner(mask, dtype, False), dtype=dtype),
            tfb.Invert(Squeeze()),
        ]
    )


def _conditional_coupling(dtype):
    """A channel-wise coupling whose network also takes a vector context."""
    mask = channel_mask(EVENT, keep_first_half=True)
    network = ResNetConditioner(4, 1, conditional_shape=CONTEXT, dtype=tf.as_dtype(dtype).name)
    return RecomputedCoupling(MaskedAffineCoupling(mask, network, dtype=dtype))


def _multiscale(num_scales, **kwargs):
    def make(dtype):
        return RealNVPMultiScale(
            EVENT,
            num_scales=num_scales,
            num_res_blocks=1,
            num_filters=4,
            batch_norm_momentum=0.5,
            dtype=dtype,
            **kwargs,
        )

    return make


def _composed_option(name, slogdet_slow=False, **options):
    """A two-scale flow with one option: its steps have graph-mode tests of their own."""
    return Case(
        name,
        _multiscale(2, **options),
        pixels=True,
        graph_tests_slow=True,
        slogdet_slow=slogdet_slow,
    )


CASES = [
    Case("coupling_checkerboard", _checkerboard_coupling),
    Case("coupling_channel", _channel_coupling),
    Case("coupling_user_network", _dense_coupling),
    Case("batch_norm", _batch_norm),
    Case("batch_norm_masked", _masked_batch_norm),
    Case("batch_norm_running_average", _running_average_batch_norm),
    Case("act_norm", _act_norm),
    Case("invertible_conv_1x1", _invertible_conv_1x1, event_shape=[4, 4, 3]),
    Case("glow_step", _glow_step),
    Case("squeeze", lambda dtype: Squeeze()),
    Case("factor_out", _factor_out),
    Case("logit", lambda dtype: LogitPreprocess(0.05), pixels=True),
    Case("sequence", _sequence),
    Case("multiscale_2", _multiscale(2), pixels=True),
    Case("multiscale_3", _multiscale(3), pixels=True, graph_tests_slow=True),
    Case(
        "multiscale_no_logit_no_bn",
        _multiscale(2, logit_alpha=None, use_batch_norm=False),
        graph_tests_slow=True,
    ),
    Case("coupling_additive", _additive_coupling),
    Case("coupling_spline", _spline_coupling),
    Case("coupling_spline_recomputed", _recomputed_spline_coupling),
    _composed_option("multiscale_additive", coupling="additive", slogdet_slow=True),
    _composed_option("multiscale_spline", coupling="spline", spline_bins=3, slogdet_slow=True),
    _composed_option("multiscale_authors_order", squeeze_order="authors"),
    _composed_option("multiscale_act_norm", normalization="act_norm", slogdet_slow=True),
    _composed_option(
        "multiscale_invertible_1x1", channel_mixing="invertible_1x1", slogdet_slow=True
    ),
    _composed_option("multiscale_learned_prior", split_prior="learned"),
    Case(
        "multiscale_glow_like",
        _multiscale(
            2, normalization="act_norm", channel_mixing="invertible_1x1", split_prior="learned"
        ),
        pixels=True,
    ),
    Case(
        "multiscale_user_conditioner",
        _multiscale(2, conditioner_fn=wide_resnet_conditioner),
        pixels=True,
        graph_tests_slow=True,
    ),
    Case("coupling_conditional_recomputed", _conditional_coupling, conditional_shape=CONTEXT),
    Case(
        "multiscale_conditional_vector",
        _multiscale(2, conditional_shape=CONTEXT),
        pixels=True,
        conditional_shape=CONTEXT,
    ),
    Case(
        "multiscale_conditional_feature_map",
        _multiscale(2, conditional_shape=CONTEXT_MAP),
        pixels=True,
        conditional_shape=CONTEXT_MAP,
        graph_tests_slow=True,
    ),
]


@keras.saving.register_keras_serializable(package="tests")
class OneStepDensity(keras.Model):
    """log p(x) of a standard normal through one bijector of the package: a tiny savable model.

    `step` names the bijector class (tfp_realnvp.<step>(event_shape)), so that `get_config`
    can rebuild it; its Keras layers are held as attributes, so Keras trains and saves them.
    """

    def __init__(self, step, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.step, self.event_shape = step, list(event_shape)
        self.bijector = getattr(tfp_realnvp, step)(self.event_shape)
        self.bijector_layers = self.bijector.keras_layers
        self.built = True

    def call(self, x, training=False):
        base = tfp.distributions.Sample(tfp.distributions.Normal(0.0, 1.0), self.event_shape)
        return tfp.distributions.TransformedDistribution(base, self.bijector).log_prob(
            x, bijector_kwargs={"training": bool(training)}
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return -tf.reduce_mean(y_pred)

    def get_config(self):
        return {"step": self.step, "event_shape": self.event_shape, "name": self.name}


def with_tests_on_path():
    """PYTHONPATH for a test's subprocess that imports these helpers (`from tests.flow_cases
    ...`): the repository's root, where the `tests` package is."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.pathsep.join(path for path in (root, os.environ.get("PYTHONPATH")) if path)


def free_ports(count):
    """`count` loopback TCP ports that were free a moment ago (for a local TF cluster)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def perturb(model, scale=0.1, seed=0):
    """Moves every trainable weight of a model or flow away from its (partly zero) initial value."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        values = variable.numpy()
        noise = rng.standard_normal(variable.shape) * scale
        variable.assign(values + noise.astype(values.dtype))


def prepare(case, dtype):
    """A bijector with non-trivial weights and moved batch-norm statistics."""
    bijector = case.make(dtype)
    for i, variable in enumerate(bijector.trainable_variables):
        noise = tf.random.stateless_normal(variable.shape, [i, 7], stddev=0.2, dtype=variable.dtype)
        variable.assign_add(noise)
    if takes_training(bijector):
        for step in range(2):
            seed = 100 + step
            kwargs = case.kwargs([16], dtype, seed=seed)
            bijector.inverse(case.data([16], dtype, seed=seed), training=True, **kwargs)
    return bijector
