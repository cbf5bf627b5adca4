"""``vw.explore`` in JupyterLab + Chromium, driven as a person does: hover, keyboard, bokeh tap,
and a screenshot of the whole dashboard.

The model is a tiny ViT whose block-0 attention is known analytically (``constructed_model.py``:
from every query patch, head 0 looks one patch right, head 1 left, head 2 down, head 3 up). The
first image is black and the explorer starts with the ``gray`` colour map at opacity 1, so a
cell's pixel value is monotone in its attention and the brightest patch is white (TESTING.md).
One notebook (one kernel) serves every test of this module; each test sets the state it needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import constructed_model as cm
import pytest
from lab_helpers import ARTIFACTS, BOKEH_DOT_JS, Lab, save_failure

pytestmark = pytest.mark.browser

GH = GW = cm.GRID
HEADS = len(cm.OFFSETS)
SMALL = ".vw-explorer canvas.vw-head"
FOCUS = ".vw-explorer canvas.vw-focus"

SETUP = """
import os
print("KERNEL_PID", os.getpid())
import numpy as np
import vitwidgets as vw
import constructed_model as cm

m = vw.load_model(cm.make_model())
images = [cm.black_image(), vw.data.sample_image("chelsea")]
"""

SHOW = """
dashboard = vw.explore(m, images, annotations="dashboard.heads.json", colormap="gray",
                       opacity=1.0)
dashboard
"""

# The kernel's own check of the construction, so that a broken construction (e.g. a timm change)
# is told apart from a widget that draws the wrong thing.
CHECK = """
A = dashboard.session.layer_attention(0, 0).float().numpy()  # [H, N, N]
bad = [(h, r, c) for h in range(A.shape[0]) for r in range(cm.GRID) for c in range(cm.GRID)
       if 1 + int(A[h, 1 + r * cm.GRID + c, 1:].argmax()) != cm.expected_key(h, r, c)]
