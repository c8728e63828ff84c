"""Small Pillow helpers that write the examples' pictures (no matplotlib needed).

Shared by the example scripts, not part of the library: image grids, 2-D scatter plots and
density maps, a line chart, captions, and stacking panels side by side.
"""

import math
import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
GRID = (225, 225, 225)
# Anchors of the viridis colour map (dark blue -> yellow), interpolated linearly.
_VIRIDIS = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64
)
LINE_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def font(size=14):
    return ImageFont.load_default(size=size)


def colour_map(values):
    """Viridis colours (uint8 [..., 3]) for values in [0, 1]."""
    t = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    low = np.minimum(np.floor(t).astype(int), len(_VIRIDIS) - 2)
    frac = (t - low)[..., None]
    return ((1 - frac) * _VIRIDIS[low] + frac * _VIRIDIS[low + 1]).astype(np.uint8)


def hue_colours(values):
    """A cyclic rainbow (uint8 [..., 3]) for values in [0, 1]: colours points by position."""
    t = 2 * np.pi * np.asarray(values, dtype=np.float64)[..., None]
    phases = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    return (255 * (0.5 + 0.42 * np.cos(t - phases))).astype(np.uint8)


def image_grid(images, num_cols, pad=2, zoom=1):
    """A grid of images [N, H, W, C] (C = 1 or 3, floats in [0, 1]) as a PIL image.

    Sampled pixels can lie slightly outside [0, 1] (see `LogitPreprocess`): they are clipped
    here, where the picture is written, and nowhere else.
    """
    images = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0)
    num, height, width, channels = images.shape
    if channels == 1:
        images = np.repeat(images, 3, axis=-1)
    num_rows = math.ceil(num / num_cols)
    canvas = np.full(
        (num_rows * (height + pad) + pad, num_cols * (width + pad) + pad, 3), 1.0, np.float64
    )
    for index in range(num):
        row, col = divmod(index, num_cols)
        top, left = pad + row * (height + pad), pad + col * (width + pad)
        canvas[top : top + height, left : left + width] = images[index]
    picture = Image.fromarray((255 * canvas).round().astype(np.uint8))
    if zoom != 1:
        picture = picture.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST)
    return picture


def with_title(picture, title, size=14):
    """`picture` with a caption strip above it (lines separated by newlines)."""
    lines = title.split("\n")
    strip = (size + 6) * len(lines) + 4
    canvas = Image.new("RGB", (picture.width, picture.height + strip), BACKGROUND)
    canvas.paste(picture, (0, strip))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text(
            (picture.width / 2, 4 + i * (size + 6)), line, fill=INK, font=font(size), anchor="ma"
        )
    return canvas


def with_column_titles(picture, titles, size=13):
    """`picture` (a grid of equal columns) with one caption centred over each column."""
    strip = size + 10
    canvas = Image.new("RGB", (picture.width, picture.height + strip), BACKGROUND)
    canvas.paste(picture, (0, strip))
    draw = ImageDraw.Draw(canvas)
    column_width = picture.width / len(titles)
    for i, title in enumerate(titles):
        centre = (i + 0.5) * column_width
        draw.text((centre, 4), title, fill=INK, font=font(size), anchor="ma")
    return canvas


def side_by_side(pictures, gap=12):
    """Pictures next to each other, top-aligned, on a white background."""
    width = sum(p.width for p in pictures) + gap * (len(pictures) + 1)
    height = max(p.height for p in pictures) + 2 * gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    left = gap
    for picture in pictures:
        canvas.paste(picture, (left, gap))
        left += picture.width + gap
    return canvas


def stacked(pictures, gap=6):
    """Pictures above each other, left-aligned, on a white background."""
    width = max(p.width for p in pictures)
    height = sum(p.height for p in pictures) + gap * (len(pictures) - 1)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    top = 0
    for picture in pictures:
        canvas.paste(picture, (0, top))
        top += picture.height + gap
    return canvas


def _frame(draw, size):
    draw.rectangle([0, 0, size - 1, size - 1], outline=INK)


