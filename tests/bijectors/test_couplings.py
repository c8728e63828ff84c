"""The couplings beyond the contract suite: identities at initialisation, the spline's interval,
the authors' squeeze order, and a user's own conditioner through `conditioner_fn`."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from tests.flow_cases import SPLINE_BINS, perturb, plain_conv_conditioner
from tfp_realnvp import (
    MaskedAdditiveCoupling,
    MaskedSplineCoupling,
    RealNVPMultiScale,
    ResNetConditioner,
    channel_mask,
    checkerboard_mask,
)
from tfp_realnvp.bijectors.masked_affine_coupling import TanhScale
from tfp_realnvp.bijectors.squeeze import squeeze_2x2

tfd = tfp.distributions
EVENT = [4, 4, 2]


def test_tanh_scale_bounds_the_log_scale():
    scale = TanhScale(1.5)
    out = scale(tf.constant([-100.0, 0.0, 100.0]))
    np.testing.assert_allclose(out, [-1.5, 0.0, 1.5], rtol=1e-6)


def _spline(bound=2.0, network=None):
    mask = checkerboard_mask(EVENT)
    width = (3 * SPLINE_BINS - 1) * EVENT[-1]
    network = network or ResNetConditioner(4, 1, mask_channel=mask[..., 0], output_channels=width)
    return MaskedSplineCoupling(mask, network, num_bins=SPLINE_BINS, bound=bound)


@pytest.mark.parametrize("kind", ["additive", "spline"])
def test_a_new_coupling_is_the_identity(kind):
    x = tf.random.stateless_normal([3, *EVENT], [0, 1])
    if kind == "additive":
        mask = channel_mask(EVENT)
        coupling = MaskedAdditiveCoupling(mask, ResNetConditioner(4, 1, output_channels=2))
    else:
        coupling = _spline()
    np.testing.assert_allclose(coupling.inverse(x), x, atol=1e-5)
    np.testing.assert_allclose(coupling.inverse_log_det_jacobian(x, 3), 0.0, atol=1e-4)


def test_spline_is_finite_and_invertible_at_the_ends_of_its_interval_and_outside():
    coupling = _spline(bound=2.0)
    perturb(coupling, 0.3)
    # Every transformed unit at -B - 3, -B, -B + 1e-4, 0, B - 1e-4, B, B + 3 (one per image).
    values = np.array([-5.0, -2.0, -2.0 + 1e-4, 0.0, 2.0 - 1e-4, 2.0, 5.0], np.float32)
    base = np.random.default_rng(0).normal(size=[len(values), *EVENT]).astype(np.float32)
    transformed = 1.0 - checkerboard_mask(EVENT)
    x = tf.constant(np.where(transformed == 1, values[:, None, None, None], base))
    z = coupling.inverse(x)
    ildj = coupling.inverse_log_det_jacobian(x, 3)
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(ildj))
    np.testing.assert_allclose(coupling.forward(tf.identity(z)), x, atol=1e-4)
    # Outside [-B, B] the splines are the identity (linear tails of slope 1): z = x there.
    outside = np.abs(x.numpy()) > 2.0
    np.testing.assert_allclose(z.numpy()[outside], x.numpy()[outside], atol=1e-6)
    # The weights moved, so inside the interval the splines are not the identity.
    inside = (transformed == 1) & (np.abs(x.numpy()) < 2.0)
    assert np.max(np.abs(z.numpy()[inside] - x.numpy()[inside])) > 1e-3


def _authors_squeeze_2x2(x):
    """The authors' `squeeze_2x2` index pattern, written out: out[i, j, 4c + 2di + dj]."""
    height, width, channels = x.shape
    out = np.zeros([height // 2, width // 2, 4 * channels], x.dtype)
    for i, j, c, di, dj in np.ndindex(height // 2, width // 2, channels, 2, 2):
        out[i, j, 4 * c + 2 * di + dj] = x[2 * i + di, 2 * j + dj, c]
    return out


def _authors_squeeze_2x2_ordered(x):
    """The authors' `squeeze_2x2_ordered` as their code builds it: a stride-2 convolution whose
    2x2 kernel sends patch pixel (0,0), (1,1), (1,0), (0,1) of channel c to channel 4c + 0..3,
    followed by the channel shuffle [4c for all c] + [4c + 1 for all c] + ..."""
    height, width, channels = x.shape
    kernel = np.zeros([2, 2, channels, 4 * channels])
    for c in range(channels):
        for k, (di, dj) in enumerate([(0, 0), (1, 1), (1, 0), (0, 1)]):
            kernel[di, dj, c, 4 * c + k] = 1.0
    shuffle = [4 * c + k for k in range(4) for c in range(channels)]
    conv = tf.nn.conv2d(x[None].astype(np.float64), kernel, strides=2, padding="VALID")[0]
    return conv.numpy()[..., shuffle]


def test_authors_squeeze_orders_on_an_arange():
    x = np.arange(4 * 6 * 3, dtype=np.float64).reshape([4, 6, 3])
    np.testing.assert_array_equal(squeeze_2x2(tf.constant(x), "authors"), _authors_squeeze_2x2(x))
    np.testing.assert_array_equal(
        squeeze_2x2(tf.constant(x), "authors_diagonal_first"), _authors_squeeze_2x2_ordered(x)
    )


def test_authors_order_factors_out_the_anti_diagonal_pixels():
    """Scale 1's latent part holds exactly the (1,0) and (0,1) pixels of every 2x2 patch.

    A new flow without preprocessing and batch norm has identity couplings, so its f only
    moves pixels around: what each scale factors out can be read off marked pixels.
    """
    flow = RealNVPMultiScale(
        [4, 4, 1],
        num_scales=2,
        num_res_blocks=0,
        num_filters=2,
        squeeze_order="authors",
        logit_alpha=None,
        use_batch_norm=False,
    )
    pixels = np.zeros([1, 4, 4, 1], np.float32)
    pixels[:, 1::2, 0::2] = pixels[:, 0::2, 1::2] = 1.0  # the anti-diagonal of every patch
    factored, going_on = flow.split_latents(flow.inverse(tf.constant(pixels)))
    np.testing.assert_array_equal(factored, 1.0)  # [1, 2, 2, 2]: every factored unit marked
    np.testing.assert_array_equal(going_on, 0.0)


class CountingConditioner(keras.layers.Layer):
    """Counts its calls (in Python, so only in eager mode)."""

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.calls = 0

    def build(self, input_shape):
        self.network.build(input_shape)

    def call(self, inputs, training=False):
        self.calls += 1
        return self.network(inputs, training=training)


def test_conditioner_fn_builds_the_networks_the_couplings_call():
    built = []

    def conditioner_fn(**kwargs):
        assert set(kwargs) == {
            "event_shape",
            "keep_mask",
            "mask_kind",
            "num_filters",
            "output_channels",
            "dtype",
            "name",
        }
        built.append(CountingConditioner(plain_conv_conditioner(**kwargs), name=kwargs["name"]))
        return built[-1]

    flow = RealNVPMultiScale(
        EVENT, num_scales=2, coupling="spline", spline_bins=3, conditioner_fn=conditioner_fn
    )
    assert len(built) == 3 + 3 + 4
    assert built[0].network.layers[-1].filters == (3 * 3 - 1) * EVENT[-1]  # spline width
    dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), EVENT), flow)
    variables = {id(v) for v in dist.trainable_variables}
    assert all(id(w.value) in variables for net in built for w in net.trainable_weights)
    dist.log_prob(tf.random.uniform([2, *EVENT]))
    assert [net.calls for net in built] == [1] * len(built)  # each network once per log_prob


