"""Sample grids: model samples in [0, 1] -> one uint8 image, for TensorBoard and PNG files."""

import math

import numpy as np


def to_pixels(images, num_bins=256):
    """Dequantised values x in [0, 1] -> displayable uint8 pixels.

    The discrete level of x is floor(x * num_bins) (the inverse of x = (level + u) / num_bins),
    clipped to [0, num_bins - 1] here, and only here: samples may leave [0, 1] slightly. Levels
    are spread over 0..255 for display.

    Args:
      images: float array [..., H, W, C].
      num_bins: the number of levels of a pixel (256, or 17 for scikit-learn's digits).

    Returns:
      uint8 array of the same shape.
    """
    levels = np.clip(np.floor(np.asarray(images, np.float64) * num_bins), 0, num_bins - 1)
    return np.round(levels * (255.0 / (num_bins - 1))).astype(np.uint8)


def image_grid(images, num_bins=256, columns=None, zoom=None, padding=1):
    """Tiles a batch of images [N, H, W, C] (values in [0, 1]) into one uint8 image.

    Images with C other than 1 or 3 show their channels side by side, in grey.

    Args:
      images: float array [N, H, W, C].
      num_bins: the number of levels of a pixel (see `to_pixels`).
      columns: images per row; default ceil(sqrt(N)).
      zoom: integer nearest-neighbour upscaling of each image; default: enough to make small
        images (such as 8x8 digits) at least 32 pixels high.
      padding: grey pixels between images.

    Returns:
      uint8 array [rows * (H*zoom + padding) + padding, columns * (W'*zoom + padding) + padding,
      C'], where W' = W and C' = C for grey and colour images, W' = W * C and C' = 1 otherwise.

    Example:
      >>> grid = image_grid(np.full([5, 8, 8, 1], 0.5), columns=3, zoom=1)
      >>> grid.shape, grid.dtype
      ((19, 28, 1), dtype('uint8'))
    """
    pixels = to_pixels(images, num_bins)
    if pixels.ndim != 4 or pixels.shape[0] == 0:
        raise ValueError(f"`images` must have shape [N, H, W, C] with N > 0; got {pixels.shape}.")
    if pixels.shape[-1] not in (1, 3):
        # [N, H, W, C] -> [N, H, C * W, 1]: the channels side by side.
        pixels = pixels.transpose(0, 1, 3, 2).reshape(*pixels.shape[:2], -1, 1)
    count, height, width, channels = pixels.shape
    if zoom is None:
        zoom = max(1, math.ceil(32 / height))
    pixels = pixels.repeat(zoom, axis=1).repeat(zoom, axis=2)
    height, width = height * zoom, width * zoom
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        128,
        np.uint8,
    )
    for index in range(count):
        row, column = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def class_rows(num_classes, num_samples):
    """Labels for a grid with one row per class: [K * n] (n = ceil(num_samples / K) samples of
    class 0, then of class 1, ...) and the row length n, for `image_grid(..., columns=n)`.

    Example:
      >>> class_rows(3, 5)
      (array([0, 0, 1, 1, 2, 2]), 2)
    """
    per_class = max(1, math.ceil(num_samples / num_classes))
    return np.repeat(np.arange(num_classes), per_class), per_class


def save_png(path, grid):
    """Writes a uint8 image [H, W, 1 or 3] as a PNG file (with pillow)."""
    from PIL import Image

    grid = np.asarray(grid, np.uint8)
    image = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    image.save(path, format="PNG")
