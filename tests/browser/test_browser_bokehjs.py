"""BokehJS reaches a JupyterLab page once, offline, from vitwidgets' JupyterLab extension
(``vitwidgets-bokehjs``), not with every dashboard output; a saved notebook with a dashboard
stays small and its LayerMetrics plots render when it is reopened; the plots' legend is whole
and they follow JupyterLab's dark theme.

The model is the tiny constructed ViT of ``constructed_model.py`` (6 layers x 4 heads, 8x8
grid), so that what a dashboard sends is mostly the widgets' own data.
"""

from __future__ import annotations

import io
import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from lab_helpers import ARTIFACTS, Lab

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots/B")
MB = 1_000_000
# the licence banner that starts the BokehJS bundle (bokeh.min.js) and the
# mime type of bokeh's notebook loader: neither may travel over the kernel websocket
BOKEHJS_MARKERS = ("application/vnd.bokehjs_load.v0+json",
                   "Copyright (c) Anaconda, Inc., and Bokeh Contributors")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

SETUP = """
import vitwidgets as vw
import constructed_model as cm
m = vw.load_model(cm.make_model())
images = [cm.black_image(), vw.data.sample_image("chelsea")]
"""
SHOW_1 = """
d1 = vw.explore(m, images, annotations="one.heads.json")
d1
"""
SHOW_2 = """
d2 = vw.explore(m, images, annotations="two.heads.json")
d2
"""

# Bokeh plot views on the page named `name` (TESTING.md), with where they are on the screen.
PLOT_VIEWS_JS = r"""(name) => {
  if (!window.Bokeh) return { bokeh: false, plots: [] };
  const plots = [];
  const walk = (v) => { if (v.frame && v.model.name === name) plots.push(v);
                        for (const c of v.child_views ?? []) walk(c); };
  for (const v of Object.values(window.Bokeh.index)) walk(v);
  return { bokeh: true, version: window.Bokeh.version, plots: plots.map((p) => {
    const box = p.canvas_view.el.getBoundingClientRect();
    const f = p.frame.bbox;
    return { x: box.x, y: box.y, width: box.width, height: box.height,
             frame: { left: f.left, top: f.top, right: f.right, bottom: f.bottom } };
  }) };
}"""

# The legend of the LayerMetrics key plot: its items and its box inside the plot's canvas.
LEGEND_JS = r"""() => {
  const plots = [];
  const walk = (v) => { if (v.frame && v.model.name === 'vw-plot-legend') plots.push(v);
                        for (const c of v.child_views ?? []) walk(c); };
  for (const v of Object.values(window.Bokeh.index)) walk(v);
  const p = plots.at(-1);
  if (!p) return null;
  const legend = [...p.renderer_views.values()].find((v) => v.model.items !== undefined);
  const b = legend.bbox;
  return { items: legend.model.items.filter((i) => i.visible).map((i) => i.label.value),
           box: { left: b.left, top: b.top, right: b.right, bottom: b.bottom },
           canvas: { width: p.canvas_view.bbox.width, height: p.canvas_view.bbox.height } };
}"""

RUN_CELL_JS = r"""async (i) => {
  const nb = window.jupyterapp.shell.currentWidget;
  nb.content.activeCellIndex = i;
  return await window.jupyterapp.commands.execute('notebook:run-cell');
}"""


class Traffic:
    """Bytes the page receives: over the kernel websockets and as HTTP responses."""

    def __init__(self, lab: Lab) -> None:
        self.ws_bytes = 0
        self.ws_sent = 0  # frames the page sent to the kernel
        self.ws_bokehjs = 0  # frames that carry BokehJS or bokeh's loader
        self.bokehjs_http: list[int] = []  # sizes of every bokeh.min.js response
        lab.page.on("websocket", self._socket)
        lab.page.on("response", self._response)

    def _socket(self, ws) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", self._frame)
            ws.on("framesent", self._sent)

    def _sent(self, _payload) -> None:
        self.ws_sent += 1

    def _frame(self, payload) -> None:
        size = len(payload.encode() if isinstance(payload, str) else payload)
        self.ws_bytes += size
        text = payload if isinstance(payload, str) else payload.decode("latin-1")
        if any(m in text for m in BOKEHJS_MARKERS):
            self.ws_bokehjs += 1

    def _response(self, response) -> None:
        if response.url.split("?")[0].endswith("/bokeh.min.js"):
            self.bokehjs_http.append(len(response.body()))


