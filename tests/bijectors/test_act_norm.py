"""ActNorm: data-dependent initialisation, once, saved, and over all replicas."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from tests.flow_cases import OneStepDensity, with_tests_on_path

tfd = tfp.distributions
EVENT = [4, 4, 2]


def shifted_batch(seed, size=16):
    """Images whose channels have means (3, -1) and standard deviations (2, 0.5)."""
    rng = np.random.default_rng(seed)
    return (np.array([3.0, -1.0]) + np.array([2.0, 0.5]) * rng.normal(size=[size, *EVENT])).astype(
        "float32"
    )


def channel_moments(y):
    return np.mean(y, axis=(0, 1, 2)), np.var(y, axis=(0, 1, 2))


def test_first_training_batch_gets_zero_mean_and_unit_variance():
    norm = tfp_realnvp.ActNorm(EVENT)
    x = shifted_batch(0)
    y = norm.inverse(x, training=True).numpy()
    mean, variance = channel_moments(y)
    np.testing.assert_allclose(mean, 0.0, atol=1e-5)
    np.testing.assert_allclose(variance, 1.0, rtol=1e-4)
    assert bool(norm.initialized.numpy())
    np.testing.assert_allclose(
        norm.inverse_log_det_jacobian(x, event_ndims=3),
        np.full([16], 16 * np.sum(-0.5 * np.log(np.var(x, axis=(0, 1, 2))))),
        atol=1e-3,  # a sum of terms of size 11 and -11
    )


def test_later_training_batches_do_not_initialise_again():
    norm = tfp_realnvp.ActNorm(EVENT)
    norm.inverse(shifted_batch(0), training=True)
    parameters = [norm.bias.numpy(), norm.log_scale.numpy()]
    norm.inverse(10.0 + shifted_batch(1), training=True)
    np.testing.assert_array_equal(norm.bias.numpy(), parameters[0])
    np.testing.assert_array_equal(norm.log_scale.numpy(), parameters[1])


def test_identity_until_initialised():
    norm = tfp_realnvp.ActNorm(EVENT)
    x = shifted_batch(0)
    np.testing.assert_array_equal(norm.inverse(x), x)  # inference mode does not initialise
    np.testing.assert_array_equal(norm.forward(tf.constant(x)), x)
    np.testing.assert_array_equal(norm.inverse_log_det_jacobian(x, event_ndims=3), np.zeros(16))
    assert not bool(norm.initialized.numpy())


@pytest.mark.parametrize("jit_compile", [False, True], ids=["tf_function", "xla"])
def test_first_traced_call_normalises_with_the_new_parameters(jit_compile):
    norm = tfp_realnvp.ActNorm(EVENT)
    normalise = tf.function(lambda t: norm.inverse(t, training=True), jit_compile=jit_compile)
    mean, variance = channel_moments(normalise(shifted_batch(0)).numpy())
    np.testing.assert_allclose(mean, 0.0, atol=1e-5)
    np.testing.assert_allclose(variance, 1.0, rtol=1e-4)


def test_fit_initialises_once_and_the_flag_survives_saving(tmp_path):
    model = OneStepDensity("ActNorm", EVENT)
    # Learning rate 0: after fit the parameters are exactly the initialisation's.
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    first, second = shifted_batch(0), 10.0 + shifted_batch(1)
    model.fit(tf.data.Dataset.from_tensor_slices(np.concatenate([first, second])).batch(16))
    np.testing.assert_allclose(model.bijector.bias, -np.mean(first, axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(
        model.bijector.log_scale, -np.log(np.std(first, axis=(0, 1, 2)) + 1e-6), rtol=1e-5
    )

    path = str(tmp_path / "act_norm.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert bool(loaded.bijector.initialized.numpy())
    loaded(shifted_batch(2) - 7.0, training=True)  # would re-initialise if the flag were lost
    for name in ("bias", "log_scale"):
        np.testing.assert_array_equal(getattr(loaded.bijector, name), getattr(model.bijector, name))
    np.testing.assert_allclose(loaded(first), model(first), rtol=1e-6)


def test_dist_trainable_variables_hold_the_parameters():
    norm = tfp_realnvp.ActNorm(EVENT)
    dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), EVENT), norm)
    names = sorted(v.name.split("/")[-1] for v in dist.trainable_variables)
    assert names == ["bias:0", "log_scale:0"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"event_shape": [4, 4]}, "`event_shape` must be"),
        ({"event_shape": [4, 0, 2]}, "`event_shape` must be"),
        ({"event_shape": EVENT, "epsilon": 0.0}, "`epsilon` must be positive"),
    ],
    ids=["rank", "zero", "epsilon"],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfp_realnvp.ActNorm(**kwargs)


def test_wrong_event_shape_names_the_argument():
    norm = tfp_realnvp.ActNorm(EVENT)
    with pytest.raises(ValueError, match=r"`x` has event shape \[4, 4, 3\]"):
        norm.inverse(tf.zeros([2, 4, 4, 3]), training=True)


MIRRORED = textwrap.dedent(
    """
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import tfp_realnvp

    images = np.random.default_rng(0).normal(size=[8, 4, 4, 2]).astype("float32")
    images[:4] = 5.0 + 3.0 * images[:4]  # the two replicas' halves have different statistics

    def initialise(strategy):
        with strategy.scope():
            norm = tfp_realnvp.ActNorm([4, 4, 2])
        batches = tf.data.Dataset.from_tensor_slices(images).batch(8)
        batch = next(iter(strategy.experimental_distribute_dataset(batches)))

        @tf.function
        def step(x):
            strategy.run(lambda t: norm.inverse(t, training=True), args=(x,))

        step(batch)
        variables = (norm.bias, norm.log_scale)
        return [
            [v.numpy().tolist() for v in replica]
            for replica in zip(*(strategy.experimental_local_results(v.value) for v in variables))
        ]

    one = initialise(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = initialise(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    half = images[:4].mean(axis=(0, 1, 2))
    print(json.dumps({"one": one, "two": two, "half_bias": (-half).tolist()}))
    """
)


def test_mirrored_initialisation_equals_one_device_on_the_global_batch(tmp_path):
    script = tmp_path / "mirrored_act_norm.py"
    script.write_text(MIRRORED)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": with_tests_on_path()}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=environment
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    [one_device] = found["one"]
    assert len(found["two"]) == 2
    for replica in found["two"]:  # (bias, log_scale) of each replica
        np.testing.assert_allclose(replica, one_device, rtol=1e-5)
    # One replica's half alone would give another initialisation: the statistics are global.
    assert np.max(np.abs(np.array(found["half_bias"]) - one_device[0])) > 1.0
