"""RealNVPMultiScale as users meet it: inside tfd.TransformedDistribution."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from tests.flow_cases import perturb
from tfp_realnvp import RealNVPMultiScale

tfd = tfp.distributions
EVENT = [8, 8, 2]
BLOCKS = 1


def _distribution(dtype=tf.float32, **kwargs):
    flow = RealNVPMultiScale(
        EVENT, num_scales=2, num_res_blocks=BLOCKS, num_filters=4, dtype=dtype, **kwargs
    )
    base = tfd.Sample(tfd.Normal(tf.zeros([], dtype), 1.0), EVENT)
    return tfd.TransformedDistribution(base, flow), flow


def _pixels(batch=4, dtype=tf.float32, seed=0):
    return tf.random.stateless_uniform([batch, *EVENT], [seed, 0], 0.0, 1.0, dtype=dtype)


@pytest.fixture(scope="module")
def dist_and_flow():
    return _distribution()


def test_log_prob_and_sample_shapes(dist_and_flow):
    dist, _ = dist_and_flow
    assert dist.log_prob(_pixels(4)).shape == [4]
    assert dist.sample(3).shape == [3, *EVENT]
    assert dist.sample([2, 3]).shape == [2, 3, *EVENT]


def test_trainable_variables_are_every_keras_weight(dist_and_flow):
    dist, flow = dist_and_flow
    keras_weights = [w for layer in flow.keras_layers for w in layer.trainable_weights]
    found = dist.trainable_variables
    assert len(found) == len(keras_weights) > 0
    assert {id(v) for v in found} == {id(w.value) for w in keras_weights}
    non_trainable = [w for layer in flow.keras_layers for w in layer.non_trainable_weights]
    assert len(dist.variables) == len(found) + len(non_trainable)


def test_every_trainable_variable_gets_a_gradient_from_log_prob():
    dist, _ = _distribution()
    perturb(dist, 0.1)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(_pixels(8), bijector_kwargs={"training": True}))
    gradients = tape.gradient(loss, dist.trainable_variables)
    names = [v.name for v, g in zip(dist.trainable_variables, gradients, strict=True) if g is None]
    assert not names
    zero = [
        v.name
        for v, g in zip(dist.trainable_variables, gradients, strict=True)
        if not np.any(g.numpy())
    ]
    # Keras batch norm's beta right before another batch norm has no effect on the output.
    assert all("beta" in name for name in zero), zero


def test_a_gradient_step_lowers_the_negative_log_likelihood():
    dist, flow = _distribution()
    x = _pixels(16)
    optimizer = tf.keras.optimizers.Adam(1e-2)
    variables = dist.trainable_variables

    def nll():
        return -tf.reduce_mean(dist.log_prob(x, bijector_kwargs={"training": True}))

    first = float(nll())
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = nll() + flow.regularization_loss()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    assert float(nll()) < first - 0.5


def test_training_mode_is_chosen_per_call():
    dist, flow = _distribution()
    norm = next(s for s in flow.keras_layers if "moments" in s.name)
    before = norm.moving_mean.numpy().copy()
    x = _pixels(8)
    dist.log_prob(x)
    dist.sample(2)
    np.testing.assert_array_equal(norm.moving_mean.numpy(), before)
    training_lp = dist.log_prob(x, bijector_kwargs={"training": True})
    assert np.any(norm.moving_mean.numpy() != before)
    inference_lp = dist.log_prob(tf.identity(x))
    assert np.abs((training_lp - inference_lp).numpy()).max() > 1e-3


def _count_convolutions(concrete_function):
    return sum(op.type == "Conv2D" for op in concrete_function.graph.get_operations())


def test_each_coupling_network_runs_once_per_log_prob(dist_and_flow):
    dist, flow = dist_and_flow
    log_prob = tf.function(lambda x: dist.log_prob(x, bijector_kwargs={"training": True}))
    sample = tf.function(lambda: dist.sample(2))
    log_prob_convs = _count_convolutions(log_prob.get_concrete_function(_pixels(2)))
    sample_convs = _count_convolutions(sample.get_concrete_function())
    couplings = 3 + 3 + 4
    per_network = 3 + 3 * BLOCKS  # input conv, input skip, output conv; 2 convs + skip a block
    assert log_prob_convs == sample_convs == couplings * per_network


@pytest.mark.parametrize(
    "jit_compile",
    [False, pytest.param(True, marks=pytest.mark.slow)],  # XLA compiles for about a minute
    ids=["graph", "xla"],
)
def test_log_prob_and_training_step_compile(jit_compile):
    dist, _ = _distribution()
    perturb(dist, 0.1)
    x = _pixels(4)
    eager = dist.log_prob(x).numpy()

    @tf.function(jit_compile=jit_compile)
    def step(images):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(images, bijector_kwargs={"training": True}))
        return loss, tape.gradient(loss, dist.trainable_variables)

    compiled = tf.function(lambda t: dist.log_prob(t), jit_compile=jit_compile)(x)
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-3)
    loss, gradients = step(x)
    assert np.isfinite(loss.numpy()) and all(g is not None for g in gradients)


def test_float64_flow():
    dist, _ = _distribution(tf.float64)
    log_prob = dist.log_prob(_pixels(3, tf.float64))
    assert log_prob.dtype == tf.float64 and np.all(np.isfinite(log_prob.numpy()))
    assert dist.sample(2).dtype == tf.float64


def test_samples_are_in_the_documented_pixel_interval(dist_and_flow):
    dist, _ = dist_and_flow
    x = dist.sample(64).numpy()
    bound = 0.05 / 0.9
    assert x.min() >= -bound and x.max() <= 1 + bound


def test_bits_per_dim_of_a_new_flow_is_in_a_sane_range(dist_and_flow):
    dist, _ = dist_and_flow
    bpd = tfp_realnvp.bits_per_dim(dist.log_prob(_pixels(16)), EVENT).numpy()
    assert np.all((bpd > 4) & (bpd < 20))