def _settings(lab: Lab, plugin: str, values: dict) -> None:
    """Save JupyterLab user settings of ``plugin`` through the server's settings API."""
    req = urllib.request.Request(
        lab.server.api_url(f"lab/api/settings/{plugin}"), method="PUT",
        data=json.dumps({"raw": json.dumps(values)}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=10).close()


def _wait_plots(lab: Lab, count: int, name: str = "vw-plot-distance_px") -> dict:
    lab.page.wait_for_function(
        f"() => ({PLOT_VIEWS_JS})({json.dumps(name)}).plots.length >= {count}", timeout=120_000
    )
    lab.page.wait_for_timeout(300)  # the first paint after the views are built
    return lab.page.evaluate(PLOT_VIEWS_JS, name)


def _plot_pixels(lab: Lab, plot: dict):
    """The plot's canvas as an RGB image (a screenshot clip), and its frame box in it."""
    from PIL import Image

    png = lab.page.screenshot(clip={"x": plot["x"], "y": plot["y"], "width": plot["width"],
                                    "height": plot["height"]})
    return Image.open(io.BytesIO(png)).convert("RGB")


def _median_luma(img, box: tuple[int, int, int, int]) -> float:
    import numpy as np

    a = np.asarray(img.crop(box), dtype=float)
    return float(np.median(a @ [0.299, 0.587, 0.114]))


def _shot(lab: Lab, name: str, locator=None) -> None:
    path = lab.screenshot(name, locator=locator)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / name)


@pytest.fixture
def traffic(lab: Lab) -> Traffic:
    return Traffic(lab)


def test_two_dashboards_get_bokehjs_once_from_the_extension_and_never_over_the_websocket(
    lab: Lab, traffic: Traffic
):
    lab.open_notebook(lab.write_notebook("two.ipynb", [SETUP, SHOW_1, SHOW_2]))
    assert len(traffic.bokehjs_http) == 1, f"bokeh.min.js fetched {traffic.bokehjs_http}"
    assert traffic.bokehjs_http[0] > MB  # the whole of BokehJS, from the extension's folder
    assert lab.page.evaluate("() => typeof window.Bokeh") == "object", "on the page at start"
    assert lab.page.evaluate(RUN_CELL_JS, 0) is not False
    before = traffic.ws_bytes
    sent = []
    for cell, plots in ((1, 1), (2, 2)):
        assert lab.page.evaluate(RUN_CELL_JS, cell) is not False
        lab.raise_on_error()
        _wait_plots(lab, plots)
        lab.page.locator(".vw-annotator[data-ready='true']").nth(plots - 1).wait_for()
        sent.append(traffic.ws_bytes - before)
        before = traffic.ws_bytes
    (ARTIFACTS / "bokehjs-bytes.json").write_text(json.dumps(
        {"bokeh_min_js_http": traffic.bokehjs_http, "dashboard_ws_bytes": sent}))
    print(f"websocket bytes per dashboard display: {sent}; bokeh.min.js over HTTP: "
          f"{traffic.bokehjs_http}")
    assert traffic.ws_bokehjs == 0, "BokehJS (or bokeh's loader) came over the websocket"
    assert len(traffic.bokehjs_http) == 1, "the second dashboard fetched BokehJS again"
    assert all(s < MB for s in sent), f"a dashboard display sent {sent} bytes"


