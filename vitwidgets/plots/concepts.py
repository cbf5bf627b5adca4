"""Concept-label figures: the share of each concept category per block (unit labelling)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bokeh.models import ColumnDataSource, LinearAxis, Range1d

from ._style import colours_for, legend_outside, new_figure

__all__ = ["category_shares"]


def category_shares(summary: Sequence[Mapping], categories: Sequence[str], *, title: str,
                    colors: Mapping[str, str] | None = None, concepts_max: int | None = None,
                    legend: bool = True, width: int = 260, height: int = 300):
    """Stacked bars of the concept categories among a model's labelled units, per block, and
    the number of distinct concepts (black line, right axis).

    Args:
        summary: one dict per block with ``layer`` (int), ``category_share``
            (``{category: share in [0, 1]}``) and ``num_concepts`` (int), as
            ``vw.metrics.dataset_label_units(...).summary()`` returns.
        categories: the categories, bottom to top.
        concepts_max: top of the right axis (share it across a row of models).
        legend: add the colour key (right of the frame); give it to one figure of a row.

    Returns:
        A bokeh figure.
    """
    if not summary:
        raise ValueError("category_shares needs one summary dict per block")
    colour = colours_for(list(categories), colors)
    blocks = [str(s["layer"]) for s in summary]
    data = {"block": blocks,
            **{c: [float(s["category_share"].get(c, 0.0)) for s in summary] for c in categories}}
    fig = new_figure(title, "block", "share of labelled units", width=width + 130 * legend,
                     height=height, x_range=blocks, y_range=(0, 1.05), tools="hover,save",
                     tooltips="$name: @$name{0.00}")
    bars = fig.vbar_stack(list(categories), x="block", width=0.8, source=ColumnDataSource(data),
                          color=[colour[c] for c in categories])
    counts = [int(s["num_concepts"]) for s in summary]
    fig.extra_y_ranges = {"n": Range1d(0, (concepts_max or max(counts)) + 2)}
    fig.add_layout(LinearAxis(y_range_name="n", axis_label="distinct concepts"), "right")
    line = [fig.line(blocks, counts, y_range_name="n", color="black", line_width=2),
            fig.scatter(blocks, counts, y_range_name="n", color="black", size=6)]
    if legend:
        items = [(c, [r]) for c, r in zip(reversed(categories), reversed(bars), strict=True)]
        legend_outside(fig, [*items, ("distinct concepts", line)], clickable=False)
    return fig
