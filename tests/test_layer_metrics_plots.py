"""LayerMetrics' bokeh plots as configured in the kernel (their rendering is checked in
tests/browser/test_browser_bokehjs.py) and the JupyterLab extension that brings BokehJS to the
page: installed with vitwidgets, carrying this bokeh's BokehJS, and nothing of BokehJS in what a
LayerMetrics or a dashboard display sends."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import bokeh
import pytest
from bokeh.models import GlyphRenderer, GridPlot, Legend, SaveTool
from factories import IDENTITY, toy_trace

from vitwidgets.core.session import Session
from vitwidgets.core.vocab import TAG_COLOURS, TAGS
from vitwidgets.widgets import LayerMetrics, explore
from vitwidgets.widgets import layer_metrics as lm

EXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / lm.BOKEHJS_EXTENSION


@pytest.fixture
def metrics() -> LayerMetrics:
    return LayerMetrics(Session(toy_trace(), identity=IDENTITY))


def _named(fig, name: str) -> GlyphRenderer:
    (r,) = [r for r in fig.renderers if r.name == name]
    return r


def test_the_legend_is_a_plot_of_its_own_listing_every_tag_kind_the_mean_and_the_ring(metrics):
    legend = metrics.legend.select_one({"type": Legend})
    labels = [item.label["value"] for item in legend.items if item.visible]
    assert labels == [*TAGS, "layer mean", "selected head"]  # "pending" hidden: all are in
    assert metrics.legend.name == "vw-plot-legend" and metrics.legend.width == 2 * 270
    for tag, item in zip(TAGS, legend.items, strict=False):
        assert item.renderers[0].glyph.fill_color == TAG_COLOURS[tag]
    assert list(metrics.figure.select({"type": Legend})) == [legend], "none in the metric plots"


def test_other_heads_stay_readable_and_the_mean_line_is_dark_and_thick(metrics):
    for col, _ in lm.PLOTS:
        fig = metrics.figure.select_one({"name": f"vw-plot-{col}"})
        dots = _named(fig, "vw-dots")
        assert dots.nonselection_glyph.fill_alpha >= 0.6
        assert dots.nonselection_glyph.line_alpha >= 0.6
        mean = _named(fig, "vw-mean")
        assert mean.glyph.line_width >= 2.5 and mean.glyph.line_color == "#222222"
        # the line shares the dots' source: a selected dot must not fade it (bokeh's default
        # non-selection alpha is 0.1, which made it barely visible)
        assert mean.nonselection_glyph.line_alpha == mean.glyph.line_alpha == 0.9
        assert fig.renderers.index(mean) < fig.renderers.index(dots), "drawn under the dots"


def test_the_toolbar_saves_the_four_plots_as_one_png(metrics):
    (grid,) = [c for c in metrics.figure.children if isinstance(c, GridPlot)]
    (save,) = [t for t in grid.toolbar.tools if isinstance(t, SaveTool)]
    assert save.filename == "vitwidgets-layer-metrics"


def test_heads_without_a_proposed_tag_are_grey_not_black(metrics):
    assert lm.PENDING_COLOUR == "#b0b0b0"
    assert set(metrics.source.data["colour"]) <= set(TAG_COLOURS.values())


def test_displaying_sends_no_bokehjs(metrics, tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: published.append(data)
    try:
        dash = explore(metrics.session, annotations=tmp_path / "a.heads.json")
        for widget in (metrics, dash):
            bundle = widget._repr_mimebundle_()
            assert set(bundle) == {"text/plain", "application/vnd.jupyter.widget-view+json"}
    finally:
        del shell.display_pub.publish
    assert published == [], "no bokeh loader (output_notebook) is displayed alongside"
    state = json.dumps(metrics.plot.get_state(), default=str)
    assert len(state) < 100_000 and "Bokeh Contributors" not in state


def test_the_installed_extension_carries_the_bokehjs_of_this_bokeh():
    manifest = json.loads((EXTENSION / "package.json").read_text())
    entry = EXTENSION / manifest["jupyterlab"]["_build"]["load"]
    assert entry.is_file() and "_JUPYTERLAB" in entry.read_text()
    assert json.loads((EXTENSION / "static" / "bokehjs.json").read_text()) == {
        "version": bokeh.__version__}
    from bokeh.util.paths import bokehjs_path

    shipped = (EXTENSION / "static" / "bokeh.min.js").read_bytes()
    assert shipped == (Path(bokehjs_path()) / "js" / "bokeh.min.js").read_bytes()
    lm.bokehjs_extension_problem.cache_clear()
    assert lm.bokehjs_extension_problem() is None


def _fake_extension(root: Path, version: str) -> None:
    static = root / "labextensions" / lm.BOKEHJS_EXTENSION / "static"
    static.mkdir(parents=True)
    (static / "bokehjs.json").write_text(json.dumps({"version": version}))


@pytest.mark.parametrize(("version", "message"), [
    ("0.0.1", r"carries BokehJS 0\.0\.1 but this kernel has bokeh .*reinstall vitwidgets"),
    (None, r"is not installed .*load_bokehjs\(\) once"),
])
def test_a_missing_or_mismatched_extension_is_named_with_the_fix(tmp_path, monkeypatch,
                                                                 version, message):
    import jupyter_core.paths

    if version:
        _fake_extension(tmp_path, version)
    monkeypatch.setattr(jupyter_core.paths, "jupyter_path",
                        lambda *sub: [str(tmp_path.joinpath(*sub))])
    lm.bokehjs_extension_problem.cache_clear()
    try:
        assert re.search(message, lm.bokehjs_extension_problem())
        with pytest.warns(UserWarning, match=message):
            LayerMetrics(Session(toy_trace(), identity=IDENTITY))
    finally:
        lm.bokehjs_extension_problem.cache_clear()
