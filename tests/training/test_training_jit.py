"""Every flow configuration compiles with XLA (`jit_compile=True`), as TPUs require.

The train step (`fit`), `log_prob` and sampling of each `RealNVPMultiScale` configuration in
CONFIGURATIONS compile under `jit_compile=True` (TensorFlow refuses to run a function whose ops
XLA cannot compile, and Keras would fall back to `jit_compile=False`), and compute what the
uncompiled functions compute. A new option of the flow is one more line in CONFIGURATIONS.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp

EVENT_SHAPE = [4, 4, 2]
TINY = {"num_scales": 1, "num_res_blocks": 0, "num_filters": 4}
# RealNVPMultiScale keyword arguments over TINY, one configuration a line (each compiles for
# about a minute on two busy cores: all but the default are marked slow).
CONFIGURATIONS = [
    pytest.param({}, id="default"),
    pytest.param({"num_scales": 2, "num_res_blocks": 1}, id="two-scales", marks=pytest.mark.slow),
    pytest.param(
        {"memory_saving_gradients": True}, id="memory-saving-gradients", marks=pytest.mark.slow
    ),
    pytest.param(
        {"network_dtype_policy": "mixed_bfloat16"}, id="mixed-bfloat16", marks=pytest.mark.slow
    ),
    pytest.param(
        {"memory_saving_gradients": "blocks", "num_res_blocks": 1},
        id="memory-saving-blocks",
        marks=pytest.mark.slow,
    ),
    pytest.param(
        {"batch_norm_statistics": "running_average"},
        id="running-average-batch-norm",
        marks=pytest.mark.slow,
    ),
    pytest.param({"coupling": "additive"}, id="additive", marks=pytest.mark.slow),
    pytest.param({"coupling": "spline", "spline_bins": 3}, id="spline", marks=pytest.mark.slow),
    pytest.param(
        {"num_scales": 2, "squeeze_order": "authors"}, id="authors-order", marks=pytest.mark.slow
    ),
    pytest.param({"normalization": "act_norm"}, id="act-norm", marks=pytest.mark.slow),
    pytest.param(
        {
            "num_scales": 2,
            "normalization": "act_norm",
            "channel_mixing": "invertible_1x1",
            "split_prior": "learned",
        },
        id="glow-like",
        marks=pytest.mark.slow,
    ),
]


@pytest.fixture(scope="module", params=CONFIGURATIONS)
def trained(request):
    """(model, history, data): a model of the configuration fitted for 3 epochs under XLA."""
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, **{**TINY, **request.param})
    model = tfp_realnvp.RealNVPModel(flow)
    model.compile(jit_compile=True)
    data = np.random.default_rng(0).uniform(size=[32, *EVENT_SHAPE]).astype("float32")
    batches = tf.data.Dataset.from_tensor_slices(data).batch(8, drop_remainder=True)
    history = model.fit(batches, epochs=3, verbose=0).history
    return model, history, data


def test_train_step_compiles_and_trains(trained):
    model, history, data = trained
    assert model.jit_compile is True  # Keras falls back to False when a layer cannot compile
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]
    # Trained under XLA, the model still agrees with the eager (non-XLA) evaluation.
    batches = tf.data.Dataset.from_tensor_slices(data).batch(8)
    result = model.evaluate(batches, verbose=0, return_dict=True)
    bits_per_dim = tfp_realnvp.bits_per_dim(model.log_prob(data), EVENT_SHAPE).numpy().mean()
    np.testing.assert_allclose(result["bits_per_dim"], bits_per_dim, rtol=1e-4)


def test_log_prob_compiles(trained):
    model, _, data = trained
    compiled = tf.function(model.log_prob, jit_compile=True)
    np.testing.assert_allclose(compiled(data), model.log_prob(data), rtol=1e-4, atol=1e-3)


def test_sampling_compiles(trained):
    model, _, _ = trained
    latents = np.random.default_rng(1).standard_normal([4, *EVENT_SHAPE]).astype("float32")
    decode = tf.function(model.decode, jit_compile=True)
    np.testing.assert_allclose(decode(latents), model.decode(latents), rtol=1e-4, atol=1e-4)
    samples = tf.function(lambda: model.sample(4, temperature=0.7), jit_compile=True)()
    assert samples.shape == (4, *EVENT_SHAPE)
    assert np.all(np.isfinite(samples))