assert not bad, f"the constructed model does not attend as documented at {bad[:5]}"
print("construction ok")
"""


@pytest.fixture(scope="module")
def dash(open_lab) -> Iterator[Lab]:
    lab = open_lab()
    try:
        lab.open_notebook(lab.write_notebook("dashboard.ipynb", [SETUP, SHOW, CHECK]))
        lab.run_all()
        lab.wait_explorer("d.ready === 'true' && d.layer === '0'")
        lab.page.locator(".vw-annotator[data-ready='true']").wait_for()
    except Exception:
        save_failure(lab, "dashboard-setup")
        raise
    yield lab


@pytest.fixture(autouse=True)
def _artefacts_on_failure(request: pytest.FixtureRequest, dash: Lab) -> Iterator[None]:
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        save_failure(dash, request.node.name)


def _hover_patch(lab: Lab, row: int, col: int) -> dict[str, str]:
    """Move the real pointer over patch (row, col) of the focus canvas; wait for the repaint."""
    focus = lab.page.locator(FOCUS).first
    focus.scroll_into_view_if_needed()
    box = focus.bounding_box()
    cell = focus.evaluate(f"c => Math.floor(c.height / {GH})")
    token = cm.NUM_PREFIX + row * GW + col
    before = lab.explorer_state()
    if before.get("hoverCell") == str(token):  # move off first so the hover really changes
        lab.page.mouse.move(box["x"] + 2, box["y"] - 25)  # the title above: no grid canvas
        lab.wait_explorer("d.hoverCell === '-1'")
        before = lab.explorer_state()
    lab.page.mouse.move(box["x"] + (col + 0.5) * cell, box["y"] + (row + 0.5) * cell)
    return lab.wait_explorer(
        f"d.hoverCell === '{token}' && d.query === '{token}'"
        f" && Number(d.paintCount) > {int(before['paintCount'])}"
    )


def _argmax(values: list[int]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _rc(index: int) -> tuple[int, int]:
    return divmod(index, GW)


def _maps(lab: Lab) -> dict[int, list[int]]:
    return {int(m["head"]): m["values"] for m in lab.read_cells(SMALL, GH, GW)}


def test_hover_shows_every_head_peaking_at_the_constructed_key(dash: Lab):
    state = dash.wait_explorer("d.ready === 'true'")
    assert (state["layer"], state["image"], state["pinned"]) == ("0", "0", "false"), state
    canvases = dash.read_cells(SMALL, GH, GW)
    assert sorted(int(c["head"]) for c in canvases) == list(range(HEADS)), canvases
    assert all(c["cell"] >= 8 for c in canvases), "head maps too small to read back"
    previous = _maps(dash)

    for row, col in [(3, 2), (5, 6), (1, 4)]:
        state = _hover_patch(dash, row, col)
        maps = _maps(dash)
        assert maps != previous, f"hovering patch ({row}, {col}) did not change the head maps"
        for head, values in maps.items():
            want = cm.expected_key(head, row, col) - cm.NUM_PREFIX
            got = _argmax(values)
            ranked = sorted(values)
            assert got == want, (
                f"query patch ({row}, {col}), head {head}: brightest cell {_rc(got)}, "
                f"the constructed model attends to {_rc(want)}; cell values {values}"
            )
            # the peak is white and stands alone (the model puts >90% of attention on it)
            assert ranked[-1] >= 250 and ranked[-2] <= 0.25 * ranked[-1], (head, values)
        # the large view shows the focused head, peaking at the same key
        focused = int(state["head"])
        (big,) = dash.read_cells(FOCUS, GH, GW)
        want = cm.expected_key(focused, row, col) - cm.NUM_PREFIX
        assert _argmax(big["values"]) == want, (focused, big["values"])
        er, ec = _rc(want)
        readout = dash.page.locator(".vw-explorer .vw-readout").first.text_content()
        assert f"strongest key among patches: patch (row {er}, col {ec})" in readout, readout
        previous = maps


def test_arrow_keys_change_layer_and_repaint(dash: Lab):
    page = dash.page
    dash.wait_explorer("d.ready === 'true' && d.layer === '0' && d.pinned === 'false'")
    _hover_patch(dash, 3, 2)
    layer0 = _maps(dash)
    root = page.locator(".vw-explorer").first
    root.focus()

    count = int(dash.explorer_state()["paintCount"])
    page.keyboard.press("ArrowRight")
    state = dash.wait_explorer(
        f"d.layer === '1' && d.ready === 'true' && Number(d.paintCount) > {count}"
    )
    assert page.locator(".vw-explorer .vw-layer-value").first.text_content() == "1 / 5"
    assert page.locator(".vw-explorer input.vw-layer-slider").first.input_value() == "1"
    layer1 = _maps(dash)
    # block 1 keeps random weights: its maps are nothing like block 0's single offset peak
    changed = [h for h in layer1 if layer1[h] != layer0[h]]
    assert len(changed) == HEADS, f"layer 1 repainted with layer 0's pixels for heads {changed}"

    count = int(state["paintCount"])
    page.keyboard.press("ArrowLeft")
    dash.wait_explorer(f"d.layer === '0' && d.ready === 'true' && Number(d.paintCount) > {count}")
    assert _maps(dash) == layer0, "back on layer 0 the maps differ from before"


def test_tapping_a_metrics_dot_selects_that_layer_and_head(dash: Lab):
    page = dash.page
    layer, head = 4, 2
    state = dash.wait_explorer("d.ready === 'true'")
    assert (state["layer"], state["head"]) != (str(layer), str(head)), state
    page.locator(".vw-layer-metrics").first.scroll_into_view_if_needed()
    page.wait_for_function(
        f"() => window.Bokeh && ({BOKEH_DOT_JS})([{layer}, {head}, 'vw-plot-distance_px'])",
        timeout=30_000,
    )
    dot = page.evaluate(BOKEH_DOT_JS, [layer, head, "vw-plot-distance_px"])
    page.mouse.click(dot["x"], dot["y"])
    state = dash.wait_explorer(
        f"d.layer === '{layer}' && d.head === '{head}' && d.ready === 'true'"
    )
    cell = page.locator(f".vw-explorer .vw-head-cell[data-head='{head}']").first
    assert cell.get_attribute("data-focused") == "true"
    # the annotator follows too (linked through Python)
    page.wait_for_function(
        f"() => {{ const a = document.querySelector('.vw-annotator');"
        f" return a.dataset.layer === '{layer}' && a.dataset.head === '{head}'"
        f" && a.querySelector(\"tr.vw-row[data-layer='{layer}'][data-head='{head}']\")"
        f".dataset.selected === 'true'; }}",
        timeout=30_000,
    )

    # and back: focusing another head in the explorer (']') moves the ring onto its dot
    page.locator(".vw-explorer").first.focus()
    page.keyboard.press("]")
    dash.wait_explorer(f"d.head === '{head + 1}'")
    try:
        page.wait_for_function(
            f"() => {{ const p = ({BOKEH_DOT_JS})([{layer}, {head + 1}, 'vw-plot-distance_px']);"
            " return p && p.ring[0] === p.dot[0] && p.ring[1] === p.dot[1]; }",
            timeout=30_000,
        )
    except Exception as exc:
        ring = page.evaluate(BOKEH_DOT_JS, [layer, head + 1, "vw-plot-distance_px"])
        raise AssertionError(f"the ring did not move to the dot of {layer}:{head + 1}: {ring}")\
            from exc


def test_screenshot_of_the_dashboard(dash: Lab):
    page = dash.page
    # a picture for the eye: block 0 (the constructed offset heads), head 1 focused, the second
    # image (a cat; the constructed block 0 ignores it), viridis at 0.7, a pinned query patch
    page.locator(".vw-explorer input.vw-layer-slider").first.fill("0")
    page.locator(".vw-explorer .vw-head-cell[data-head='1']").first.click()
    page.locator(".vw-explorer .vw-strip img[data-image='1']").first.click()
    dash.wait_explorer("d.image === '1' && d.layer === '0' && d.head === '1' && d.ready === 'true'")
    page.locator(".vw-explorer select.vw-colormap").first.select_option("viridis")
    page.locator(".vw-explorer input.vw-opacity").first.fill("0.7")
    dash.wait_explorer("d.colormap === 'viridis'")
    _hover_patch(dash, 3, 2)
    page.mouse.down()  # click pins the hovered patch, so the maps stay when the pointer leaves
    page.mouse.up()
    dash.wait_explorer("d.pinned === 'true' && d.query === '27'")
    dashboard = page.locator(".vw-dashboard").first
    page.mouse.move(0, 0)  # no tooltip over the plots
    path = dash.screenshot("dashboard.png", locator=dashboard)
    from PIL import Image

    with Image.open(path) as img:
        width, height = img.size
    assert width >= 900 and height >= 600, (width, height)
    problems = [m for m in dash.console
                if "[pageerror]" in m or "Could not create a view" in m]
    assert not problems, problems
    (ARTIFACTS / "dashboard.state.json").write_text(json.dumps(dash.explorer_state(), indent=1))


FIT_JS = """() => {
  const box = document.querySelector('.vw-annotator .vw-ann-scroll').getBoundingClientRect();
  const table = document.querySelector('.vw-annotator table').getBoundingClientRect();
  const row = document.querySelector('.vw-annotator tr.vw-row');
  const cells = [...row.children].map((td) => td.getBoundingClientRect());
  const note = row.querySelector('input.vw-note').getBoundingClientRect();
  return { box: [box.left, box.right], table: [table.left, table.right],
           cells: cells.map((c) => [c.left, c.right]), note: [note.left, note.right] };
}"""


def _check_annotator_fits(lab: Lab, width: int) -> None:
    lab.page.set_viewport_size({"width": width, "height": 1400})
    lab.page.wait_for_timeout(400)
    fit = lab.page.evaluate(FIT_JS)
    left, right = fit["box"]
    assert fit["table"][1] <= right + 1, (width, fit)
    assert all(a >= left - 1 and b <= right + 1 for a, b in fit["cells"]), (width, fit)
    assert fit["note"][1] <= right + 1 and fit["note"][1] - fit["note"][0] >= 40, (width, fit)


def test_the_annotator_table_fits_its_box_even_with_a_long_custom_tag(dash: Lab):
    page = dash.page
    for width in (900, 1200, 1600):
        _check_annotator_fits(dash, width)
    long_tag = "a-very-long-custom-tag-that-would-widen-every-select-in-the-table"
    page.locator(".vw-annotator input.vw-new-tag").first.fill(long_tag)
    page.locator(".vw-annotator button.vw-add-tag").first.click()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('.vw-annotator select.vw-tag option')]"
        f".some((o) => o.value === '{long_tag}')", timeout=30_000)
    for width in (900, 1600):
        _check_annotator_fits(dash, width)
