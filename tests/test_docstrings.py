"""Every docstring example runs: the `>>>` examples of every public module, as doctests.

As zuko does, the examples of `tfp_realnvp`'s docstrings are collected with `doctest` and run,
each in a temporary working directory, with the module's own names and a small namespace:
`tf`, `tfp`, `tfd`, `tfb`, `np`, `keras`, `tfp_realnvp` and its public names, and `images`, a
batch [4, 8, 8, 1] of dequantised pixels in [0, 1) for the examples that say they use it.
Outputs are compared with `ELLIPSIS` and `NORMALIZE_WHITESPACE`. An example that must train for
long or download is marked `# doctest: +SKIP` in its docstring, with the reason beside it.
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp

# Public modules only: `tfp_realnvp.cli.__main__` would run the command line when imported.
MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(tfp_realnvp.__path__, "tfp_realnvp.")
    if not any(part.startswith("_") for part in name.split("."))
)


def namespace():
    """The names every example may use besides its module's own."""
    names = {name: getattr(tfp_realnvp, name) for name in tfp_realnvp.__all__}
    names.update(
        tf=tf,
        tfp=tfp,
        tfd=tfp.distributions,
        tfb=tfp.bijectors,
        np=np,
        keras=keras,
        tfp_realnvp=tfp_realnvp,
        images=tf.random.stateless_uniform([4, 8, 8, 1], seed=[0, 0]),
    )
    return names


def docstring_examples():
    """Every docstring with examples in the package: one `doctest.DocTest` each."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    examples = []
    for name in ["tfp_realnvp", *MODULES]:
        module = importlib.import_module(name)
        examples += [test for test in finder.find(module, name) if test.examples]
    return sorted(examples, key=lambda test: test.name)


EXAMPLES = docstring_examples()


def test_examples_are_collected():
    modules = {test.name.rsplit(".", 1)[0] for test in EXAMPLES}
    assert "tfp_realnvp.bijectors.masks" in modules
    assert "tfp_realnvp.networks.resnet_conditioner" in modules
    assert len(EXAMPLES) >= 10, [test.name for test in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda test: test.name)
def test_docstring_example_runs(example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
    example.globs.update(namespace())
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    report = []
    result = runner.run(example, out=report.append)
    example.globs.clear()  # free the example's tensors and models
    assert result.failed == 0, "".join(report)
