"""The whole train step compiles with XLA (`jit_compile=True`): no host-side ops in it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp


@pytest.mark.parametrize(
    "num_scales, num_res_blocks",
    [(1, 0), pytest.param(2, 1, marks=pytest.mark.slow)],
    ids=["one-scale", "two-scales"],
)
def test_fit_with_jit_compile(num_scales, num_res_blocks):
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(
        [4, 4, 2], num_scales=num_scales, num_res_blocks=num_res_blocks, num_filters=4
    )
    model = tfp_realnvp.RealNVPModel(flow)
    model.compile(jit_compile=True)
    assert model.jit_compile is True  # Keras falls back to False when a layer cannot compile
    data = np.random.default_rng(0).uniform(size=[32, 4, 4, 2]).astype("float32")
    batches = tf.data.Dataset.from_tensor_slices(data).batch(8, drop_remainder=True)
    history = model.fit(batches, epochs=3, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]
    # Trained under XLA, the model still agrees with the eager (non-XLA) evaluation.
    result = model.evaluate(batches, verbose=0, return_dict=True)
    bpd = tfp_realnvp.bits_per_dim(model.log_prob(data), [4, 4, 2]).numpy().mean()
    np.testing.assert_allclose(result["bits_per_dim"], bpd, rtol=1e-4)
