"""What the example scripts share to draw their pictures: matplotlib and the library's grids.

Charts are matplotlib's, an optional extra of the package: `pip install matplotlib`, or
`pip install -e ".[plots]"` in a clone. Images are tiled by `tfp_realnvp.training.image_grid`,
the grids TensorBoard shows: each pixel at its discrete level, clipped only there.
"""

import pathlib

try:  # first, so that a missing matplotlib is reported before TensorFlow is imported
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator
except ModuleNotFoundError:
    raise SystemExit(
        "The examples draw their pictures with matplotlib, an optional extra: "
        'pip install matplotlib  (or, in a clone: pip install -e ".[plots]")'
    ) from None

from tfp_realnvp.training.image_grid import image_grid

__all__ = ["draw_learning_curve", "plt", "save_figure", "show_images"]


def show_images(ax, images, num_bins=256, columns=None, title=None):
    """Draws images [N, H, W, C] with values in [0, 1] on `ax`, as one grid of `columns`."""
    grid = image_grid(images, num_bins=num_bins, columns=columns, zoom=1)
    if grid.shape[-1] == 1:
        ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)


def draw_learning_curve(ax, x, history, xlabel, title):
    """Training and held-out bits/dim of a Keras `fit` history against `x`, on `ax`."""
    ax.plot(x, history["bits_per_dim"], marker="o", label="train")
    if "val_bits_per_dim" in history:
        ax.plot(x, history["val_bits_per_dim"], marker="o", label="test")
    ax.set(xlabel=xlabel, ylabel="bits/dim", title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and steps are whole
    ax.grid(alpha=0.3)
    ax.legend()


def save_figure(figure, path):
    """Writes `figure` as a PNG (creating the folder), closes it, and returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
