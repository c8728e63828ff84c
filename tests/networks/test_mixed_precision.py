"""Mixed precision: the coupling networks compute in bfloat16, the flow itself in float32."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tests.flow_cases import perturb

EVENT_SHAPE = [8, 8, 1]
SIZE = dict(num_scales=2, num_res_blocks=1, num_filters=8)


@pytest.fixture(scope="module")
def flows():
    """A float32 flow and a mixed_bfloat16 flow with the same weights."""
    keras.utils.set_random_seed(0)
    plain = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, **SIZE)
    mixed = tfp_realnvp.RealNVPMultiScale(
        EVENT_SHAPE, network_dtype_policy="mixed_bfloat16", **SIZE
    )
    perturb(plain, scale=0.05)  # away from the identity initialisation: the networks matter
    for target, source in zip(mixed.trainable_variables, plain.trainable_variables, strict=True):
        target.assign(source)
    return plain, mixed


def images():
    return tf.random.stateless_uniform([16, *EVENT_SHAPE], seed=[1, 2], minval=0.05, maxval=0.95)


def test_networks_compute_in_bfloat16_with_float32_weights(flows):
    _, mixed = flows
    networks = [layer for layer in mixed.keras_layers if "network" in layer.name]
    assert networks
    assert {(n.compute_dtype, n.variable_dtype) for n in networks} == {("bfloat16", "float32")}
    assert {v.dtype for v in mixed.trainable_variables} == {tf.float32}


def test_latents_and_log_det_stay_float32_and_close_to_the_float32_flow(flows):
    plain, mixed = flows
    x = images()
    z_plain, log_det_plain = tfp_realnvp.bijectors.flow_bijector.inverse_and_log_det(
        plain, tf.identity(x)
    )
    z_mixed, log_det_mixed = tfp_realnvp.bijectors.flow_bijector.inverse_and_log_det(
        mixed, tf.identity(x)
    )
    assert z_mixed.dtype == tf.float32 and log_det_mixed.dtype == tf.float32
    # bfloat16 keeps ~3 significant digits of the networks' outputs.
    np.testing.assert_allclose(log_det_mixed, log_det_plain, rtol=2e-2)
    np.testing.assert_allclose(z_mixed, z_plain, atol=5e-2)
    assert not np.allclose(z_mixed, z_plain, atol=1e-7)  # the networks did compute in bf16


def test_inverse_and_forward_still_invert_each_other_in_float32(flows):
    _, mixed = flows
    x = images()
    z = mixed.inverse(tf.identity(x))  # fresh tensors: TFP's cache would hide a broken inverse
    x_again = mixed.forward(tf.identity(z))
    np.testing.assert_allclose(x_again, x, atol=1e-5)


def test_training_step_gives_every_weight_a_float32_gradient(flows):
    _, mixed = flows
    with tf.GradientTape() as tape:
        log_det = mixed.inverse_log_det_jacobian(tf.identity(images()), training=True)
        loss = -tf.reduce_mean(log_det)
    gradients = tape.gradient(loss, mixed.trainable_variables)
    assert all(g is not None for g in gradients)
    assert {g.dtype for g in gradients} == {tf.float32}
    assert all(np.isfinite(g.numpy()).all() for g in gradients)


def test_model_fits_saves_and_loads_with_the_policy(tmp_path):
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(
        EVENT_SHAPE, network_dtype_policy=keras.DTypePolicy("mixed_bfloat16"), **SIZE
    )
    model = tfp_realnvp.RealNVPModel(flow, num_bins=256)
    model.compile()
    x = images()
    history = model.fit(x, batch_size=8, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = str(tmp_path / "mixed.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.flow.parameters["network_dtype_policy"] == "mixed_bfloat16"
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


@pytest.mark.parametrize(
    "policy, dtype, message",
    [
        ("mixed_bfloat16", tf.float64, "network_dtype_policy='mixed_bfloat16'"),
        ("bfloat17", tf.float32, "network_dtype_policy='bfloat17'"),
    ],
)
def test_bad_policy_is_rejected_by_name(policy, dtype, message):
    with pytest.raises(ValueError, match=message):
        tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, network_dtype_policy=policy, dtype=dtype, **SIZE)
