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
from ._progress import progress_text, watch_metrics

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
        self.source = ColumnDataSource(self._columns(options.get("image_index", 0)))
        self.ring = ColumnDataSource(self._ring_columns(0, 0))
        figures = [self._figure(col, label, plot_width, plot_height) for col, label in PLOTS]
        self.figure = gridplot([figures[:2], figures[2:]], toolbar_location=None)
        self.source.selected.on_change("indices", self._on_tap)
        self.plot = BokehModel(self.figure)
        #: what is still being computed (empty once every image's metrics are in)
        self.status = ipywidgets.HTML(progress_text(self.session))
        self.status.add_class("vw-metrics-status")
        super().__init__(children=[self.status, self.plot], **options)
        self.add_class("vw-layer-metrics")
        self._selection_changed(None)
        watch_metrics(self.session, self._metrics_changed)

    # -- data -------------------------------------------------------------------------------
    def _columns(self, image: int) -> dict[str, list]:
        """One entry per head (layer-major), empty while the image's metrics are computed."""
        s = self.session
        if not s.metrics_ready(image):
            names = ["layer", "head", "x", "tag", "colour", *self._prefix_columns()]
            return {k: [] for k in names + [c for n, _ in PLOTS for c in (n, f"{n}_mean")]}
        table = {k: v.numpy() for k, v in s.layer_table(image).items()}
        num_layers, num_heads = table["nmi"].shape
        ready = s.metrics_ready(None)
        tags = {(p["layer"], p["head"]): p["tag"] for p in s.proposals()} if ready else {}
        unknown = "" if ready else "pending"  # proposals need every image's metrics
        layer = np.repeat(np.arange(num_layers), num_heads)
        head = np.tile(np.arange(num_heads), num_layers)
        # spread the heads of a layer over +-0.3 so dots with equal values stay apart
        jitter = (head - (num_heads - 1) / 2) / max(num_heads - 1, 1) * 0.6
        cols: dict[str, list] = {
            "layer": layer.tolist(),
            "head": head.tolist(),
            "x": (layer + jitter).tolist(),
            "tag": [tags.get((int(l), int(h)), unknown)
                    for l, h in zip(layer, head, strict=True)],
        }
        cols["colour"] = [TAG_COLOURS.get(t, "#333333") for t in cols["tag"]]
        for name, _ in PLOTS:
            cols[name] = table[name].reshape(-1).tolist()
            cols[f"{name}_mean"] = np.repeat(table[name].mean(1), num_heads).tolist()
        for name in self._prefix_columns():
            cols[name] = table[name].reshape(-1).tolist()
        return cols

    def _prefix_columns(self) -> list[str]:
        """``share_<token>`` per prefix token (in the hover tooltip: the register-artefact
        heads of Darcet et al. 2024 put most attention on one register)."""
        return [f"share_{name}" for name in self.session.prefix_names]

    def _ring_columns(self, layer: int, head: int) -> dict[str, list]:
        i = layer * self.session.num_heads + head
        cols = self.source.data
        if i >= len(cols["x"]):
            return {"x": [], **{name: [] for name, _ in PLOTS}}
        return {"x": [cols["x"][i]], **{name: [cols[name][i]] for name, _ in PLOTS}}

    def _metrics_changed(self) -> None:
        """More metrics are in: redraw the current image's dots, say what is left."""
        self.status.value = progress_text(self.session)
        self._image_changed({"new": self.image_index})

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
        shares = [(f"on {c[6:]}", f"@{c}{{0.000}}") for c in self._prefix_columns()]
        tooltips = [("layer", "@layer"), ("head", "@head"), (label, f"@{column}{{0.000}}"),
                    *shares, ("proposed", "@tag")]
        fig.add_tools(TapTool(renderers=[dots]), HoverTool(renderers=[dots], tooltips=tooltips))
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
        if not self.session.metrics_ready(change["new"]):
            self.session.prioritise(change["new"])  # its metrics next, then the rest
        self._updating = True
        try:
            self.source.data = self._columns(self.session.check_image(change["new"]))
            self.ring.data = self._ring_columns(self.layer, self.head)
        finally:
            self._updating = False

    def _repr_mimebundle_(self, **kwargs):
        load_bokehjs()
        return super()._repr_mimebundle_(**kwargs)
