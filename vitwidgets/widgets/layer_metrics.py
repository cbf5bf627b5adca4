"""LayerMetrics: per-head attention statistics against depth, as bokeh plots in a widget.

One dot per head and layer in each plot (mean attention distance in pixels as in Raghu et al.
and Walmer et al., entropy, NMI, share of attention on prefix tokens) with the per-layer mean as
a line. Tapping a dot sets ``layer`` and ``head``; setting them (e.g. from a linked explorer)
rings the dot. Rendered by jupyter_bokeh's BokehModel with BokehJS loaded INLINE (offline).
"""

from __future__ import annotations

from typing import Any

import ipywidgets
import numpy as np
import traitlets
from bokeh.layouts import gridplot
from bokeh.models import ColumnDataSource, HoverTool, TapTool
from bokeh.plotting import figure
from jupyter_bokeh import BokehModel

from vitwidgets.core.session import Session
from vitwidgets.core.vocab import TAG_COLOURS

from ._base import as_session, options_of, reject_unknown

#: (column, axis label) of each plot
PLOTS = (
    ("distance_px", "attention distance (px)"),
    ("entropy", "attention entropy (nats)"),
    ("nmi", "NMI (queries vs keys)"),
    ("prefix_share", "attention on prefix tokens"),
)
RING_COLOUR = "#f0a020"


def load_bokehjs() -> None:
    """Put BokehJS (INLINE: from the installed bokeh package, no network) on the page, which
    jupyter_bokeh needs before a plot renders."""
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


class LayerMetrics(ipywidgets.VBox):
    """Per-head attention metrics against layer for one image of a session.

    Args:
        model: a ``ViTModel`` (with ``images``) or a :class:`Session`.
        images: the images (not with a Session).
        plot_width, plot_height: size of each of the four plots in pixels.
        **options: initial ``layer``, ``head``, ``image_index`` or ``layout``; an unknown
            keyword raises ``TypeError`` listing the valid ones.

    Traits (link them): ``layer``, ``head``, ``image_index``.

    Displaying it (or ``vw.explore``'s dashboard) puts BokehJS on the page first; inside a
    container of your own, call :func:`load_bokehjs` once before displaying the container.
    """

    layer = traitlets.Int(0)
    head = traitlets.Int(0)
    image_index = traitlets.Int(0)

    def __init__(
        self, model: Any, images: Any = None, *, plot_width: int = 270, plot_height: int = 210,
        **options: Any,
    ):
        reject_unknown(type(self).__name__, options, options_of(type(self)))
        self.session: Session = as_session(model, images)
        self._updating = False
        self.source = ColumnDataSource(self._columns(0))
        self.ring = ColumnDataSource(self._ring_columns(0, 0))
        figures = [self._figure(col, label, plot_width, plot_height) for col, label in PLOTS]
        self.figure = gridplot([figures[:2], figures[2:]], toolbar_location=None)
        self.source.selected.on_change("indices", self._on_tap)
        self.plot = BokehModel(self.figure)
        super().__init__(children=[self.plot], **options)
        self.add_class("vw-layer-metrics")
        self._selection_changed(None)

    # -- data -------------------------------------------------------------------------------
    def _columns(self, image: int) -> dict[str, list]:
        table = {k: v.numpy() for k, v in self.session.layer_table(image).items()}
        num_layers, num_heads = table["nmi"].shape
        tags = {(p["layer"], p["head"]): p["tag"] for p in self.session.proposals()}
        layer = np.repeat(np.arange(num_layers), num_heads)
        head = np.tile(np.arange(num_heads), num_layers)
        # spread the heads of a layer over +-0.3 so dots with equal values stay apart
        jitter = (head - (num_heads - 1) / 2) / max(num_heads - 1, 1) * 0.6
        cols: dict[str, list] = {
            "layer": layer.tolist(),
            "head": head.tolist(),
            "x": (layer + jitter).tolist(),
            "tag": [tags.get((int(l), int(h)), "") for l, h in zip(layer, head, strict=True)],
        }
        cols["colour"] = [TAG_COLOURS.get(t, "#333333") for t in cols["tag"]]
        for name, _ in PLOTS:
            cols[name] = table[name].reshape(-1).tolist()
            cols[f"{name}_mean"] = np.repeat(table[name].mean(1), num_heads).tolist()
        return cols

    def _ring_columns(self, layer: int, head: int) -> dict[str, list]:
        i = layer * self.session.num_heads + head
        cols = self.source.data
        return {"x": [cols["x"][i]], **{name: [cols[name][i]] for name, _ in PLOTS}}

    def _figure(self, column: str, label: str, width: int, height: int):
        fig = figure(width=width, height=height, tools="", x_axis_label="layer",
                     y_axis_label=label, min_border_left=40, name=f"vw-plot-{column}")
        fig.toolbar.logo = None
        fig.xaxis.ticker = list(range(self.session.num_layers))
        fig.line("layer", f"{column}_mean", source=self.source, line_color="#999999",
                 line_width=1.5)
        legend = {"legend_field": "tag"} if column == "distance_px" else {}
        dots = fig.scatter("x", column, source=self.source, size=7, fill_color="colour",
                           line_color="colour", fill_alpha=0.75,
                           nonselection_fill_alpha=0.35, nonselection_line_alpha=0.35,
                           selection_fill_alpha=1.0, name="vw-dots", **legend)
        fig.scatter("x", column, source=self.ring, size=15, fill_alpha=0, line_color=RING_COLOUR,
                    line_width=2.5, name="vw-selected-ring")
        fig.add_tools(TapTool(renderers=[dots]),
                      HoverTool(renderers=[dots], tooltips=[("layer", "@layer"), ("head", "@head"),
                                                            (label, f"@{column}{{0.000}}"),
                                                            ("proposed", "@tag")]))
        if fig.legend:
            # outside the plot frame: inside, it covers (and swallows taps on) the dots of the
            # early-layer heads with large distances, exactly its top-left corner
            legend = fig.legend[0]
            fig.center.remove(legend)
            fig.add_layout(legend, "above")
            legend.orientation = "horizontal"
            legend.location = "top_left"
            legend.label_text_font_size = "8pt"
            legend.padding = 2
            legend.spacing = 4
            legend.margin = 0
        return fig

    # -- linking ----------------------------------------------------------------------------
    def _on_tap(self, _attr, _old, new) -> None:
        if self._updating or not new:
            return
        i = int(new[0])
        with self.hold_trait_notifications():
            self.layer = int(self.source.data["layer"][i])
            self.head = int(self.source.data["head"][i])

    @traitlets.observe("layer", "head")
    def _selection_changed(self, _change) -> None:
        s = self.session
        if not (0 <= self.layer < s.num_layers and 0 <= self.head < s.num_heads):
            return
        self._updating = True
        try:
            self.ring.data = self._ring_columns(self.layer, self.head)
            self.source.selected.indices = [self.layer * self.session.num_heads + self.head]
        finally:
            self._updating = False

    @traitlets.observe("image_index")
    def _image_changed(self, change) -> None:
        self._updating = True
        try:
            self.source.data = self._columns(self.session.check_image(change["new"]))
            self.ring.data = self._ring_columns(self.layer, self.head)
        finally:
            self._updating = False

    def _repr_mimebundle_(self, **kwargs):
        load_bokehjs()
        return super()._repr_mimebundle_(**kwargs)
