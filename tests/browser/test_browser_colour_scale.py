"""The explorer's colour scale and self-explaining views in JupyterLab + Chromium: the colour
bar names the top of the scale (a known answer: block 0 of the constructed model,
``constructed_model.py``, whose attention follows from its formula), the scale modes change a
head's shade as they should (per map: every head's peak is white; per layer: a head's peak is
its share of the layer's; absolute: its share of 100 %), grid lines between the patches, the
labels of the rollout and aligned views, and the selection coming back when the cell is re-run.
"""

from __future__ import annotations

import json
import math
import re

import constructed_model as cm
import numpy as np
from lab_helpers import Lab

GH = GW = cm.GRID
SMALL = ".vw-explorer canvas.vw-head"
FOCUS = ".vw-explorer canvas.vw-focus"
#: pinned query: patch (3, 7), on the right edge (head 0, "right", then attends to itself)
ROW, COL = 3, 7
QUERY = cm.NUM_PREFIX + ROW * GW + COL

CELL = f"""
import json
import vitwidgets as vw
import constructed_model as cm

m = vw.load_model(cm.make_model())
ex = vw.AttentionExplorer(m, cm.black_image(), colormap="gray", opacity=1.0, query={QUERY})
rows = ex.session.attention_rows(0, 1, [{QUERY}])[:, 0, cm.NUM_PREFIX:]  # [H, patches], block 1
print("EXPECT " + json.dumps(rows.max(dim=-1).values.tolist()))
ex
"""


def expected_block0_row(head: int, row: int, col: int) -> np.ndarray:
    """Block-0 attention of the constructed model from patch (row, col), head ``head``, over
    the N = 1 + 64 tokens (CLS first), from the formula of ``constructed_model.py``:
    ``softmax(d^-1/2 beta^2 s^2 [cos(a (c' - c - dc)) + cos(a (r' - r - dr))])`` with
    ``s^2 = D / 4 = 32``, ``d = 32`` and a CLS score of 0."""
    dr, dc = cm.OFFSETS[head]
    a = 2 * math.pi / cm.PERIOD
    gain = 32**-0.5 * cm.BETA**2 * 32
    rr, cc = np.meshgrid(np.arange(GH), np.arange(GW), indexing="ij")
    scores = gain * (np.cos(a * (cc - col - dc)) + np.cos(a * (rr - row - dr)))
    logits = np.concatenate([[0.0], scores.ravel()])
    p = np.exp(logits - logits.max())
    return p / p.sum()


def _open(lab: Lab, name: str) -> list[float]:
    lab.open_notebook(lab.write_notebook(name, [CELL]))
    lab.run_all()
    lab.raise_on_error()
    lab.wait_explorer(f"d.ready === 'true' && d.query === '{QUERY}'", timeout_ms=90_000)
    return json.loads(re.search(r"EXPECT (\[.*\])", lab.output_text(0)).group(1))


def _legend(lab: Lab) -> str:
    return lab.page.locator(".vw-explorer .vw-legend-high").inner_text()


def _repaint(lab: Lab, act) -> dict:
    count = int(lab.explorer_state()["paintCount"])
    act()
    return lab.wait_explorer(f"Number(d.paintCount) > {count} && d.ready === 'true'")


def _set_layer(lab: Lab, layer: int) -> None:
    lab.page.locator(".vw-explorer input.vw-layer-slider").evaluate(
        f"s => {{ s.value = '{layer}'; s.dispatchEvent(new Event('input')); }}")
    lab.wait_explorer(f"d.layer === '{layer}' && d.ready === 'true' && d.loading !== 'true'")


def _vmax(lab: Lab) -> list[float]:
    return lab.page.evaluate(
        f"() => [...document.querySelectorAll('{SMALL}')].map((c) => Number(c.dataset.vmax))"
    )


def _shade(t: float) -> float:
    """Red value of a cell at colour position t over the black image (gray map, opacity 1):
    the map's grey 255 t at alpha 0.3 + 0.7 t (draw.js FLOOR_ALPHA) over black."""
    return 255 * t * (0.3 + 0.7 * t)


