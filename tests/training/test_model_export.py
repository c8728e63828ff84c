"""RealNVPModel.export: a SavedModel with `log_prob` and `sample`, served by TensorFlow alone."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import tfp_realnvp

EVENT_SHAPE = [4, 4, 2]

# Runs in a fresh interpreter that imports only TensorFlow (not tfp_realnvp, TFP or Keras).
SERVE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    path, images_path = sys.argv[1], sys.argv[2]
    loaded = tf.saved_model.load(path)
    x = tf.constant(np.load(images_path))
    log_prob = loaded.signatures["log_prob"](x=x)
    default = loaded.signatures["serving_default"](x=x)
    samples = loaded.signatures["sample"](
        num_samples=tf.constant(5), temperature=tf.constant(0.0)
    )["samples"]
    imported = sorted(m.split(".")[0] for m in sys.modules)
    print(json.dumps({
        "signatures": sorted(loaded.signatures.keys()),
        "log_prob": log_prob["log_prob"].numpy().tolist(),
        "bits_per_dim": log_prob["bits_per_dim"].numpy().tolist(),
        "default": default["log_prob"].numpy().tolist(),
        "samples": samples.numpy().tolist(),
        "foreign": sorted({m for m in imported if m in ("tfp_realnvp", "tensorflow_probability")}),
    }))
    """
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(0)
    flow = tfp_realnvp.RealNVPMultiScale(EVENT_SHAPE, num_res_blocks=1, num_filters=4)
    model = tfp_realnvp.RealNVPModel(flow, num_bins=17)
    rng = np.random.default_rng(0)
    for variable in model.weights:  # away from the identity and the initial statistics
        noise = rng.uniform(0.0, 0.2, size=variable.shape).astype(variable.dtype)
        variable.assign(variable.numpy() + noise)
    directory = tmp_path_factory.mktemp("export")
    path = str(directory / "saved_model")
    model.export(path)
    x = rng.uniform(size=[3, *EVENT_SHAPE]).astype("float32")
    np.save(directory / "x.npy", x)
    script = directory / "serve.py"
    script.write_text(SERVE)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, str(script), path, str(directory / "x.npy")],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=str(directory),  # not the repository: tfp_realnvp is not importable by accident
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return model, x, json.loads(result.stdout.strip().splitlines()[-1])


def test_signatures(exported):
    _, _, served = exported
    assert served["signatures"] == ["log_prob", "sample", "serving_default"]
    assert served["foreign"] == []


def test_served_log_prob_equals_the_models(exported):
    model, x, served = exported
    np.testing.assert_allclose(served["log_prob"], model.log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(served["default"], served["log_prob"], rtol=0)
    expected = tfp_realnvp.bits_per_dim(model.log_prob(x), EVENT_SHAPE, num_bins=17)
    np.testing.assert_allclose(served["bits_per_dim"], expected, rtol=1e-5)


def test_served_samples(exported):
    model, _, served = exported
    samples = np.asarray(served["samples"])
    assert samples.shape == (5, *EVENT_SHAPE)
    # Temperature 0: every sample is the image of the zero latent.
    expected = model.sample(5, temperature=0.0).numpy()
    np.testing.assert_allclose(samples, expected, rtol=1e-5, atol=1e-6)
