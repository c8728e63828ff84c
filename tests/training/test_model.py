"""Contract of RealNVPModel: likelihood, gradients, fit, modes, sampling, latents, saving."""

import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from tests.flow_cases import perturb
from tfp_realnvp.training import RealNVPModel, default_optimizer

# One worker runs the module (`pytest -n 2 --dist loadgroup`): its trained model is built once.
pytestmark = pytest.mark.xdist_group("model")

tfd = tfp.distributions
EVENT_SHAPE = [4, 4, 2]


def tiny_model(num_scales=2, num_bins=256, **kwargs):
    flow = tfp_realnvp.RealNVPMultiScale(
        EVENT_SHAPE, num_scales=num_scales, num_res_blocks=1, num_filters=4, **kwargs
    )
    return RealNVPModel(flow, num_bins=num_bins)


def images(count=16, seed=0):
    return np.random.default_rng(seed).uniform(size=[count, *EVENT_SHAPE]).astype("float32")


def moving_statistics(model):
    return [v.numpy() for v in model.non_trainable_variables]


@pytest.fixture(scope="module")
def trained():
    """A tiny model fitted for a few epochs on a fixed set of 32 images, with its history."""
    keras.utils.set_random_seed(1)
    model = tiny_model()
    perturb(model, 0.05)
    data = images(32, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    initial = model.evaluate(data, batch_size=16, verbose=0, return_dict=True)
    history = model.fit(
        tf.data.Dataset.from_tensor_slices(data).batch(16), epochs=4, verbose=0
    ).history
    return model, data, initial, history


def test_log_prob_shape_and_agreement_with_the_distribution():
    model = tiny_model()
    perturb(model)
    x = images(5)
    log_prob = model.log_prob(x)
    assert log_prob.shape == [5]
    assert np.all(np.isfinite(log_prob))
    base = tfd.Sample(tfd.Normal(0.0, 1.0), EVENT_SHAPE)
    expected = tfd.TransformedDistribution(base, model.flow).log_prob(x)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5)


def test_new_model_without_batch_norm_is_the_logit_transform_of_a_standard_normal():
    # Zero-initialised couplings: z = logit(alpha + (1 - 2 alpha) x) exactly.
    flow = tfp_realnvp.RealNVPMultiScale(
        EVENT_SHAPE, num_res_blocks=1, num_filters=4, use_batch_norm=False
    )
    x = images(3)
    alpha = 0.05
    p = alpha + (1 - 2 * alpha) * x.astype("float64")
    y = np.log(p) - np.log1p(-p)
    log_det = np.log(1 - 2 * alpha) - np.log(p) - np.log1p(-p)
    expected = -0.5 * (y**2 + np.log(2 * np.pi)) + log_det
    np.testing.assert_allclose(RealNVPModel(flow).log_prob(x), expected.sum((1, 2, 3)), rtol=1e-5)


