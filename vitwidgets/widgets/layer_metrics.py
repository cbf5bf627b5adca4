"""LayerMetrics: per-head attention statistics against depth, as bokeh plots in a widget.

One dot per head and layer in each plot (mean attention distance in pixels as in Raghu et al.
and Walmer et al., entropy, NMI, share of attention on prefix tokens) with the per-layer mean as
a line. Tapping a dot sets ``layer`` and ``head``; setting them (e.g. from a linked explorer)
rings the dot. Rendered by jupyter_bokeh's BokehModel. BokehJS reaches the page once, offline,
from the JupyterLab extension ``vitwidgets-bokehjs`` that pip installs with vitwidgets (it loads
before any notebook renders, saved notebooks included, and themes the plots light or dark), so
neither the outputs nor the saved notebook carry BokehJS. Elsewhere (VS Code, Colab) call
:func:`load_bokehjs` once.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import traitlets
from bokeh.layouts import column as stack
from bokeh.layouts import gridplot
from bokeh.models import ColumnDataSource, HoverTool, Legend, LegendItem, SaveTool, TapTool
from bokeh.plotting import figure
from jupyter_bokeh import BokehModel

from vitwidgets.core.session import Session
from vitwidgets.core.vocab import TAG_COLOURS, TAGS

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
#: the per-layer mean line (the JupyterLab extension makes it light in the dark theme)
MEAN_COLOUR = "#222222"
#: dots of heads whose tag is not proposed yet (every image's metrics are needed)
PENDING_COLOUR = "#b0b0b0"
#: dot opacity; heads other than the selected one keep most of it (the ring shows the selection)
DOT_ALPHA, OTHER_DOT_ALPHA = 0.85, 0.65
#: the JupyterLab extension that puts BokehJS on the page (js/labextension.mjs)
BOKEHJS_EXTENSION = "vitwidgets-bokehjs"


def load_bokehjs() -> None:
    """Put BokehJS (INLINE: from the installed bokeh package, no network) on the page, which
    jupyter_bokeh needs before a plot renders.

    Only for frontends without vitwidgets' JupyterLab extension (VS Code, Colab): it sends
    BokehJS (about 8 MB with bokeh's loader) into the output of the cell that calls it, and a
    saved notebook keeps it. JupyterLab and Notebook 7 get BokehJS from the extension."""
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


@cache
def bokehjs_extension_problem() -> str | None:
    """Why the page may lack the right BokehJS (``None`` when the extension is installed with
    the BokehJS of this kernel's bokeh): the extension is missing from the Jupyter data paths,
    or it carries another bokeh's BokehJS."""
    import bokeh
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("labextensions"):
        found = Path(root) / BOKEHJS_EXTENSION / "static" / "bokehjs.json"
        if found.is_file():
            version = json.loads(found.read_text()).get("version")
            if version == bokeh.__version__:
                return None
            return (f"the JupyterLab extension {BOKEHJS_EXTENSION} at {found.parent.parent} "
                    f"carries BokehJS {version} but this kernel has bokeh {bokeh.__version__}: "
                    f"reinstall vitwidgets (pip install -e .) so that they match")
    return (f"the JupyterLab extension {BOKEHJS_EXTENSION} is not installed (pip installs it "
            f"with vitwidgets): the plots need BokehJS on the page; outside JupyterLab call "
            f"vw.load_bokehjs() once")


class LayerMetrics(ipywidgets.VBox):
    """Per-head attention metrics against layer for one image of a session.

    Args:
        model: a ``ViTModel`` (with ``images``) or a :class:`Session`.
        images: the images (not with a Session).
        plot_width, plot_height: size of each of the four plots in pixels.
        **options: initial ``layer``, ``head``, ``image_index`` or ``layout``; an unknown
            keyword raises ``TypeError`` listing the valid ones.

    Traits (link them): ``layer``, ``head``, ``image_index``.

    BokehJS comes from vitwidgets' JupyterLab extension (once per page, not per output);
    outside JupyterLab call :func:`load_bokehjs` once. The toolbar's save button writes the
    plots as a PNG.
    """

    layer = traitlets.Int(0)
    head = traitlets.Int(0)
    image_index = traitlets.Int(0)

    def __init__(
        self, model: Any, images: Any = None, *, plot_width: int = 270, plot_height: int = 210,
        **options: Any,
    ):
        reject_unknown(type(self).__name__, options, options_of(type(self)))
        self.session: Session = as_session(model, images, caller="vw.LayerMetrics")
        self._updating = False
        self.source = ColumnDataSource(self._columns(options.get("image_index", 0)))
        self.ring = ColumnDataSource(self._ring_columns(0, 0))
        figures = [self._figure(col, label, plot_width, plot_height) for col, label in PLOTS]
        grid = gridplot([figures[:2], figures[2:]], toolbar_location="right",
                        toolbar_options={"logo": None})
        # gridplot merges the plots' save tools into one that writes the four plots as one PNG
        for tool in grid.toolbar.tools:
            if isinstance(tool, SaveTool):
                tool.filename = "vitwidgets-layer-metrics"
        self.legend = self._legend_figure(2 * plot_width)
        self.figure = stack(self.legend, grid)
        self.source.selected.on_change("indices", self._on_tap)
        problem = bokehjs_extension_problem()
        if problem:
            warnings.warn(problem, stacklevel=2)
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
        cols["colour"] = [TAG_COLOURS.get(t, PENDING_COLOUR) for t in cols["tag"]]
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
        self._pending_item.visible = not self.session.metrics_ready(None)
        self._image_changed({"new": self.image_index})

    def _figure(self, column: str, label: str, width: int, height: int):
        fig = figure(width=width, height=height, tools="", x_axis_label="layer",
                     y_axis_label=label, min_border_left=40, name=f"vw-plot-{column}")
        fig.xaxis.ticker = list(range(self.session.num_layers))
        # under the dots (they cover it where they sit), dark and thick between them; it shares
        # the dots' source, so it keeps its look whatever dot is selected
        fig.line("layer", f"{column}_mean", source=self.source, line_color=MEAN_COLOUR,
                 line_width=2.5, line_alpha=0.9, nonselection_line_alpha=0.9,
                 selection_line_alpha=0.9, name="vw-mean")
        dots = fig.scatter("x", column, source=self.source, size=7, fill_color="colour",
                           line_color="colour", fill_alpha=DOT_ALPHA, line_alpha=1.0,
                           nonselection_fill_alpha=OTHER_DOT_ALPHA,
                           nonselection_line_alpha=OTHER_DOT_ALPHA, selection_fill_alpha=1.0,
                           name="vw-dots")
        fig.scatter("x", column, source=self.ring, size=15, fill_alpha=0, line_color=RING_COLOUR,
                    line_width=2.5, name="vw-selected-ring")
        shares = [(f"on {c[6:]}", f"@{c}{{0.000}}") for c in self._prefix_columns()]
        tooltips = [("layer", "@layer"), ("head", "@head"), (label, f"@{column}{{0.000}}"),
                    *shares, ("proposed", "@tag")]
        fig.add_tools(TapTool(renderers=[dots]), HoverTool(renderers=[dots], tooltips=tooltips),
                      SaveTool())
        return fig

    def _legend_figure(self, width: int):
        """The key of all four plots, as a plot of its own above them (``vw-plot-legend``): each
        proposed-tag colour, pending, the per-layer mean line and the selected-head ring. Inside
        a plot it would cover dots (and swallow taps on them); beside one it is cut."""
        fig = figure(width=width, height=46, tools="", toolbar_location=None, min_border=0,
                     outline_line_color=None, x_range=(0, 1), y_range=(0, 1),
                     name="vw-plot-legend")
        fig.axis.visible = False
        fig.grid.visible = False
        # one point outside the ranges: bokeh draws no legend swatch for a renderer without data
        empty = {"x": [-1], "y": [-1]}

        def swatch(**style) -> Any:
            style.setdefault("size", 8)
            return fig.scatter("x", "y", source=ColumnDataSource(dict(empty)), **style)

        items = [LegendItem(label=tag, renderers=[swatch(color=TAG_COLOURS[tag])])
                 for tag in TAGS]
        self._pending_item = LegendItem(label="pending", renderers=[swatch(color=PENDING_COLOUR)],
                                        visible=not self.session.metrics_ready(None))
        mean = fig.line("x", "y", source=ColumnDataSource(dict(empty)), line_color=MEAN_COLOUR,
                        line_width=2.5, name="vw-mean")
        ring = swatch(fill_alpha=0, line_color=RING_COLOUR, line_width=2.5, size=12)
        items += [self._pending_item, LegendItem(label="layer mean", renderers=[mean]),
                  LegendItem(label="selected head", renderers=[ring])]
        legend = Legend(items=items, orientation="horizontal", location="center", ncols=4,
                        label_text_font_size="8pt", padding=2, spacing=8, margin=0,
                        border_line_color=None, glyph_width=16, label_height=14,
                        glyph_height=14)
        fig.add_layout(legend, "center")
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