def test_saved_notebook_with_a_dashboard_is_under_1_mb_and_renders_when_reopened(
    lab: Lab, open_lab
):
    plugin = "@jupyter-widgets/jupyterlab-manager:plugin"
    _settings(lab, plugin, {"saveState": True})  # Settings > Save Widget State Automatically
    try:
        name = lab.write_notebook("saved.ipynb", [SETUP, SHOW_1])
        lab.open_notebook(name)
        lab.run_all()
        _wait_plots(lab, 1)
        lab.page.locator(".vw-annotator[data-ready='true']").wait_for()
        lab.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        path = lab.server.root / name
        lab.page.wait_for_function(
            "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000
        )
        size = path.stat().st_size
        nb = json.loads(path.read_text())
        state = nb["metadata"]["widgets"][WIDGET_STATE]["state"]
        models = {s["model_name"] for s in state.values()}
        outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        mimes = {k for o in outputs for k in o.get("data", {})}
        print(f"saved notebook: {size} bytes, {len(state)} widget models")
        assert "BokehModel" in models, f"widget state was not saved: {sorted(models)}"
        assert not mimes & {"application/javascript", "application/vnd.bokehjs_load.v0+json"}
        assert size <= MB, f"saved notebook is {size} bytes"
        lab.page.context.close()
        # a fresh kernel: the reopened page can only show what the notebook saved (the notebook
        # stays trusted: JupyterLab signed it when saving)
        lab.server.delete_kernels()

        reopened = open_lab()
        reopened.open_notebook(name)  # nothing is run: the plots come from the saved state
        views = _wait_plots(reopened, 1)
        img = _plot_pixels(reopened, views["plots"][0])
        f = views["plots"][0]["frame"]
        inside = img.crop((int(f["left"]), int(f["top"]), int(f["right"]), int(f["bottom"])))
        rgb = np.asarray(inside, dtype=int)
        coloured = int(((rgb.max(-1) - rgb.min(-1)) > 60).sum())
        _shot(reopened, "reopened-layer-metrics.png",
              reopened.page.locator(".vw-layer-metrics").first)
        assert coloured > 50, f"only {coloured} coloured pixels in the reopened plot"
    finally:
        _settings(lab, plugin, {"saveState": False})


def test_layer_metrics_legend_shows_every_tag_kind_uncut_at_the_dashboard_width(lab: Lab):
    from vitwidgets.core.vocab import TAGS

    lab.open_notebook(lab.write_notebook("legend.ipynb", [SETUP, SHOW_1]))
    lab.run_all()
    _wait_plots(lab, 1, "vw-plot-legend")
    lab.page.locator(".vw-annotator[data-ready='true']").wait_for()
    lab.page.wait_for_function(f"() => ({LEGEND_JS})().items.length === {len(TAGS) + 2}")
    legend = lab.page.evaluate(LEGEND_JS)
    _shot(lab, "layer-metrics-light.png", lab.page.locator(".vw-layer-metrics").first)
    assert legend["items"] == [*TAGS, "layer mean", "selected head"]
    box, canvas = legend["box"], legend["canvas"]
    assert box["left"] >= 0 and box["top"] >= 0, legend
    assert box["right"] <= canvas["width"] and box["bottom"] <= canvas["height"], legend


def _quiet(lab: Lab, traffic: Traffic, seconds: float = 2.0) -> int:
    """Frames the page sends to the kernel in ``seconds`` of doing nothing."""
    before = traffic.ws_sent
    lab.page.wait_for_timeout(int(seconds * 1000))
    return traffic.ws_sent - before


def test_layer_metrics_plots_follow_the_dark_theme_also_when_switched_after_display(
    lab: Lab, traffic: Traffic
):
    lab.open_notebook(lab.write_notebook("theme.ipynb", [SETUP, SHOW_1]))
    lab.run_all()
    lab.page.locator(".vw-annotator[data-ready='true']").wait_for()

    def lumas() -> tuple[float, float]:
        plot = _wait_plots(lab, 1, "vw-plot-entropy")["plots"][0]
        img, f = _plot_pixels(lab, plot), plot["frame"]
        frame = _median_luma(img, (int(f["left"]) + 2, int(f["top"]) + 2,
                                   int(f["right"]) - 2, int(f["bottom"]) - 2))
        border = _median_luma(img, (0, 0, img.width, max(int(f["top"]) - 1, 2)))
        return frame, border

    assert min(lumas()) > 230, "light theme: white plot"
    assert _quiet(lab, traffic) == 0
    try:
        _theme(lab, "JupyterLab Dark")
        dark = lumas()
        _shot(lab, "layer-metrics-dark.png", lab.page.locator(".vw-layer-metrics").first)
        _shot(lab, "dashboard-dark.png", lab.page.locator(".vw-dashboard").first)
        assert max(dark) < 40, f"dark theme: the plot stays light (median luma {dark})"
        # recolouring settles: no stream of property updates to the kernel (it would stay busy)
        assert _quiet(lab, traffic) == 0
    finally:
        _theme(lab, "JupyterLab Light")  # the theme is a saved setting: leave it as found
    assert min(lumas()) > 230, "back to the light theme"


