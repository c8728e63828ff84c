"""Data pipelines: dequantised float32 image batches in [0, 1) from named datasets, folders of
images, array files and any tensorflow-datasets image dataset.

>>> import tfp_realnvp.data as data
>>> train = data.load("digits", split="train", batch_size=64)  # shuffled, fresh noise
>>> test = data.load("digits", split="test", batch_size=64, noise_seed=0)  # fixed noise
>>> data.num_bins("cifar10"), data.image_shape("cifar10")
(256, (32, 32, 3))
>>> cifar = data.load("cifar10", split="train", batch_size=64,  # doctest: +SKIP
...                   manual_dir="../shared/data/cifar10")  # CIFAR-10's .bin files, or a download

`noise_seed=0` fixes the dequantisation noise, so held-out bits/dim are reproducible.

Any source works the same way: `data.load("my_faces/", split="train", batch_size=64,
image_size=64, num_bits=5)` reads a folder of images (see the "Your own data" docs page).

Files: `loader` (`load`), `sources` (what a source names), `registry` (`DatasetInfo` and the
named datasets), readers `arrays` (.npy/.npz, idx, CIFAR-10 .bin, digits), `image_files`
(PNG/JPEG folders) and `tfds_source` (tensorflow-datasets), `preprocessing` (crops, resizes,
flips), `dequantize`, `perturb` (background-model noise) and `errors`.
"""

from tfp_realnvp.data.dequantize import dequantize, reduce_bits
from tfp_realnvp.data.errors import DatasetNotAvailableError
from tfp_realnvp.data.loader import load
from tfp_realnvp.data.perturb import perturb_pixels
from tfp_realnvp.data.registry import DatasetInfo, dataset_names
from tfp_realnvp.data.sources import dataset_info, image_shape, num_bins

__all__ = [
    "DatasetInfo",
    "DatasetNotAvailableError",
    "dataset_info",
    "dataset_names",
    "dequantize",
    "image_shape",
    "load",
    "num_bins",
    "perturb_pixels",
    "reduce_bits",
]