@pytest.fixture(scope="module")
def fitted_user_conditioner_model():
    keras.utils.set_random_seed(0)
    flow = RealNVPMultiScale(
        EVENT,
        num_scales=2,
        num_filters=4,
        coupling="spline",
        spline_bins=3,
        squeeze_order="authors",
        conditioner_fn=plain_conv_conditioner,
    )
    model = tfp_realnvp.RealNVPModel(flow, num_bins=256)
    before = [w.numpy() for w in model.trainable_weights]
    model.compile()
    data = np.random.default_rng(0).uniform(size=[32, *EVENT]).astype("float32")
    model.fit(data, batch_size=16, epochs=2, verbose=0)
    return model, before, data


def test_fit_trains_a_user_conditioner(fitted_user_conditioner_model):
    model, before, _ = fitted_user_conditioner_model
    networks = [layer for layer in model.flow_layers if isinstance(layer, keras.Sequential)]
    assert len(networks) == 10
    moved = [
        not np.allclose(w.numpy(), b)
        for w, b in zip(model.trainable_weights, before, strict=True)
        if any(w is v for net in networks for v in net.trainable_weights)
    ]
    assert len(moved) == 40 and all(moved)


def test_save_and_load_with_options_and_a_registered_conditioner(
    fitted_user_conditioner_model, tmp_path
):
    model, _, data = fitted_user_conditioner_model
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.flow.get_config()["coupling"] == "spline"
    assert loaded.flow.parameters["conditioner_fn"] is plain_conv_conditioner
    np.testing.assert_allclose(loaded.log_prob(data[:4]), model.log_prob(data[:4]), rtol=1e-5)
