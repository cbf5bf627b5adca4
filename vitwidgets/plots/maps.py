"""Matrix and latent-by-latent figures: heat maps with a titled colour bar, per-latent series
(Fourier amplitude, feature variance) and Fourier profiles coloured by depth."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColorBar, ColumnDataSource, LinearColorMapper
from bokeh.palettes import Category10, Viridis256

from ._style import as_array, legend_outside, new_figure

__all__ = ["LATENT_KINDS", "fourier_profiles", "heatmap", "latent_kinds", "per_latent"]

#: the kinds of residual-stream latents, in order, and their colours
LATENT_KINDS = {"embedding": "#7f7f7f", "after MSA": Category10[3][0],
                "after MLP": Category10[3][1]}


def colour_bar(mapper: LinearColorMapper, title: str) -> ColorBar:
    """A vertical colour bar with ``title`` above it (the colour key of a plot)."""
    return ColorBar(color_mapper=mapper, title=title, title_text_font_size="8pt",
                    title_text_font_style="normal", width=10, label_standoff=4,
                    major_label_text_font_size="8pt")


def heatmap(matrix, *, title: str, x_label: str, y_label: str, colorbar_title: str,
            low: float | None = None, high: float | None = None, colorbar: bool = True,
            width: int = 420, height: int = 380):
    """A matrix as a heat map, row 0 at the bottom, with a titled colour bar.

    Args:
        matrix: ``[n, m]`` values (numpy or torch), e.g. CKA between the blocks of two models
            (rows: the y model, columns: the x model).
        colorbar_title: what the colours mean (e.g. ``"linear CKA"``).
        low, high: the colour range (default: the matrix's min and max).
        colorbar: draw the colour bar (turn off for all but one of a row of equal-range maps).

    Returns:
        A bokeh figure; hovering a cell shows its row, column and value.
    """
    mat = as_array(matrix, 2, "matrix")
    n, m = mat.shape
    lo = float(np.nanmin(mat)) if low is None else float(low)
    hi = float(np.nanmax(mat)) if high is None else float(high)
    mapper = LinearColorMapper(palette=Viridis256, low=lo, high=max(hi, lo + 1e-12))
    ys, xs = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    src = ColumnDataSource(dict(x=xs.ravel(), y=ys.ravel(), v=mat.ravel()))
    fig = new_figure(title, x_label, y_label, width=width, height=height,
                     x_range=(-0.5, m - 0.5), y_range=(-0.5, n - 0.5), tools="hover,save",
                     tooltips=[(y_label, "@y"), (x_label, "@x"), (colorbar_title, "@v{0.000}")])
    fig.rect("x", "y", 1, 1, source=src, fill_color={"field": "v", "transform": mapper},
             line_color=None)
    fig.xaxis.ticker, fig.yaxis.ticker = list(range(m)), list(range(n))
    fig.grid.visible = False
    if colorbar:
        fig.add_layout(colour_bar(mapper, colorbar_title), "right")
    return fig


def latent_kinds(num_latents: int) -> list[str]:
    """The kind of each of the ``2 L + 1`` residual-stream latents: the embedding, then after
    the attention (MSA) and after the MLP residual of every block."""
    if num_latents < 1 or num_latents % 2 != 1:
        raise ValueError(f"expected 2 L + 1 latents (an odd number), got {num_latents}")
    return ["embedding"] + ["after MSA", "after MLP"] * (num_latents // 2)


def per_latent(values, *, title: str, y_label: str, y_axis_type: str = "linear",
               width: int = 560, height: int = 300):
    """One value per residual-stream latent, dots coloured by kind (embedding / after MSA /
    after MLP) over a grey line in depth order.

    Args:
        values: ``[2 L + 1]`` values (e.g. ``fourier_profile(tr)[:, -1]`` or
            ``feature_variance(tr)``).
        y_axis_type: ``"log"`` when the values span decades (feature variance grows by orders
            of magnitude through a ViT).

    Returns:
        A bokeh figure; x ticks name the block each latent follows, legend right of the frame.
    """
    v = as_array(values, 1, "values")
    kinds = np.array(latent_kinds(len(v)))
    k = np.arange(len(v))
    fig = new_figure(title, "latent (embedding, then after MSA / MLP of block b)", y_label,
                     width=width, height=height, y_axis_type=y_axis_type)
    fig.line(k, v, color="lightgrey")
    items = [(name, [fig.scatter(k[kinds == name], v[kinds == name], color=c, size=8)])
             for name, c in LATENT_KINDS.items()]
    fig.xaxis.ticker = [0, *range(2, len(v), 2)]
    fig.xaxis.major_label_overrides = {0: "emb", **{i: f"b{i // 2 - 1}"
                                                    for i in range(2, len(v), 2)}}
    legend_outside(fig, items, clickable=False)
    return fig


def fourier_profiles(profiles, frequencies, *, title: str = "Fourier profile per latent",
                     width: int = 520, height: int = 300):
    """Every latent's relative log amplitude against frequency, coloured by depth, with a
    colour bar for the latent index.

    Args:
        profiles: ``[2 L + 1, n]`` Δ log amplitude per latent and frequency (as from
            ``vw.metrics.fourier_profile``).
        frequencies: ``[n]`` frequencies in units of π.
    """
    prof = as_array(profiles, 2, "profiles")
    freqs = as_array(frequencies, 1, "frequencies")
    if prof.shape[1] != len(freqs):
        raise ValueError(f"profiles have {prof.shape[1]} frequencies, frequencies {len(freqs)}")
    last = max(prof.shape[0] - 1, 1)
    mapper = LinearColorMapper(palette=Viridis256[::-1], low=0, high=last)
    fig = new_figure(title, "frequency (× π)", "Δ log amplitude", width=width, height=height)
    for i, row in enumerate(prof):
        fig.line(freqs, row, color=Viridis256[::-1][int(i / last * 255)], line_width=1.5)
    fig.add_layout(colour_bar(mapper, "latent (depth)"), "right")
    return fig
