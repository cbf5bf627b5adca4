"""Every vitwidgets anywidget in anywidget's other hosts: Jupyter Notebook 7 and marimo.

JupyterLab is covered by the other browser tests. Here one page per host shows the explorer,
the head annotator, the feature explorer, the representation map, the depth profile and the
concept map of the bundled ``zoo:mae`` on ShapeWorld images, and each test checks what a host
can break:

* the view renders and paints (``data-ready="true"``, no error in the widget);
* its styles apply (marimo renders anywidgets in a shadow root, where styles put in the
  document's head do not reach: the explorer's mode bar is then a column of plain buttons);
* model events and messages flow both ways: a layer chosen in the explorer goes to the kernel,
  through ``vw.link`` to the feature explorer and back to its view, which asks the kernel for
  that layer's features (a custom message) and paints them.

(LayerMetrics is a bokeh plot in an ipywidgets box, not an anywidget: it needs JupyterLab or
Notebook 7 with the ``vitwidgets-bokehjs`` extension and is not part of the marimo page.)
"""

from __future__ import annotations

import pytest
from lab_helpers import Lab, LabServer, MarimoServer, save_failure, write_marimo_app

pytestmark = pytest.mark.browser

SETUP = """
import vitwidgets as vw
from vitwidgets.data import ShapeWorld

m = vw.load_model("zoo:mae")
images = list(ShapeWorld(4, split="test").images())  # CKA: batches of 4 at least
ex = vw.AttentionExplorer(m, images)
ann = vw.HeadAnnotator(m, images, path="hosts.heads.json")
fx = vw.FeatureExplorer(m, images, layer=0)
rm = vw.RepresentationMap(m, images)
dp = vw.DepthProfile([m], images)
cm = vw.ConceptMap(m, ShapeWorld(4, split="test"), top_k=2)
links = vw.link(ex, fx, traits=["layer"])
"""
VIEWS = ["ex", "ann", "fx", "rm", "dp", "cm"]
# each view's root, and the class its style rules name (the study views share one frame)
ROOTS = {".vw-explorer": ".vw-explorer", ".vw-annotator": ".vw-annotator",
         ".vw-features": ".vw-features", ".vw-repmap": ".vw-study", ".vw-depth": ".vw-study",
         ".vw-concepts": ".vw-concepts-body"}
NOTEBOOK_SHOW = "import ipywidgets\nipywidgets.VBox([" + ", ".join(VIEWS) + "])"
MARIMO_SHOW = "mo.vstack([" + ", ".join(f"mo.ui.anywidget({v})" for v in VIEWS) + "])"


def _check_views(page) -> None:
    """Every view painted without an error, the explorer styled, and a layer chosen in the
    explorer reaches the linked feature explorer through the kernel."""
    for root, css_class in ROOTS.items():
        view = page.locator(root).first
        try:
            settled = f"{root}:is([data-ready='true'], [data-error]:not([data-error='']))"
            page.locator(settled).first.wait_for(timeout=120_000)
        except Exception as exc:
            state = view.evaluate("e => ({...e.dataset, text: e.innerText.slice(0, 300)})")
            raise AssertionError(f"{root} never got ready: {state}") from exc
        error = view.get_attribute("data-error") or ""
        assert error == "", f"{root} shows an error: {error}"
        # its rules are where they reach it: in its document, or in its shadow root
        styled = view.evaluate("(e, cls) => [...e.getRootNode().querySelectorAll('style')]"
                               ".some((s) => s.textContent.includes(cls))", css_class)
        assert styled, f"{root}: no style rules for it in its document or shadow root"
    modes = page.locator(".vw-explorer .vw-modes").first
    display = modes.evaluate("e => getComputedStyle(e).display")
    assert display in ("flex", "inline-flex"), f"the explorer's styles do not apply: {display}"
    assert page.locator(".vw-features").first.get_attribute("data-layer") == "0"
    page.locator(".vw-explorer input.vw-layer-slider").first.fill("3")
    page.locator(".vw-features[data-layer='3'][data-ready='true']").first.wait_for(timeout=60_000)
    page.locator(".vw-explorer[data-layer='3'][data-ready='true']").first.wait_for(timeout=60_000)


@pytest.fixture
def notebook7(tmp_path_factory, browser):
    server = LabServer(tmp_path_factory.mktemp("notebook7"), app="notebook")
    server.start()
    ctx = browser.new_context(viewport={"width": 1400, "height": 1400})
    lab = Lab(ctx.new_page(), server)
    lab.page.on("console", lambda m: lab.console.append(f"[{m.type}] {m.text}"))
    try:
        yield lab
    finally:
        ctx.close()
        server.delete_kernels()
        server.stop()


def test_every_view_renders_styled_and_linked_in_jupyter_notebook_7(notebook7, request):
    lab = notebook7
    try:
        lab.open_notebook(lab.write_notebook("hosts.ipynb", [SETUP, NOTEBOOK_SHOW]))
        lab.run_all(timeout_ms=300_000)
        _check_views(lab.page)
    except BaseException:
        save_failure(lab, request.node.name)
        raise


def test_every_view_renders_styled_and_linked_in_marimo(tmp_path, browser):
    app = write_marimo_app(tmp_path / "hosts.py", "import marimo as mo\n" + SETUP + MARIMO_SHOW)
    server = MarimoServer(app)
    server.start()
    ctx = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = ctx.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    try:
        page.goto(server.url)
        _check_views(page)
    except BaseException:
        save_failure(Lab(page, server, console), "marimo-" + app.stem)  # type: ignore[arg-type]
        raise
    finally:
        ctx.close()
        server.stop()
