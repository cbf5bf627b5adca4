"""Per-head and per-layer figures: one dot per head, one line per model or series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool

from ._style import (
    as_array,
    colours_for,
    legend_outside,
    legend_proxy,
    new_figure,
    reference_line,
)

__all__ = ["per_head", "per_layer"]


def _references(fig, refs: Mapping[str, float] | None, x_extent) -> list[tuple[str, list]]:
    return [(label, [reference_line(fig, y, x_extent, i)])
            for i, (label, y) in enumerate((refs or {}).items())]


def per_head(values: Mapping[str, object], *, title: str, y_label: str, x_label: str = "block",
             refs: Mapping[str, float] | None = None, y_axis_type: str = "linear",
             colors: Mapping[str, str] | None = None, legend: str = "right",
             width: int = 640, height: int = 330):
    """One dot per head and a line through the mean over heads, for each model.

    Args:
        values: ``{model name: [L, H] array}`` (numpy or torch), e.g. a metric per block and
            head; models may differ in ``L`` and ``H``.
        title, y_label, x_label: texts of the figure (the x axis counts blocks from 0).
        refs: ``{legend label: y}`` horizontal reference lines (e.g. uniform attention),
            each with its own legend entry.
        y_axis_type: ``"linear"`` or ``"log"`` (when the values span decades).
        colors: ``{model name: colour}``; others get Category10 colours.
        legend: ``"right"`` of the plot frame or ``"above"`` it (in a row; for few entries).

    Returns:
        A bokeh figure, its legend outside the plot frame (click an entry to hide it).
    """
    if not values:
        raise ValueError("per_head needs at least one {name: [L, H] array}")
    arrays = {name: as_array(v, 2, f"values[{name!r}]") for name, v in values.items()}
    colour = colours_for(list(arrays), colors)
    fig = new_figure(title, x_label, y_label, width=width, height=height,
                     y_axis_type=y_axis_type)
    items, n = [], len(arrays)
    for i, (name, v) in enumerate(arrays.items()):
        nl, nh = v.shape
        layer, head = np.repeat(np.arange(nl), nh), np.tile(np.arange(nh), nl)
        src = ColumnDataSource(dict(x=layer + (i - (n - 1) / 2) * 0.6 / n, y=v.ravel(),
                                    layer=layer, head=head))
        dots = fig.scatter("x", "y", source=src, size=7, alpha=0.75, color=colour[name])
        line = fig.line(np.arange(nl), v.mean(1), color=colour[name], line_width=2)
        fig.add_tools(HoverTool(renderers=[dots], tooltips=[
            ("model", name), ("block", "@layer"), ("head", "@head"), (y_label, "@y{0.000}")]))
        items.append((f"{name}: heads (dots), mean (line)" if n == 1 else name, [dots, line]))
    top = max(v.shape[0] for v in arrays.values()) - 1
    items += _references(fig, refs, (-0.4, top + 0.4))
    fig.xaxis.ticker = list(range(top + 1))
    legend_outside(fig, items, place=legend)
    return fig


def per_layer(curves: Mapping[str, object], *, title: str, y_label: str,
              x_label: str = "block", dashed: Mapping[str, object] | None = None,
              styles: tuple[str, str] | None = None, refs: Mapping[str, float] | None = None,
              x_labels: Sequence[str] | None = None, relative_depth: bool = False,
              y_range: tuple[float, float] | None = None, y_axis_type: str = "linear",
              colors: Mapping[str, str] | None = None, legend: str = "right",
              width: int = 640, height: int = 330):
    """One line with dots per series against the layer, optionally a dashed companion line.

    Args:
        curves: ``{series name: [L] values}``, drawn solid with dots.
        dashed: ``{series name: [L] values}``, drawn dashed in the colour of the solid series of
            the same name (e.g. "recorded" next to "measured now", "best head" next to "mean").
        styles: ``(what solid means, what dashed means)``: legend entries for the two line
            styles; needed when ``dashed`` is given.
        refs: ``{legend label: y}`` horizontal reference lines (chance, an oracle, a baseline).
        x_labels: tick labels for x = 0, 1, ... (e.g. ``["embedding", "0", "1", ...]``).
        relative_depth: plot series of different depths on x = block / (L - 1) in [0, 1].
        y_range, y_axis_type: the y axis (``"linear"`` or ``"log"``).
        colors: ``{series name: colour}``; others get Category10 colours.
        legend: ``"right"`` of the plot frame or ``"above"`` it (in a row; for few entries).

    Returns:
        A bokeh figure, its legend outside the plot frame (click an entry to hide it).
    """
    if not curves:
        raise ValueError("per_layer needs at least one {name: [L] values}")
    if dashed and not styles:
        raise ValueError("per_layer: pass styles=(solid meaning, dashed meaning) with dashed")
    solid = {k: as_array(v, 1, f"curves[{k!r}]") for k, v in curves.items()}
    extra = {k: as_array(v, 1, f"dashed[{k!r}]") for k, v in (dashed or {}).items()}
    colour = colours_for(list(dict.fromkeys([*solid, *extra])), colors)
    kwargs = {"y_range": y_range} if y_range is not None else {}
    fig = new_figure(title, "relative depth" if relative_depth else x_label, y_label,
                     width=width, height=height, y_axis_type=y_axis_type, **kwargs)

    def xs(v: np.ndarray) -> np.ndarray:
        return np.linspace(0, 1, len(v)) if relative_depth else np.arange(len(v))

    items = []
    for name in colour:
        rs = []
        if name in solid:
            rs += [fig.line(xs(solid[name]), solid[name], color=colour[name], line_width=2),
                   fig.scatter(xs(solid[name]), solid[name], color=colour[name], size=7)]
        if name in extra:
            rs.append(fig.line(xs(extra[name]), extra[name], color=colour[name],
                               line_width=1.5, line_dash="dashed"))
        items.append((name, rs))
    if styles:  # legend keys for the two line styles
        items += [(f"solid: {styles[0]}", [legend_proxy(fig, color="black", line_width=2)]),
                  (f"dashed: {styles[1]}",
                   [legend_proxy(fig, color="black", line_width=1.5, line_dash="dashed")])]
    longest = max(len(v) for v in [*solid.values(), *extra.values()])
    extent = (0.0, 1.0) if relative_depth else (-0.2, longest - 0.8)
    items += _references(fig, refs, extent)
    if x_labels is not None:
        fig.xaxis.ticker = list(range(len(x_labels)))
        fig.xaxis.major_label_overrides = {i: str(s) for i, s in enumerate(x_labels)}
    elif not relative_depth:
        fig.xaxis.ticker = list(range(longest))
    legend_outside(fig, items, place=legend)
    return fig
