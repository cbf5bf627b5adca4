"""What every figure of :mod:`vitwidgets.plots` shares: the legend outside the data, one colour
per series, reference lines that have a legend entry, and argument checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.models import Legend, LegendItem
from bokeh.palettes import Category10
from bokeh.plotting import figure

__all__ = ["AXIS_TYPES", "LEGEND_PLACES", "as_array", "colours_for", "key_figure",
           "legend_outside", "legend_proxy", "new_figure", "reference_line"]

#: the y axis types a plot accepts
AXIS_TYPES = ("linear", "log")
#: where a legend may go: beside the plot frame (a column) or above it (a row)
LEGEND_PLACES = ("right", "above")
#: the dash of successive reference lines (so that two references stay apart in the legend)
REF_DASHES = ("dotted", "dotdash", "dashed", "dashdot")
REF_COLOUR = "#7f7f7f"


def as_array(value, ndim: int, what: str) -> np.ndarray:
    """``value`` (numpy, torch or nested lists) as a float numpy array of ``ndim`` dimensions;
    a ``ValueError`` naming ``what`` and the expected shape otherwise."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{what}: expected {ndim} dimension(s), got shape {arr.shape}")
    return arr


def colours_for(names: Sequence[str], colors: Mapping[str, str] | None = None) -> dict[str, str]:
    """A colour per name: ``colors[name]`` where given, else the next Category10 colour."""
    colors = dict(colors or {})
    palette = [c for c in Category10[10] if c not in colors.values()] or list(Category10[10])
    free = iter(palette * (len(names) // len(palette) + 1))
    return {n: colors[n] if n in colors else next(free) for n in names}


#: the name that makes vitwidgets' JupyterLab extension follow the dark theme (frame, axes,
#: grid, legends and titles; never the data's colours): js/src/labextension/theme.js
THEMED = "vw-plot-notebook"


def new_figure(title: str, x_label: str, y_label: str, *, width: int, height: int,
               y_axis_type: str = "linear", **kwargs):
    """A bokeh figure with the house tools; ``y_axis_type`` is ``"linear"`` or ``"log"``."""
    if y_axis_type not in AXIS_TYPES:
        raise ValueError(f"y_axis_type must be one of {AXIS_TYPES}, got {y_axis_type!r}")
    kwargs.setdefault("tools", "pan,wheel_zoom,box_zoom,reset,save")
    fig = figure(title=title, x_axis_label=x_label, y_axis_label=y_label, width=width,
                 height=height, y_axis_type=y_axis_type, name=THEMED, **kwargs)
    fig.toolbar.logo = None
    return fig


def legend_outside(fig, items: Sequence[tuple[str, list]], *, title: str | None = None,
                   place: str = "right", clickable: bool = True) -> Legend:
    """Put a legend of ``(label, renderers)`` items outside the plot frame (never over the
    data): ``place="right"`` stacks the entries beside it, ``"above"`` lays them out in rows
    above it. Clicking an entry hides its renderers when ``clickable``."""
    if place not in LEGEND_PLACES:
        raise ValueError(f"legend place must be one of {LEGEND_PLACES}, got {place!r}")
    legend = Legend(items=[LegendItem(label=label, renderers=list(rs)) for label, rs in items],
                    location="top_left", label_text_font_size="8pt", spacing=2, padding=4,
                    glyph_width=18)
    if title:
        legend.title = title
        legend.title_text_font_size = "8pt"
    if clickable:
        legend.click_policy = "hide"
    if place == "above":
        legend.orientation = "horizontal"
        legend.margin = 0
    fig.add_layout(legend, place)
    return legend


def reference_line(fig, y: float, x_extent: tuple[float, float], index: int = 0):
    """A grey horizontal line at ``y`` across ``x_extent`` (a renderer, so it gets a legend
    entry; a bokeh ``Span`` cannot)."""
    return fig.line(list(x_extent), [float(y)] * 2, line_color=REF_COLOUR, line_width=1.5,
                    line_dash=REF_DASHES[index % len(REF_DASHES)])


def legend_proxy(fig, glyph: str = "line", **visuals):
    """A renderer that draws nothing in the plot (one NaN point) but gives a legend entry its
    glyph: BokehJS draws no legend glyph for a renderer without data. ``glyph`` is ``"line"``
    or ``"scatter"``; ``visuals`` are its line/fill/marker properties."""
    if glyph not in ("line", "scatter"):
        raise ValueError(f"legend_proxy glyph must be 'line' or 'scatter', got {glyph!r}")
    return getattr(fig, glyph)([np.nan], [np.nan], **visuals)


def key_figure(width: int, height: int):
    """An empty figure without axes, grid, frame or tools: a cell of a grid of images that
    holds only a colour key (a legend or a colour bar), so the images keep equal columns."""
    fig = figure(width=width, height=height, toolbar_location=None, tools="",
                 x_range=(0, 1), y_range=(0, 1), min_border=0, outline_line_color=None,
                 name=THEMED)
    fig.axis.visible = False
    fig.grid.visible = False
    legend_proxy(fig)  # a renderer, so that bokeh does not warn of an empty plot
    return fig