def test_in_the_dark_theme_the_mean_line_stays_light_while_a_head_is_selected(lab: Lab):
    """The quickstart's case: a dark JupyterLab, a dashboard whose head a later cell selects.
    With a head selected bokeh paints the mean line (which shares the dots' source) with its
    non-selection glyph, which must be themed as well."""
    show = "d = vw.explore(m, images, annotations='dark.heads.json')\nd"
    select = "d.explorer.layer, d.explorer.head = 1, 1"
    lab.open_notebook(lab.write_notebook("dark.ipynb", [SETUP, show, select]))
    _theme(lab, "JupyterLab Dark")
    try:
        lab.run_all()
        lab.page.locator(".vw-annotator[data-ready='true']").wait_for()
        lab.page.mouse.move(1, 1)  # no bokeh tooltip over the frame
        lab.page.wait_for_timeout(500)
        light = _light_pixels_in_frame(lab)
        _shot(lab, "layer-metrics-dark-selected.png", lab.page.locator(".vw-layer-metrics").first)
        assert light > 60, f"the layer-mean line is not visible ({light} near-white pixels)"
    finally:
        _theme(lab, "JupyterLab Light")


# Colours of the notebook figures' titles, legends and backgrounds, as BokehJS holds them.
NOTEBOOK_PLOT_COLOURS_JS = r"""() => {
  const out = [];
  for (const doc of window.Bokeh.documents) for (const m of doc._all_models.values()) {
    if (m.name !== 'vw-plot-notebook' || !('renderers' in m)) continue;
    const v = (x) => (x !== null && typeof x === 'object' && 'value' in x ? x.value : x);
    out.push({ title: m.title ? v(m.title.text_color) : null, text: m.title ? m.title.text : null,
               background: v(m.background_fill_color) });
  }
  return out;
}"""


def test_notebook_figures_titles_turn_light_in_the_dark_theme(lab: Lab):
    """vw.plots figures (notebooks 03-06) in the dark theme: the title is a property of the
    plot, not one of its panels, and was left dark grey on the dark background."""
    cell = ("import numpy as np\n"
            "vw.plots.show(vw.plots.per_head({'m': np.arange(12.).reshape(3, 4)},"
            " title='Mean attention distance', y_label='px'))")
    lab.open_notebook(lab.write_notebook("titles.ipynb", ["import vitwidgets as vw", cell]))
    _theme(lab, "JupyterLab Dark")
    try:
        lab.run_all()
        themed = f"() => {{ const p = window.Bokeh ? ({NOTEBOOK_PLOT_COLOURS_JS})() : [];" \
                 " return p.length > 0 && p[0].background === '#1a1a1a'; }"
        lab.page.wait_for_function(themed, timeout=60_000)
        lab.page.wait_for_timeout(300)
        plots = lab.page.evaluate(NOTEBOOK_PLOT_COLOURS_JS)
        assert plots[0]["text"] == "Mean attention distance"
        assert plots[0]["title"] == "#d8d8d8", f"the title stays dark: {plots}"
    finally:
        _theme(lab, "JupyterLab Light")


def _light_pixels_in_frame(lab: Lab) -> int:
    """Pixels inside the entropy plot's frame whose every channel is above 200 (the dots are
    coloured, the grid dark: in the dark theme only the layer-mean line is near-white)."""
    import numpy as np

    plot = _wait_plots(lab, 1, "vw-plot-entropy")["plots"][0]
    f = plot["frame"]
    img = _plot_pixels(lab, plot).crop((int(f["left"]) + 2, int(f["top"]) + 2,
                                        int(f["right"]) - 2, int(f["bottom"]) - 2))
    return int((np.asarray(img).min(axis=2) > 200).sum())


def _theme(lab: Lab, theme: str) -> None:
    light = "false" if "Dark" in theme else "true"
    lab.page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: t})", theme)
    lab.page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    lab.page.wait_for_timeout(500)  # the plots repaint on the next frame
