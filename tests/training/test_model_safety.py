"""RealNVPModel is safe by default: bad inputs raise clear errors, bad steps change nothing."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tests.flow_cases import perturb

EVENT_SHAPE = [4, 4, 2]
CHECK_MESSAGE = re.escape("`x` must hold finite pixel values in [0, 1]")


def images(count=16, seed=0):
    return np.random.default_rng(seed).uniform(size=[count, *EVENT_SHAPE]).astype("float32")


def state(model):
    """Every weight (batch-norm statistics included) and every optimizer variable."""
    return [v.numpy().copy() for v in [*model.weights, *model.optimizer.variables]]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, num_scales=1, num_res_blocks=0, num_filters=4)
    model = tfp_realnvp.RealNVPModel(flow)
    perturb(model)
    model.compile()
    return model


def test_integer_images_are_refused_with_what_to_do(model):
    pixels = (images() * 256).astype("uint8")
    message = (
        "`x` must be float images with values in [0, 1]; got x of dtype uint8. Dequantise "
        "integer pixels first, x = (pixels + u) / num_bins with u ~ U[0, 1)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        model.log_prob(pixels)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(pixels, batch_size=8, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "bad",
    [
        images() * 255,  # raw pixels as floats
        images() * 4 - 2,  # standardised images
        np.where(images() > 0.9, np.nan, images()),
        np.where(images() > 0.9, np.inf, images()),
    ],
    ids=["0-255", "standardised", "nan", "inf"],
)
def test_non_finite_or_out_of_range_inputs_raise(model, bad):
    with pytest.raises(tf.errors.InvalidArgumentError, match=CHECK_MESSAGE):
        model.log_prob(bad.astype("float32"))


def test_fit_and_evaluate_check_their_batches(model):
    bad = np.where(images() > 0.9, np.nan, images() * 255).astype("float32")
    before = state(model)
    with pytest.raises(tf.errors.InvalidArgumentError, match=CHECK_MESSAGE):
        model.evaluate(bad, batch_size=8, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=CHECK_MESSAGE):
        model.fit(bad, batch_size=8, epochs=1, verbose=0)
    for old, new in zip(before, state(model), strict=True):
        np.testing.assert_array_equal(old, new)


def test_samples_slightly_outside_the_unit_interval_are_accepted(model):
    samples = model.sample(64, seed=(1, 2)).numpy()
    assert samples.min() < 0 or samples.max() > 1  # the logit's inverse reaches beyond [0, 1]
    assert np.all(np.isfinite(model.log_prob(samples)))


@pytest.mark.parametrize(
    "optimizer",
    [None, lambda: keras.optimizers.SGD(0.01, momentum=0.9)],
    ids=["default_fused_adam", "keras_sgd"],
)
def test_fit_skips_steps_with_a_non_finite_loss_and_says_so(model, optimizer):
    model.compile(optimizer=optimizer and optimizer())
    scales = [v for v in model.trainable_variables if v.path.endswith("log_scale/scale")]
    saved_scales = [v.numpy() for v in scales]
    for variable in scales:
        variable.assign(tf.fill(variable.shape, 1e30))  # exp(s) overflows: the loss is inf
    batches = tf.data.Dataset.from_tensor_slices(images(16)).batch(8)
    before = state(model)
    with pytest.warns(UserWarning, match=r"RealNVPModel.fit skipped 4 training step\(s\)"):
        history = model.fit(batches, epochs=2, verbose=0).history
    assert history["skipped_steps"] == [2, 2]
    for old, new in zip(before, state(model), strict=True):
        np.testing.assert_array_equal(old, new)  # no weight, statistic or optimizer step moved

    for variable, value in zip(scales, saved_scales, strict=True):
        variable.assign(value)
    history = model.fit(batches, epochs=1, verbose=0).history
    assert history["skipped_steps"] == [0] and np.isfinite(history["loss"][0])
    after = state(model)
    assert all(np.all(np.isfinite(v)) for v in after)
    assert any(np.any(old != new) for old, new in zip(before, after, strict=True))