def scatter(points, colours, extent, size=220, radius=1.5):
    """A square scatter plot of 2-D `points` [N, 2] with colours [N, 3], axes in `extent`."""
    low, high = extent
    canvas = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    centre = (0.0 - low) / (high - low) * size
    if 0 < centre < size:
        draw.line([(centre, 0), (centre, size)], fill=GRID)
        draw.line([(0, centre), (size, centre)], fill=GRID)
    pixels = (np.asarray(points) - low) / (high - low) * size
    for (px, py), colour in zip(pixels, colours, strict=True):
        py = size - py  # y axis upwards
        draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=tuple(colour))
    _frame(draw, size)
    return canvas


def density_map(log_density, size=220):
    """A square heat map of a log-density on a grid [n, n] (row 0 = lowest y), viridis colours.

    Shows the density itself (exp), scaled to its maximum, so the mass is where it is bright.
    """
    values = np.exp(log_density - np.max(log_density))[::-1]  # image rows run downwards
    picture = Image.fromarray(colour_map(values)).resize((size, size), Image.BILINEAR)
    _frame(ImageDraw.Draw(picture), size)
    return picture


def _nice_ticks(low, high, count=5):
    span = high - low if high > low else 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def line_chart(series, xlabel, ylabel, size=(520, 320), title=None):
    """A line chart of `series`: {label: (xs, ys)}, with axes, ticks, grid and a legend."""
    width, height = size
    left, right, top, bottom = 64, 16, 34 if title else 14, 46
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    xs_all = np.concatenate([np.asarray(x, np.float64) for x, _ in series.values()])
    ys_all = np.concatenate([np.asarray(y, np.float64) for _, y in series.values()])
    x_low, x_high = float(xs_all.min()), float(xs_all.max())
    y_low, y_high = float(ys_all.min()), float(ys_all.max())
    margin = 0.06 * (y_high - y_low or 1.0)
    y_low, y_high = y_low - margin, y_high + margin
    if x_high == x_low:
        x_high = x_low + 1.0

    def to_pixel(x, y):
        px = left + (x - x_low) / (x_high - x_low) * (width - left - right)
        py = top + (y_high - y) / (y_high - y_low) * (height - top - bottom)
        return px, py

    small = font(12)
    for tick in _nice_ticks(y_low, y_high):
        _, py = to_pixel(x_low, tick)
        draw.line([(left, py), (width - right, py)], fill=GRID)
        draw.text((left - 6, py), f"{tick:g}", fill=INK, font=small, anchor="rm")
    for tick in _nice_ticks(x_low, x_high):
        px, _ = to_pixel(tick, y_low)
        draw.line([(px, top), (px, height - bottom)], fill=GRID)
        draw.text((px, height - bottom + 6), f"{tick:g}", fill=INK, font=small, anchor="ma")
    draw.rectangle([left, top, width - right, height - bottom], outline=INK)
    for index, (label, (xs, ys)) in enumerate(series.items()):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        points = [to_pixel(x, y) for x, y in zip(xs, ys, strict=True)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points if len(points) <= 40 else []:
            draw.ellipse([px - 2.5, py - 2.5, px + 2.5, py + 2.5], fill=colour)
        legend_y = top + 8 + 18 * index
        draw.line(
            [(width - right - 150, legend_y), (width - right - 126, legend_y)], fill=colour, width=3
        )
        draw.text((width - right - 120, legend_y), label, fill=INK, font=small, anchor="lm")
    draw.text(
        ((left + width - right) / 2, height - 18), xlabel, fill=INK, font=font(13), anchor="ma"
    )
    label = Image.new("RGB", (height - top - bottom, 18), BACKGROUND)
    ImageDraw.Draw(label).text((label.width / 2, 0), ylabel, fill=INK, font=font(13), anchor="ma")
    canvas.paste(label.rotate(90, expand=True), (4, top))
    if title:
        draw.text((width / 2, 8), title, fill=INK, font=font(14), anchor="ma")
    return canvas


def save_png(picture, path):
    """Writes `picture` as an optimised PNG, creating the folder; returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, optimize=True)
    return path
