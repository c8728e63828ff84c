"""Sample grids: discrete levels, clipping only here, layout, PNG files."""

import numpy as np
import pytest
from PIL import Image

from tfp_realnvp.training.image_grid import image_grid, save_png, to_pixels


def test_to_pixels_takes_the_level_and_clips():
    # Levels of x = (level + u) / 17, spread over 0..255; out-of-range samples are clipped.
    x = np.array([-0.03, 0.0, 0.5 / 17, 1.5 / 17, 16.9 / 17, 1.0, 1.04])
    expected = np.round(np.array([0, 0, 0, 1, 16, 16, 16]) * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(to_pixels(x, num_bins=17), expected)
    np.testing.assert_array_equal(to_pixels([0.0, 200.5 / 256, 1.0]), [0, 200, 255])


def test_grid_layout_padding_and_zoom():
    images = np.zeros([5, 2, 3, 3])
    for index in range(5):
        images[index] = (index + 0.5) / 256  # pixel value = index
    grid = image_grid(images, columns=3, zoom=2, padding=1)
    assert grid.shape == (2 * (4 + 1) + 1, 3 * (6 + 1) + 1, 3)
    assert grid[0].tolist() == [[128] * 3] * grid.shape[1]  # the padding
    np.testing.assert_array_equal(grid[1:5, 1:7], 0)  # image 0, zoomed 2x
    np.testing.assert_array_equal(grid[1:5, 8:14], 1)  # image 1
    np.testing.assert_array_equal(grid[6:10, 8:14], 4)  # image 4: second row, second column
    np.testing.assert_array_equal(grid[6:10, 15:21], 128)  # no sixth image


def test_default_zoom_makes_small_images_32_pixels_high():
    grid = image_grid(np.full([4, 8, 8, 1], 0.5), num_bins=17)
    assert grid.shape == (2 * 33 + 1, 2 * 33 + 1, 1)
    assert image_grid(np.zeros([1, 64, 64, 3])).shape == (66, 66, 3)


def test_other_channel_counts_are_shown_side_by_side():
    images = np.zeros([1, 2, 2, 2])
    images[..., 1] = 1.0
    grid = image_grid(images, zoom=1, padding=0)
    assert grid.shape == (2, 4, 1)
    np.testing.assert_array_equal(grid[..., 0], [[0, 0, 255, 255], [0, 0, 255, 255]])


def test_empty_batch_is_rejected():
    with pytest.raises(ValueError, match=r"^`images` must have shape \[N, H, W, C\] with N > 0"):
        image_grid(np.zeros([0, 4, 4, 1]))


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_save_png(tmp_path, channels, mode):
    grid = image_grid(np.random.default_rng(0).uniform(size=[4, 8, 8, channels]))
    path = tmp_path / "grid.png"
    save_png(path, grid)
    image = Image.open(path)
    assert image.mode == mode
    np.testing.assert_array_equal(np.asarray(image).reshape(grid.shape), grid)
