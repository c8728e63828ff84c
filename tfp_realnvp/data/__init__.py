"""Data pipelines for the paper's datasets: dequantised float32 image batches in [0, 1).

>>> import tfp_realnvp.data as data
>>> train = data.load("digits", split="train", batch_size=64)  # shuffled, fresh noise
>>> test = data.load("digits", split="test", batch_size=64, noise_seed=0)  # fixed noise
>>> data.num_bins("cifar10"), data.image_shape("cifar10")
(256, (32, 32, 3))
>>> cifar = data.load("cifar10", split="train", batch_size=64,  # doctest: +SKIP
...                   manual_dir="../shared/data/cifar10")  # CIFAR-10's .bin files, or a download

`noise_seed=0` fixes the dequantisation noise, so held-out bits/dim are reproducible.
"""

from tfp_realnvp.data.dequantize import dequantize
from tfp_realnvp.data.errors import DatasetNotAvailableError
from tfp_realnvp.data.info import DatasetInfo
from tfp_realnvp.data.loader import load
from tfp_realnvp.data.registry import dataset_info, dataset_names, image_shape, num_bins

__all__ = [
    "DatasetInfo",
    "DatasetNotAvailableError",
    "dataset_info",
    "dataset_names",
    "dequantize",
    "image_shape",
    "load",
    "num_bins",
]