def test_colour_bar_names_the_known_top_and_the_scales_set_each_heads_shade(lab):
    peaks = _open(lab, "colour-scale.ipynb")
    # block 0 (known answer): the focused head 0's top, as the bar says it
    want = expected_block0_row(0, ROW, COL)[cm.NUM_PREFIX:].max()
    text = _legend(lab)
    got = float(re.fullmatch(r"max (\d+\.\d)%", text).group(1))
    assert abs(got - 100 * want) <= 0.15, (text, 100 * want)
    assert abs(float(lab.explorer_state()["scaleMax"]) - want) < 2e-3
    # block 1 (random weights: unequal heads), each scale against the kernel's row maxima
    _set_layer(lab, 1)
    weakest = int(np.argmin(peaks))
    top = max(peaks)
    select = lab.page.locator(".vw-explorer select.vw-scale")
    for scale, tops in [("map", peaks), ("layer", [top] * 4), ("absolute", [1.0] * 4)]:
        if lab.explorer_state()["scale"] != scale:
            _repaint(lab, lambda s=scale: select.select_option(s))
        assert np.allclose(_vmax(lab), tops, atol=2e-3), (scale, _vmax(lab), tops)
        cells = lab.read_cells(SMALL, GH, GW)
        brightest = max(cells[weakest]["values"])
        expect = _shade(peaks[weakest] / tops[weakest])
        assert abs(brightest - expect) <= 4, (scale, brightest, expect)
    assert _legend(lab) == "100.0%"
    _repaint(lab, lambda: select.select_option("layer"))
    assert re.fullmatch(r"layer max (\d+\.\d)%", _legend(lab)), _legend(lab)
    assert abs(float(_legend(lab).split()[-1][:-1]) - 100 * top) <= 0.15


GRID_LINE_JS = """() => {
  const c = document.querySelector('.vw-explorer canvas.vw-focus');
  const cell = Math.floor(c.height / 8);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const red = (x, y) => d[(y * c.width + x) * 4];
  // every line column x = k * cell against the pixel beside it, on every row's centre
  let differ = 0, total = 0;
  for (let k = 1; k < 8; k++) for (let r = 0; r < 8; r++) {
    const y = Math.floor((r + 0.5) * cell);
    total += 1;
    if (red(k * cell, y) !== red(k * cell + 2, y)) differ += 1;
  }
  return [differ, total];
}"""


def test_grid_lines_rollout_and_aligned_labels_say_what_each_view_shows(lab):
    _open(lab, "colour-labels.ipynb")
    differ, total = lab.page.evaluate(GRID_LINE_JS)
    # (the pinned query's outline covers one edge)
    assert differ >= total - 2, f"grid lines at {differ} of {total} cell edges"
    _repaint(lab, lambda: lab.page.locator(".vw-explorer input.vw-grid-lines").uncheck())
    differ, _ = lab.page.evaluate(GRID_LINE_JS)
    assert differ < total // 4, f"{differ} of {total} edges still differ without grid lines"
    edge = lab.page.locator(FOCUS).evaluate(
        "c => [0, c.height - 1].map((y) => [...c.getContext('2d').getImageData(3, y, 1, 1).data])")
    assert edge == [[136, 136, 136, 255]] * 2, f"the patch grid's frame (mid grey): {edge}"
    _repaint(lab, lambda: lab.page.locator('.vw-modes button[data-mode="rollout"]').click())
    lab.wait_explorer("d.mode === 'rollout' && d.ready === 'true'")
    texts = lab.page.evaluate(
        "() => ({ title: document.querySelector('.vw-focus-title').textContent,"
        " caption: document.querySelector('.vw-heads-caption').textContent,"
        " labels: [...document.querySelectorAll('.vw-head-label')].map((l) => l.textContent) })"
    )
    assert texts["title"].startswith("rollout to layer 0 (blocks 0–0, mean of heads)")
    assert texts["caption"] == "each head: query → keys of layer 0 alone (not rolled out)"
    assert texts["labels"] == [f"head {h}: query → keys" for h in range(4)]
    _repaint(lab, lambda: lab.page.locator('.vw-modes button[data-mode="aligned"]').click())
    lab.wait_explorer("d.mode === 'aligned' && d.ready === 'true'")
    caption = lab.page.locator(".vw-explorer .vw-focus-caption").inner_text()
    assert caption.startswith("axes: offset from the query in patches, dx −7…+7 → right, "
                              "dy −7…+7 ↓ down")


def test_rerunning_the_cell_brings_the_explorer_back_to_its_layer_head_and_mode(lab):
    _open(lab, "colour-rerun.ipynb")
    lab.page.locator('.vw-heads .vw-head-cell[data-head="2"]').click()
    lab.page.locator('.vw-modes button[data-mode="column"]').click()
    _set_layer(lab, 3)
    lab.wait_explorer("d.layer === '3' && d.head === '2' && d.mode === 'column'"
                      " && d.ready === 'true'")
    lab.wait_kernel_idle()
    lab.run_all()  # the user re-runs the cell
    lab.raise_on_error()
    state = lab.wait_explorer("d.ready === 'true' && d.layer === '3'", timeout_ms=90_000)
    assert (state["layer"], state["head"], state["mode"], state["query"]) == (
        "3", "2", "column", str(QUERY))
