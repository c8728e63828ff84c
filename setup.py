"""Installs tfp_realnvp: Real NVP (Dinh et al., ICLR 2017) as TensorFlow Probability bijectors."""

from setuptools import find_packages, setup

setup(
    name="tfp_realnvp",
    version="0.1.0",
    description="Multi-scale Real NVP normalising flows as TensorFlow Probability bijectors, "
    "trained with Keras 3.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tfp_realnvp", "tfp_realnvp.*"]),
    # Checked with these versions; the private TFP / Keras APIs the package uses are listed in
    # COMPATIBILITY.md, and tests/test_private_apis.py fails by name if an upgrade removes one.
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tensorflow-probability>=0.25,<0.26",
        # TFP 0.25 imports Keras 2 (tf_keras) at import time, although nothing here uses it.
        "tf-keras>=2.21,<2.22",
        "keras>=3.10,<4",
        # TensorFlow 2.21 no longer installs TensorBoard, which the training callbacks write for.
        "tensorboard>=2.21,<2.22",
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets needs it (lazily) to prepare any dataset.
        "importlib_resources",
        "numpy",
        # The CLI's default dataset (8x8 digits) ships inside scikit-learn: no download.
        "scikit-learn",
        "pillow",
    ],
    extras_require={
        # The example scripts draw their charts and picture grids with matplotlib.
        "plots": ["matplotlib"],
        "dev": [
            "pytest>=8",
            "pytest-xdist",
            "ruff",
            # The docs build (mkdocs build --strict) is one of the tests.
            "mkdocs>=1.6",
            "mkdocs-material>=9.5",
            "mkdocstrings[python]>=0.26",
            # The tests run the examples.
            "matplotlib",
        ],
    },
    entry_points={"console_scripts": ["tfp-realnvp=tfp_realnvp.cli:main"]},
)
