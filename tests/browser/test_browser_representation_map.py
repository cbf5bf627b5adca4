"""The study views in JupyterLab + Chromium, driven as a person does (and their PNGs saved
from a cell): the RepresentationMap of
the bundled zoo model streams its CKA in the background (the status line counts batches),
hovering a cell reads its value and both blocks, and clicking cell (3, 5) moves two linked
explorers to layers 3 and 5 (``vw.link(rm, ex_a)`` and ``vw.link(rm, ex_b, traits={"layer_b":
"layer"})``); clicking the DepthProfile at block 4 moves the first explorer (and, through it,
the map's row) to layer 4."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

SHOW = """
import torch, ipywidgets as W
import vitwidgets as vw

m = vw.load_model("zoo:supervised")
images = torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
rm = vw.RepresentationMap(m, images, batch_size=4)
ex_a = vw.AttentionExplorer(m, images[0])
ex_b = vw.AttentionExplorer(m, images[1])
vw.link(rm, ex_a)
vw.link(rm, ex_b, traits={"layer_b": "layer"})
W.VBox([rm, W.HBox([ex_a, ex_b])])
"""
DEPTH = """
dp = vw.DepthProfile(m, images, labels=[0, 1] * 4, batch_size=4)
vw.link(dp, ex_a)
dp
"""
SAVE = """
cka = await rm.save_png("cka.png", timeout=60)
depth = await dp.save_png("depth.png", scale=1, timeout=60)
print("SAVED", cka, depth)
"""
ROW, COL = 3, 5


def _dataset(lab, selector: str) -> dict:
    return lab.page.evaluate(f"() => ({{ ...document.querySelector('{selector}').dataset }})")


def _layers(lab) -> list[str]:
    return lab.page.evaluate(
        "() => [...document.querySelectorAll('.vw-explorer')].map((r) => r.dataset.layer)")


def _canvas_point(lab, selector: str, x: float, y: float) -> tuple[float, float]:
    lab.page.locator(selector).scroll_into_view_if_needed()
    box = lab.page.locator(selector).bounding_box()
    return box["x"] + x, box["y"] + y


def _check_saved_pngs(lab) -> None:
    """``await view.save_png(path)`` wrote the views as the browser draws them, titled, on
    white."""
    from PIL import Image

    assert "SAVED cka.png depth.png" in lab.output_text(2), lab.output_text(2)
    for name, scale, selector in (("cka.png", 2, ".vw-repmap canvas"),
                                  ("depth.png", 1, ".vw-depth canvas")):
        size = lab.page.evaluate(f"() => {{ const c = document.querySelector('{selector}');"
                                 " return [c.width, c.height]; }")
        img = Image.open(lab.server.root / name).convert("RGB")
        # the canvas under a title line of 24 CSS px (js/src/chart.js TITLE_HEIGHT), at least
        # as wide as the canvas (wider when the title needs it)
        assert img.height == scale * (size[1] + 24) and img.width >= scale * size[0], name
        assert img.getpixel((1, 1)) == (255, 255, 255), f"{name}: white for slides"


def test_clicking_a_cka_cell_moves_the_linked_views_to_its_two_layers(lab):
    lab.open_notebook(lab.write_notebook("repmap.ipynb", [SHOW, DEPTH, SAVE]))
    lab.run_all()
    lab.page.wait_for_function(
        "() => document.querySelector('.vw-repmap')?.dataset.ready === 'true'", timeout=120_000)
    _check_saved_pngs(lab)
    d = _dataset(lab, ".vw-repmap")
    assert (d["rows"], d["cols"], d["error"], d["status"]) == ("6", "6", "", "")
    cell, fx, fy = int(d["cell"]), float(d["frameX"]), float(d["frameY"])
    # row 0 is drawn at the bottom
    x, y = fx + (COL + 0.5) * cell, fy + (6 - ROW - 0.5) * cell
    canvas = ".vw-repmap canvas.vw-repmap-canvas"
    lab.page.mouse.move(*_canvas_point(lab, canvas, x, y))
    d = _dataset(lab, ".vw-repmap")
    assert (d["hoverRow"], d["hoverCol"]) == (str(ROW), str(COL))
    readout = lab.page.locator(".vw-repmap .vw-readout").inner_text()
    value = float(d["value"])
    assert 0.05 < value <= 1.0001, "blocks 3 and 5 of a trained model are alike"
    assert re.match(rf"block {ROW} × block {COL} \(.+\): CKA {value:.2f}", readout), readout

    lab.page.mouse.click(*_canvas_point(lab, canvas, x, y))
    lab.page.wait_for_function(
        f"() => [...document.querySelectorAll('.vw-explorer')].map((r) => r.dataset.layer)"
        f".join() === '{ROW},{COL}'", timeout=30_000)
    d = _dataset(lab, ".vw-repmap")
    assert (d["layer"], d["layerB"]) == (str(ROW), str(COL))

    lab.page.wait_for_function(
        "() => document.querySelector('.vw-depth')?.dataset.ready === 'true'", timeout=120_000)
    d = _dataset(lab, ".vw-depth")
    assert d["panels"].split(",")[-2:] == ["knn", "probe"], "labels give the probe panels"
    frames = json.loads(d["frames"])
    lo, hi = (float(v) for v in d["domain"].split(","))
    f = frames[d["panels"].split(",").index("distance_px")]
    # the chart's x scale (js/src/depth/paint.js xScaleOf): 6 px inside the frame on each side
    px = f["x"] + 6 + (4 - lo) / (hi - lo) * (f["w"] - 12)
    lab.page.mouse.click(*_canvas_point(lab, ".vw-depth canvas.vw-depth-canvas", px,
                                        f["y"] + f["h"] / 2))
    lab.page.wait_for_function(
        "() => document.querySelector('.vw-explorer').dataset.layer === '4'", timeout=30_000)
    assert _layers(lab) == ["4", str(COL)]
    assert _dataset(lab, ".vw-repmap")["layer"] == "4", "the map's row follows the explorer"
