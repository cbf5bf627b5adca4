"""vw.compare in JupyterLab + Chromium, driven as a person does: two models of different depth
and grid side by side (the zoo's MAE: 6 blocks, 8 x 8 patches; a 3-block model on a 4 x 4
grid). Clicking a CKA cell sends each explorer to its own block; pinning a patch in one
explorer pins the patch under the same place in the other; the layer slider of one moves the
other to the same relative depth."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SHOW = """
import torch
import vitwidgets as vw
from vitwidgets.data import ShapeWorld
from vitwidgets.zoo import create_vit

torch.manual_seed(0)
shallow = vw.load_model(create_vit(depth=3, patch_size=16).eval())
images = list(ShapeWorld(4, split="test").images())
c = vw.compare({"mae": "zoo:mae", "shallow": shallow}, images)
c
"""

STATES_JS = "() => [...document.querySelectorAll('.vw-explorer')].map((r) => ({...r.dataset}))"


def _wait_explorers(lab, condition: str) -> list[dict]:
    """Wait until ``condition`` (JS over ``a`` and ``b``, the two explorers' datasets) holds."""
    js = f"() => {{ const [a, b] = ({STATES_JS})(); return !!(a && b && ({condition})); }}"
    try:
        lab.page.wait_for_function(js, timeout=60_000, polling=50)
    except Exception as exc:
        raise AssertionError(f"never {condition}: {lab.page.evaluate(STATES_JS)}") from exc
    return lab.page.evaluate(STATES_JS)


def _click(lab, selector: str, x: float, y: float) -> None:
    canvas = lab.page.locator(selector).first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    lab.page.mouse.click(box["x"] + x, box["y"] + y)


def test_compare_links_two_models_by_cka_cell_patch_place_and_relative_depth(lab):
    lab.open_notebook(lab.write_notebook("compare.ipynb", [SHOW]))
    lab.run_all()
    lab.page.locator(".vw-repmap[data-ready='true']").wait_for(timeout=120_000)
    _wait_explorers(lab, "a.ready === 'true' && b.ready === 'true'")

    # a CKA cell off the diagonal: row = MAE's block 4, column = the shallow model's block 0
    d = lab.page.evaluate("() => ({...document.querySelector('.vw-repmap').dataset})")
    assert (d["rows"], d["cols"]) == ("6", "3")
    cell, fx, fy = int(d["cell"]), float(d["frameX"]), float(d["frameY"])
    _click(lab, ".vw-repmap canvas.vw-repmap-canvas", fx + 0.5 * cell, fy + (6 - 4 - 0.5) * cell)
    _wait_explorers(lab, "a.layer === '4' && b.layer === '0' && a.ready === 'true'"
                         " && b.ready === 'true'")

    # pin MAE's patch (row 2, col 5) of 8 x 8: the shallow model pins its 4 x 4 patch (1, 2)
    focus = lab.page.locator(".vw-explorer canvas.vw-focus").first
    size = focus.evaluate("(c) => c.height")
    cell = size // 8
    _click(lab, ".vw-explorer canvas.vw-focus", (5 + 0.5) * cell, (2 + 0.5) * cell)
    states = _wait_explorers(lab, "a.pinned === 'true' && b.pinned === 'true'")
    assert states[0]["query"] == str(1 + 2 * 8 + 5)
    assert states[1]["query"] == str(1 + 1 * 4 + 2), "the patch under the same place"

    # MAE's last block is the shallow model's last block (same relative depth)
    lab.page.locator(".vw-explorer input.vw-layer-slider").first.fill("5")
    _wait_explorers(lab, "a.layer === '5' && b.layer === '2'")
    lab.page.wait_for_function(  # the map's cell follows (its own message, maybe later)
        "() => { const d = document.querySelector('.vw-repmap').dataset;"
        " return d.layer === '5' && d.layerB === '2'; }", timeout=30_000)
