"""Every example runs: each script in examples/ in `--quick` mode, in a subprocess.

The selected examples start together at the first test, two at a time (their first minute is
mostly single-threaded graph tracing), each writing into a temporary `--outdir`. Each test then
checks its example's exit status, that its PNGs are real, non-blank pictures, and that the
numbers in its metrics.json make sense. The examples draw with matplotlib (the "plots" extra):
without it they are skipped, and a test checks that they say how to install it.
"""

import concurrent.futures
import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest
from PIL import Image

# One worker runs them all (`pytest -n 2 --dist loadgroup`): they share one pool of processes.
pytestmark = pytest.mark.xdist_group("examples")

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"  # offline copies of MNIST and CIFAR-10
TIMEOUT_S = 420

# name -> (extra arguments, the real data it needs offline or None, PNGs it writes)
CASES = {
    "two_moons": ([], None, ["two_moons.png"]),
    "custom_training_loop": ([], None, ["custom_training_loop.png"]),
    "flow_as_a_component": ([], None, ["flow_as_a_component.png"]),
    "conditional_mnist": ([], None, ["samples_per_class.png", "unconditional_samples.png"]),
    "mnist": (
        ["--manual-dir", str(SHARED_DATA / "mnist")],
        SHARED_DATA / "mnist",
        [
            "samples.png",
            "temperatures.png",
            "interpolation.png",
            "scales.png",
            "bits_per_dim.png",
            "overview.png",
        ],
    ),
    "cifar10": (
        ["--manual-dir", str(SHARED_DATA / "cifar10")],
        SHARED_DATA / "cifar10",
        ["samples.png", "bits_per_dim.png"],
    ),
}


def test_every_example_is_tested():
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(CASES)


def test_examples_say_how_to_install_matplotlib():
    # Hide matplotlib (a None entry in sys.modules makes its import fail), then import the
    # examples' picture helpers as the scripts do.
    hide = "import sys; sys.modules['matplotlib'] = None; sys.path.insert(0, sys.argv[1]); "
    result = subprocess.run(
        [sys.executable, "-c", hide + "import _pictures", str(EXAMPLES)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "pip install matplotlib" in result.stderr, result.stderr[-2000:]
    assert 'pip install -e ".[plots]"' in result.stderr


def _run(name, workdir):
    extra, _, _ = CASES[name]
    command = [
        sys.executable,
        str(EXAMPLES / f"{name}.py"),
        "--quick",
        "--outdir",
        str(workdir / name),
        *extra,
    ]
    if name in ("mnist", "cifar10"):
        command += ["--data-dir", str(workdir / "tensorflow_datasets")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired as error:
        return error


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """name -> a future of the example's finished process, for the selected examples only."""
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip('the examples draw with matplotlib: pip install -e ".[plots]"')
    selected = {
        item.callspec.params["example"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    }
    workdir = tmp_path_factory.mktemp("examples")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    futures = {
        name: pool.submit(_run, name, workdir)
        for name in CASES
        if name in selected and (CASES[name][1] is None or CASES[name][1].is_dir())
    }
    yield workdir, futures
    pool.shutdown(wait=True, cancel_futures=True)


def _check_png(path):
    assert path.is_file(), f"{path.name} was not written"
    with Image.open(path) as image:
        image.verify()  # a complete, uncorrupted PNG
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 64 and image.height >= 64, image.size
        extrema = image.convert("L").getextrema()
        assert extrema[1] - extrema[0] > 50, f"{path.name} is blank: grey levels {extrema}"
    assert path.stat().st_size < 2_000_000


def _finite(value, low, high, what):
    assert isinstance(value, (int, float)) and math.isfinite(value), f"{what} = {value!r}"
    assert low < value < high, f"{what} = {value} is outside ({low}, {high})"


def _check_metrics(name, metrics):
    if name == "two_moons":
        _finite(metrics["test_nll_nats"], -5.0, 10.0, "test NLL")
        assert metrics["final_loss"] < metrics["first_loss"], "training did not lower the loss"
    elif name == "custom_training_loop":
        _finite(metrics["test_bits_per_dim"], 0.0, 8.0, "test bits/dim")
        assert metrics["test_bits_per_dim"] < metrics["initial_test_bits_per_dim"]
    elif name == "flow_as_a_component":
        groups = metrics["groups"]
        assert set(groups) >= {"test digits", "inverted digits", "uniform noise"}
        for group_name, group in groups.items():
            _finite(group["mean_bits_per_dim"], 0.0, 1e4, f"{group_name} bits/dim")
            assert 0.0 <= group["mean_outlier_probability"] <= 1.0
        # Even a barely trained flow tells inverted digits (white background) from digits.
        assert groups["inverted digits"]["auroc"] > 0.5
    elif name == "conditional_mnist":  # --quick: the 8x8 digits, 17 grey levels
        conditional = metrics["conditional_test_bits_per_dim"]
        _finite(conditional, 0.0, 8.0, "conditional test bits/dim")
        _finite(metrics["unconditional_test_bits_per_dim"], 0.0, 8.0, "unconditional bits/dim")
        assert metrics["classified_images"] == 297  # the whole digits test split
        # Even 60 steps make the flow a classifier better than chance (0.1).
        _finite(metrics["classification_accuracy"], 0.15, 1.0, "classification accuracy")
    else:  # mnist, cifar10: 8-bit images
        _finite(metrics["test_bits_per_dim"], 0.0, 16.0, "test bits/dim")
        assert all(math.isfinite(b) for b in metrics["train_bits_per_dim"])


# The MNIST-sized examples (about 50 s each) run with `pytest -m slow` (and in CI).
SLOW_EXAMPLES = {"mnist", "conditional_mnist"}


@pytest.mark.parametrize(
    "example",
    [pytest.param(name, marks=pytest.mark.slow if name in SLOW_EXAMPLES else ()) for name in CASES],
)
def test_example_runs_quick(example, runs):
    workdir, futures = runs
    _, data, pngs = CASES[example]
    if data is not None and not data.is_dir():
        pytest.skip(f"{example} needs the offline data in {data} (no internet here)")
    result = futures[example].result()
    if isinstance(result, subprocess.TimeoutExpired):
        pytest.fail(f"examples/{example}.py --quick ran longer than {TIMEOUT_S} s")
    assert result.returncode == 0, (
        f"examples/{example}.py --quick failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    outdir = workdir / example
    for png in pngs:
        _check_png(outdir / png)
    _check_metrics(example, json.loads((outdir / "metrics.json").read_text()))
