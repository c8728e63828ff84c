"""Saved models load the Keras way in a fresh process that imported only Keras and the package,
in either order, with every class a saved model can hold."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tfp_realnvp

# Loads the models of argv[2:] after the imports; prints the classes Keras knows of the
# package, and each model's log p(x | labels) of the images and labels in argv[1].
LOAD = """
import json, sys
{imports}
import keras, numpy as np
data = np.load(sys.argv[1])
log_probs = [
    keras.saving.load_model(path).log_prob(data["images"], data["labels"]).numpy().tolist()
    for path in sys.argv[2:]
]
names = sorted(n for n in keras.saving.get_custom_objects() if n.startswith("tfp_realnvp>"))
print(json.dumps({{"log_probs": log_probs, "registered": names}}))
"""
# Between them every registered class: the coupling kinds, both normalisations, the 1x1
# convolution, the learned prior, the context projection, the optimizer.
OPTIONS = [
    {"coupling": "spline", "normalization": "act_norm", "channel_mixing": "invertible_1x1"},
    {"coupling": "affine", "split_prior": "learned"},
    {"coupling": "additive", "normalization": None},
]


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """(data path, [model paths], [their log p(x | labels)]): compiled and saved."""
    directory = tmp_path_factory.mktemp("saved")
    images = np.random.default_rng(0).uniform(0.1, 0.9, [4, 8, 8, 1]).astype("float32")
    labels = np.array([0, 1, 2, 0])
    data_path = str(directory / "data.npz")
    np.savez(data_path, images=images, labels=labels)
    paths, log_probs = [], []
    for index, options in enumerate(OPTIONS):
        flow = tfp_realnvp.RealNVPMultiScale(
            [8, 8, 1], num_scales=2, num_res_blocks=1, num_filters=4, conditional_shape=[3],
            **options,
        )  # fmt: skip
        model = tfp_realnvp.RealNVPModel(flow, num_bins=17, num_classes=3)
        model.compile()  # builds the optimizer: its state is saved too
        paths.append(str(directory / f"model_{index}.keras"))
        model.save(paths[-1])
        log_probs.append(model.log_prob(images, labels).numpy())
    return data_path, paths, log_probs


@pytest.mark.parametrize(
    "imports",
    [
        "import keras, tfp_realnvp",
        "import tfp_realnvp, keras",
        pytest.param("import tfp_realnvp, tensorflow", marks=pytest.mark.slow),  # Keras inside
    ],
)
def test_a_fresh_process_loads_saved_models(saved_models, imports):
    data_path, paths, expected = saved_models
    result = subprocess.run(
        [sys.executable, "-c", LOAD.format(imports=imports), data_path, *paths],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    registered = sorted(
        n for n in keras.saving.get_custom_objects() if n.startswith("tfp_realnvp>")
    )
    assert loaded["registered"] == registered
    for log_prob, want in zip(loaded["log_probs"], expected, strict=True):
        np.testing.assert_allclose(log_prob, want, rtol=1e-5)