def test_every_variable_gets_a_gradient():
    model = tiny_model()
    perturb(model)
    x = images(8)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(y_pred=model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert len(model.trainable_variables) > 50
    pairs = list(zip(model.trainable_variables, gradients, strict=True))
    assert [v.path for v, g in pairs if g is None] == []
    # Only a bias just before a batch norm may have a zero gradient (the norm removes it).
    zero = [v.path for v, g in pairs if not np.any(np.abs(g.numpy()) > 1e-6)]
    assert all(path.endswith("/bias") for path in zero), zero
    assert len(zero) < len(pairs) // 4


def test_model_holds_every_variable_of_the_flow():
    model = tiny_model()
    flow_variables = {id(v) for layer in model.flow.keras_layers for v in layer.weights}
    model_variables = {id(v) for v in model.weights}
    assert flow_variables and flow_variables == model_variables
    assert len(model.non_trainable_variables) > 0  # moving statistics


def test_fit_lowers_the_loss_and_reports_bits_per_dim(trained):
    model, data, initial, history = trained
    assert set(history) == {"loss", "bits_per_dim", "skipped_steps"}
    assert history["skipped_steps"] == [0, 0, 0, 0]
    assert history["loss"][-1] < history["loss"][0]
    final = model.evaluate(data, batch_size=16, verbose=0, return_dict=True)
    assert final["bits_per_dim"] < initial["bits_per_dim"] - 0.05


def test_evaluate_reports_bits_per_dim_without_the_l2_penalty(trained):
    model, data, _, _ = trained
    result = model.evaluate(data, batch_size=32, verbose=0, return_dict=True)
    log_prob = model.log_prob(data).numpy()
    bpd = tfp_realnvp.bits_per_dim(log_prob, EVENT_SHAPE, 256).numpy().mean()
    penalty = float(model.flow.regularization_loss())
    assert penalty > 0
    # Round-off apart (evaluate's graph and the eager log_prob differ in fusions), the
    # penalty in bits/dim would be a difference ten times this tolerance.
    penalty_bits_per_dim = penalty / (np.prod(EVENT_SHAPE) * np.log(2.0))
    np.testing.assert_allclose(result["bits_per_dim"], bpd, rtol=0, atol=penalty_bits_per_dim / 10)
    # The loss is the mean NLL plus the L2 penalty.
    np.testing.assert_allclose(
        result["loss"], -log_prob.mean() + penalty, rtol=0, atol=penalty / 10
    )


def test_l2_penalty_is_in_the_training_loss():
    model = tiny_model()
    perturb(model)
    x = images(8)
    y_pred = model(x, training=True)
    penalty = float(model.flow.regularization_loss())
    expected = 5e-5 * sum(
        float(tf.reduce_sum(tf.square(v)))
        for v in model.trainable_variables
        if "magnitude" in v.path or v.path.endswith("/scale")
    )
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)
    loss = float(model.compute_loss(y_pred=y_pred))
    np.testing.assert_allclose(loss, -float(tf.reduce_mean(y_pred)) + penalty, rtol=1e-6)


def test_num_bins_changes_only_bits_per_dim():
    data = images(8)
    bpd = {}
    for num_bins in (256, 17):
        keras.utils.set_random_seed(3)
        model = tiny_model(num_bins=num_bins)
        model.compile()
        bpd[num_bins] = model.evaluate(data, verbose=0, return_dict=True)["bits_per_dim"]
    difference = math.log2(256) - math.log2(17)
    np.testing.assert_allclose(bpd[256] - bpd[17], difference, rtol=1e-5)


def test_fit_uses_batch_statistics_and_inference_uses_moving_ones(trained):
    model, data, _, _ = trained
    before = moving_statistics(model)
    assert not all(np.allclose(b, 0) or np.allclose(b, 1) for b in before)  # fit moved them
    model.evaluate(data, verbose=0)
    model.predict(data, verbose=0)
    model.log_prob(data)
    model.sample(4)
    for old, new in zip(before, moving_statistics(model), strict=True):
        np.testing.assert_array_equal(old, new)
    training = model(data, training=True)  # batch statistics; updates the moving ones
    assert not np.allclose(training, model.log_prob(data), rtol=1e-3)
    assert any(
        not np.array_equal(old, new)
        for old, new in zip(before, moving_statistics(model), strict=True)
    )
    for variable, value in zip(model.non_trainable_variables, before, strict=True):
        variable.assign(value)


def test_deterministic_given_the_input(trained):
    model, data, _, _ = trained
    np.testing.assert_array_equal(model.log_prob(data), model.log_prob(data))
    np.testing.assert_allclose(
        model.predict(data, verbose=0), model.log_prob(data), rtol=1e-5, atol=1e-4
    )


def test_default_optimizer_is_the_papers():
    model = tiny_model()
    model.compile()
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert math.isclose(float(optimizer.learning_rate), 1e-3, rel_tol=1e-6)
    assert optimizer.global_clipnorm == 100
    assert math.isclose(optimizer.beta_1, 0.9) and math.isclose(optimizer.beta_2, 0.999)
    assert default_optimizer(2e-4).global_clipnorm == 100


