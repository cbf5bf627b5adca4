"""Image figures: a picture, rows of label maps with a legend, rows of heat maps with a colour
bar, and keypoint matches drawn on a pair of images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.layouts import gridplot
from bokeh.models import Legend, LegendItem, LinearColorMapper
from bokeh.palettes import Category10, Viridis256
from bokeh.plotting import figure

from ._style import THEMED, key_figure, legend_proxy
from .maps import colour_bar

__all__ = ["image", "heat_maps", "keypoint_matches", "label_maps"]

_PALETTE = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in Category10[10]], np.uint8)


def _rgb(img) -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an [H, W, 3] RGB image, got shape {arr.shape}")
    return arr.astype(np.uint8)


def _frame(h: int, w: int, title: str, size: int, extra_width: int = 0):
    fig = figure(width=size + extra_width, height=size + (18 if title else 0), title=title,
                 x_range=(0, w), y_range=(0, h), toolbar_location=None, tools="", name=THEMED)
    fig.axis.visible = False
    fig.grid.visible = False
    fig.title.text_font_size = "8pt"
    return fig


def image(img, title: str = "", size: int = 130, extra_width: int = 0):
    """A figure showing an ``[H, W, 3]`` uint8 image (PIL or array), row 0 at the top: a pixel
    point ``(x, y)`` plots at ``(x, H - y)``. ``extra_width`` px are added for a legend."""
    rgb = _rgb(img)
    h, w = rgb.shape[:2]
    rgba = np.dstack([rgb, np.full((h, w), 255, np.uint8)]).view(np.uint32).reshape(h, w)
    fig = _frame(h, w, title, size, extra_width)
    fig.image_rgba(image=[np.ascontiguousarray(rgba[::-1])], x=0, y=0, dw=w, dh=h)
    return fig


def _image_row(imgs: list[np.ndarray], titles: Sequence[str] | None, size: int) -> list:
    titles = list(titles) if titles is not None else [f"#{i}" for i in range(len(imgs))]
    if len(titles) != len(imgs):
        raise ValueError(f"{len(titles)} titles for {len(imgs)} images")
    return [image(im, t, size) for im, t in zip(imgs, titles, strict=True)]


def _blend(img: np.ndarray, labels: np.ndarray, alpha: float) -> np.ndarray:
    lab = np.asarray(labels, dtype=np.int64)
    colours = _PALETTE[lab % len(_PALETTE)]
    ry, rx = img.shape[0] // lab.shape[0], img.shape[1] // lab.shape[1]
    up = np.repeat(np.repeat(colours, ry, 0), rx, 1)
    return ((1 - alpha) * img + alpha * up).astype(np.uint8)


def _key_cell(size: int, width: int = 130):
    """The key cell at the end of a grid row: as tall as the row's titled images."""
    return key_figure(width, size + 18)


def _key_legend(key, entries: list[tuple[str, dict]]):
    """Fill a key cell with a legend of ``(label, scatter visuals)`` entries."""
    items = [LegendItem(label=label, renderers=[legend_proxy(key, "scatter", **visuals)])
             for label, visuals in entries]
    key.add_layout(Legend(items=items, location="top_left", label_text_font_size="8pt",
                          spacing=0, padding=2, border_line_color=None,
                          background_fill_alpha=0))
    return key


def label_maps(images: Sequence, rows: Mapping[str, Sequence], *,
               names: Mapping[str, Sequence[str]] | None = None,
               titles: Sequence[str] | None = None, alpha: float = 0.65, size: int = 105):
    """A grid: the images in the first row, then one row per labelling, each patch coloured by
    its integer label and blended over its image, with the colour key at the end of the row.

    Args:
        images: ``B`` images ``[H, W, 3]`` uint8.
        rows: ``{row title: [B, h, w] int labels}`` (a patch grid; ``H`` a multiple of ``h``),
            e.g. ground-truth part labels and k-means clusters.
        names: ``{row title: label names}``: label ``i`` of that row is ``names[i]``; rows
            without names (clusters) are keyed "cluster 0", "cluster 1", ...
        titles: one title per image (default ``#0``, ``#1``, ...).
        alpha: weight of the label colours over the image.
    """
    imgs = [_rgb(im) for im in images]
    grid = [[*_image_row(imgs, titles, size), None]]
    for row_title, labels in rows.items():
        if len(labels) != len(imgs):
            raise ValueError(f"rows[{row_title!r}] has {len(labels)} maps for {len(imgs)} images")
        figs = [image(_blend(im, lab, alpha), row_title, size)
                for im, lab in zip(imgs, labels, strict=True)]
        entries = (names or {}).get(row_title) or [
            f"cluster {i}" for i in range(int(np.max(labels)) + 1)]
        key = _key_legend(_key_cell(size), [
            (str(e), dict(marker="square", size=10, color=Category10[10][i % 10]))
            for i, e in enumerate(entries)])
        grid.append([*figs, key])
    return gridplot(grid, toolbar_location=None)


