"""The FeatureExplorer in JupyterLab + Chromium, driven as a person does: hovering a patch of one
image paints every image's cosine map in the browser, and each image's brightest cell is the
kernel's best match (``SessionFeatures.matches``, i.e. ``vw.metrics.correspondence``); clicking
it shows the kernel's matches with the same mutual flags and pins the query of a linked
AttentionExplorer; clicking the PCK plot moves both views to that block; ``save_png`` writes
the view's PNG."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

LAYER, PATCH = 3, 27  # patch (3, 3) of the 8 x 8 grid of the zoo model
SETUP = f"""
import json
import vitwidgets as vw
from vitwidgets.core.features import SessionFeatures
from vitwidgets.data.shapeworld import ShapeWorld

m = vw.load_model("zoo:dino")
ds = ShapeWorld(4, seed=3, image_size=64, max_objects=1)
images, records = zip(*[ds[i] for i in range(4)], strict=True)
kps = [{{n: (y, x) for n, (x, y, vis) in r["keypoints"].items() if vis}} for r in records]
fx = vw.FeatureExplorer(m, list(images), layer={LAYER}, keypoints=kps)
ex = vw.AttentionExplorer(m, list(images))
vw.link(fx, ex)
core = SessionFeatures(fx.session).matches(0, {PATCH}, {LAYER})
print("CORE " + json.dumps({{"best": core.patch.tolist(), "mutual": core.mutual.tolist(),
                            "pck": fx.pck}}))
"""
SHOW = "fx"
SHOW_EXPLORER = "ex"
# the view draws the PNG once its layer is in (save_png waits for it)
SAVE = """
from vitwidgets.widgets._export import png_size
path = await fx.save_png("features.png", scale=1, timeout=60)
print("PNG", png_size(path.read_bytes()))
"""

CELLS_JS = """() => [...document.querySelectorAll('.vw-features .vw-fx-cell')].map((c) => {
  const { image, brightest, maxCos, match, mutual } = c.dataset;
  return { image, brightest, maxCos, match, mutual };
})"""
# colour of the middle pixel of patch g in image j's map canvas
PIXEL_JS = """([j, g, gw]) => {
  const c = document.querySelectorAll('.vw-features canvas.vw-fx-map')[j];
  const cell = Math.floor(c.width / gw);
  const x = (g % gw + 0.5) * cell, y = (Math.floor(g / gw) + 0.5) * cell;
  return [...c.getContext('2d').getImageData(Math.floor(x), Math.floor(y), 1, 1).data];
}"""


def _features(lab) -> dict:
    return lab.page.evaluate("() => ({ ...document.querySelector('.vw-features').dataset })")


def _wait(lab, condition: str, timeout_ms: int = 60_000) -> dict:
    js = ("() => { const r = document.querySelector('.vw-features');"
          f" if (!r) return false; const d = r.dataset; return !!({condition}); }}")
    try:
        lab.page.wait_for_function(js, timeout=timeout_ms, polling=20)
    except Exception as exc:
        raise AssertionError(f"never reached {condition!r}; last state {_features(lab)}") from exc
    return _features(lab)


def _patch_point(lab, image: int, patch: int, gw: int = 8) -> tuple[float, float]:
    canvas = lab.page.locator(".vw-features canvas.vw-fx-map").nth(image)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cell = box["width"] / gw
    return box["x"] + (patch % gw + 0.5) * cell, box["y"] + (patch // gw + 0.5) * cell


def test_hover_maps_and_click_matches_are_the_kernels_answers(lab):
    lab.open_notebook(lab.write_notebook("features.ipynb", [SETUP, SHOW, SHOW_EXPLORER, SAVE]))
    lab.run_all()
    core = json.loads(re.search(r"CORE (\{.*\})", lab.output_text(0)).group(1))
    d = _wait(lab, "d.ready === 'true'", 120_000)
    assert (d["layer"], d["error"], d["dims"]) == (str(LAYER), "", "128")
    width, height = (int(v) for v in re.search(r"PNG \((\d+), (\d+)\)", lab.output_text(3))
                     .groups())
    assert width > 4 * 168 and height > 2 * 168  # four maps and four panels side by side

    lab.page.mouse.move(*_patch_point(lab, 0, PATCH))
    _wait(lab, f"d.hoverImage === '0' && d.hoverPatch === '{PATCH}'")
    cells = lab.page.evaluate(CELLS_JS)
    assert [int(c["brightest"]) for c in cells] == core["best"]
    # the colours span the other patches' cosines: the best of them is the colour map's top
    # (yellow), and so is the hovered patch itself
    top = max(range(1, 4), key=lambda j: float(cells[j]["maxCos"]))
    for j, g in ((top, core["best"][top]), (0, PATCH)):
        r, gr, b, _ = lab.page.evaluate(PIXEL_JS, [j, g, 8])
        assert r > 150 and gr > 150 and b < 120, (j, g, (r, gr, b))
    assert lab.page.locator(".vw-features .vw-readout").inner_text().startswith(
        "hovered: image 0, patch (3, 3)")

    lab.page.mouse.click(*_patch_point(lab, 0, PATCH))
    _wait(lab, f"d.matches === '0:{PATCH}'", 30_000)
    cells = lab.page.evaluate(CELLS_JS)
    assert [int(c["match"]) for c in cells[1:]] == core["best"][1:]
    assert [c["mutual"] == "true" for c in cells[1:]] == core["mutual"][1:]
    lab.page.wait_for_function(
        f"() => document.querySelector('.vw-explorer')?.dataset.query === '{1 + PATCH}'",
        timeout=30_000)

    pck = core["pck"]
    assert len(pck) == 6 and lab.page.locator(".vw-features canvas.vw-pck").is_visible()
    target = 1 if LAYER != 1 else 2
    box = lab.page.locator(".vw-features canvas.vw-pck").bounding_box()
    # js/src/features/pck.js: frame x 46, width 300 - 56, points 6 px inside it
    x = box["x"] + 46 + 6 + target * (300 - 56 - 12) / (len(pck) - 1)
    lab.page.mouse.click(x, box["y"] + 60)
    _wait(lab, f"d.layer === '{target}' && d.ready === 'true'", 60_000)
    lab.page.wait_for_function(
        f"() => document.querySelector('.vw-explorer')?.dataset.layer === '{target}'",
        timeout=30_000)
    assert _features(lab)["error"] == ""