def test_sample_shape_and_temperature(trained):
    model, _, _, _ = trained
    assert model.sample(6).shape == [6, *EVENT_SHAPE]
    assert model.sample(0).shape == [0, *EVENT_SHAPE]
    # Temperature 0: the image of the zero latent.
    np.testing.assert_allclose(
        model.sample(2, temperature=0.0),
        model.decode(tf.zeros([2, *EVENT_SHAPE])),
        rtol=1e-6,
    )
    spread = {t: float(tf.math.reduce_std(model.encode(model.sample(200, t)))) for t in (0.5, 1)}
    assert 0.4 < spread[0.5] < 0.6 and 0.85 < spread[1] < 1.15


def test_encode_decode_round_trip_and_latents_per_scale(trained):
    model, data, _, _ = trained
    z = model.encode(data)
    assert z.shape == data.shape
    np.testing.assert_allclose(model.decode(tf.identity(z)), data, atol=1e-4)
    parts = model.encode(data, per_scale=True)
    assert [list(p.shape[1:]) for p in parts] == model.flow.latent_shapes()
    np.testing.assert_allclose(model.decode(parts), data, atol=1e-4)


def test_save_and_load_give_identical_log_prob(trained, tmp_path):
    model, data, _, _ = trained
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, RealNVPModel)
    assert loaded.num_bins == model.num_bins
    assert loaded.flow.parameters["num_filters"] == 4
    np.testing.assert_array_equal(loaded.log_prob(data), model.log_prob(data))
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_get_config_rebuilds_the_same_architecture():
    model = tiny_model(num_scales=1, num_bins=17, batch_norm_momentum=0.5)
    clone = RealNVPModel.from_config(model.get_config())
    assert clone.num_bins == 17
    assert clone.get_config()["flow"] == model.get_config()["flow"]
    assert clone.flow.num_scales == 1
    assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RealNVPModel("not a flow"), "`flow` must be a tfp_realnvp.RealNVPMultiScale"),
        (lambda: tiny_model(num_bins=1), "`num_bins` must be an integer >= 2; got num_bins=1"),
        (
            lambda: tiny_model().compile(loss="mse"),
            "RealNVPModel's loss is the negative log-likelihood (plus the L2 penalty); "
            "do not pass `loss`; got loss='mse'.",
        ),
        (
            lambda: tiny_model().compile(metrics=["mae"]),
            "RealNVPModel reports `bits_per_dim` itself; do not pass `metrics`; "
            "got metrics=['mae'].",
        ),
        (lambda: tiny_model().sample(-1), "`num_samples` must be >= 0; got num_samples=-1"),
        (lambda: tiny_model().sample(2, -1.0), "`temperature` must be >= 0"),
    ],
    ids=["flow", "num_bins", "loss", "metrics", "num_samples", "temperature"],
)
def test_error_messages(make, message):
    with pytest.raises((TypeError, ValueError), match=f"^{re.escape(message)}"):
        make()


def test_exported_from_the_package():
    assert tfp_realnvp.RealNVPModel is RealNVPModel


def test_refresh_batch_norm_statistics_matches_the_moving_averages_to_the_weights():
    """Refreshed on one repeated batch, inference mode normalises exactly as training mode."""
    flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_res_blocks=1, num_filters=4)
    for i, variable in enumerate(flow.trainable_variables):
        variable.assign_add(tf.random.stateless_normal(variable.shape, [i, 9], stddev=0.1))
    model = tfp_realnvp.RealNVPModel(flow, num_bins=17)
    x = tf.random.stateless_uniform([16, 8, 8, 1], [1, 2])
    training_log_prob = model(x, training=True).numpy()
    stale = model.log_prob(x).numpy()
    assert np.abs(stale - training_log_prob).max() > 1.0
    batches = tf.data.Dataset.from_tensors(x).repeat()
    assert model.refresh_batch_norm_statistics(batches, steps=250) == 250
    np.testing.assert_allclose(model.log_prob(x), training_log_prob, rtol=1e-4, atol=1e-3)
    assert model.refresh_batch_norm_statistics([x, x], steps=5) == 2
    with pytest.raises(ValueError, match=r"`steps` must be a positive integer; got steps=0"):
        model.refresh_batch_norm_statistics(batches, steps=0)