def heat_maps(images: Sequence, rows: Mapping[str, Sequence], *, colorbar_title: str,
              titles: Sequence[str] | None = None, size: int = 105):
    """A grid: the images in the first row, then one row of ``[h, w]`` maps per model, in one
    colour scale per row (its min to max) with a titled colour bar at the end of the row.

    Args:
        images: ``B`` images ``[H, W, 3]`` uint8.
        rows: ``{row title: [B, h, w] values}`` (e.g. CLS attention to the patches).
        colorbar_title: what the colours mean.
    """
    imgs = [_rgb(im) for im in images]
    grid = [[*_image_row(imgs, titles, size), None]]
    for row_title, maps in rows.items():
        maps = np.asarray(maps, dtype=np.float64)
        if len(maps) != len(imgs):
            raise ValueError(f"rows[{row_title!r}] has {len(maps)} maps for {len(imgs)} images")
        mapper = LinearColorMapper(palette=Viridis256, low=float(maps.min()),
                                   high=float(max(maps.max(), maps.min() + 1e-12)))
        figs = []
        for im, mp in zip(imgs, maps, strict=True):
            h, w = im.shape[:2]
            fig = _frame(h, w, row_title, size)
            fig.image(image=[mp[::-1]], x=0, y=0, dw=w, dh=h, color_mapper=mapper)
            figs.append(fig)
        key = _key_cell(size)
        key.add_layout(colour_bar(mapper, colorbar_title), "left")
        grid.append([*figs, key])
    return gridplot(grid, toolbar_location=None)


def keypoint_matches(image_a, points_a, image_b, targets, predictions: Mapping[str, tuple],
                     *, title_a: str = "A", size: int = 220):
    """Keypoints of image A matched into image B, one panel per model, and the key.

    Args:
        image_a, image_b: ``[H, W, 3]`` uint8 images.
        points_a, targets: ``[K, 2]`` ``(y, x)`` pixel points in A and their true places in B
            (keypoint ``k`` has the same colour in every panel).
        predictions: ``{panel title: ([K, 2] predicted (y, x) in B, [K] bool correct)}``.
    """
    pa, tb = np.asarray(points_a, float), np.asarray(targets, float)
    colours = [Category10[10][k % 10] for k in range(len(pa))]
    h = _rgb(image_a).shape[0]
    fa = image(image_a, title_a, size)
    fa.scatter(pa[:, 1], h - pa[:, 0], size=9, fill_color=colours, line_color="white")
    figs = [fa]
    for name, (pred, ok) in predictions.items():
        f = image(image_b, name, size)
        f.scatter(tb[:, 1], h - tb[:, 0], size=9, fill_color=colours, line_color="white",
                  alpha=0.6)
        pr, ok = np.asarray(pred, float), np.asarray(ok, bool)
        for sel, colour in ((ok, "lime"), (~ok, "red")):
            f.scatter(pr[sel, 1], h - pr[sel, 0], marker="x", size=12, line_width=3,
                      line_color=colour, name="correct" if colour == "lime" else "wrong")
        figs.append(f)
    key = _key_legend(_key_cell(size, width=190), [
        ("keypoint (A) / its truth (B)", dict(marker="circle", size=9, fill_color="grey",
                                              line_color="white")),
        ("match, correct", dict(marker="x", size=12, line_width=3, line_color="lime")),
        ("match, wrong", dict(marker="x", size=12, line_width=3, line_color="red"))])
    return gridplot([[*figs, key]], toolbar_location=None)
