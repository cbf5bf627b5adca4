"""The explorer's PNG in JupyterLab + Chromium: ``await ex.save_png(path)`` in a cell (run with
Run All right after the cell that shows the explorer) writes the PNG the browser composes, the
export button downloads the same picture, and an explorer that is not displayed raises a
TimeoutError saying to display it. Known answer: on the constructed model (head 0 looks one
patch right, 1 left, 2 down, 3 up) with query patch (3, 2) pinned, the brightest patch of every
map in the PNG is the one the model was built to look at."""

from __future__ import annotations

import io
import re

import constructed_model as cm
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

ROW, COL = 3, 2
QUERY = cm.NUM_PREFIX + ROW * cm.GRID + COL
SHOW = f"""
import vitwidgets as vw
import constructed_model as cm

m = vw.load_model(cm.make_model())
ex = vw.AttentionExplorer(m, cm.black_image(), colormap="gray", opacity=1.0, query={QUERY})
ex
"""
SAVE = """
saved = await ex.save_png("explorer.png")
print("SAVED", saved)
"""
HIDDEN = """
hidden = vw.AttentionExplorer(m, cm.black_image())
try:
    await hidden.save_png("never.png", timeout=2)
except TimeoutError as e:
    print("NOVIEW", e)
"""
# the export's layout (js/src/explorer/export.js), CSS px; the PNG is at scale 2
PAD, TITLE, LINE, GAP, CELL_GAP, LABEL = 12, 24, 16, 18, 6, 16
SCALE = 2

SIZES_JS = """() => {
  const f = document.querySelector('.vw-explorer canvas.vw-focus');
  const s = document.querySelector('.vw-explorer canvas.vw-head');
  const legend = document.querySelector('.vw-explorer canvas.vw-legend');
  return { fw: f.width, fh: f.height, sw: s.width, sh: s.height, lw: legend.width,
           heads: document.querySelectorAll('.vw-explorer canvas.vw-head').length };
}"""


def _brightest_patch(img: Image.Image, x0: float, y0: float, cell: int) -> int:
    """Patch index (row-major) of the brightest cell centre of a map drawn at (x0, y0) CSS px."""
    values = []
    for r in range(cm.GRID):
        for c in range(cm.GRID):
            x, y = SCALE * (x0 + (c + 0.5) * cell), SCALE * (y0 + (r + 0.5) * cell)
            values.append(img.getpixel((int(x), int(y)))[0])
    assert len(set(values)) > 1, "a flat map"
    return max(range(len(values)), key=values.__getitem__)


def _check_known_peaks(img: Image.Image, sizes: dict) -> None:
    focus_x, focus_y = PAD, PAD + TITLE + LINE  # under the title line and the focus title
    assert _brightest_patch(img, focus_x, focus_y, sizes["fh"] // cm.GRID) == (
        cm.expected_key(0, ROW, COL) - cm.NUM_PREFIX), "the focused head 0 looks right"
    focus_width = max(sizes["fw"], sizes["lw"], 200)
    gx, gy = PAD + focus_width + GAP, PAD + TITLE + LINE  # below the heads' caption
    for head in range(sizes["heads"]):
        x = gx + (head % 2) * (sizes["sw"] + CELL_GAP)
        y = gy + (head // 2) * (sizes["sh"] + LABEL + CELL_GAP)
        got = _brightest_patch(img, x, y, sizes["sh"] // cm.GRID)
        assert got == cm.expected_key(head, ROW, COL) - cm.NUM_PREFIX, head


def test_save_png_in_a_cell_writes_the_composite_and_the_button_downloads_the_same(lab, tmp_path):
    lab.open_notebook(lab.write_notebook("export.ipynb", [SHOW, SAVE, HIDDEN]))
    lab.run_all()
    assert re.search(r"SAVED explorer\.png", lab.output_text(1)), lab.output_text(1)
    noview = lab.output_text(2)
    assert "NOVIEW no view of this AttentionExplorer answered within 2 s: display the widget " \
        "first" in noview, noview
    assert not (lab.server.root / "never.png").exists()
    saved = Image.open(lab.server.root / "explorer.png").convert("RGB")
    sizes = lab.page.evaluate(SIZES_JS)
    assert sizes["heads"] == 4
    assert saved.width > SCALE * (sizes["fw"] + 2 * sizes["sw"])
    assert saved.height > SCALE * sizes["fh"]
    _check_known_peaks(saved, sizes)
    assert saved.getpixel((1, 1)) == (255, 255, 255), "white for slides, whatever the theme"

    with lab.page.expect_download() as dl:
        lab.page.locator(".vw-explorer button.vw-export").click()
    name = dl.value.suggested_filename
    assert name == "vitwidgets-constructed-vit-image0-layer0-head0-row.png" or re.fullmatch(
        r"vitwidgets-.+-image0-layer0-head0-row\.png", name), name
    path = tmp_path / name
    dl.value.save_as(path)
    downloaded = Image.open(path).convert("RGB")
    assert downloaded.size == saved.size
    assert downloaded.tobytes() == saved.tobytes(), "the button and save_png give one picture"
    (lab.server.root / "explorer.png").replace(tmp_path / "saved.png")
    _save_artifact(tmp_path / "saved.png")


def _save_artifact(path) -> None:
    from lab_helpers import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "export-explorer.png").write_bytes(path.read_bytes())


def test_the_png_shows_the_dark_themes_page_nowhere(lab):
    """The widget follows JupyterLab's dark theme; the PNG stays white with dark text."""
    lab.open_notebook(lab.write_notebook("export-dark.ipynb", [SHOW]))
    lab.run_all()
    lab.wait_explorer("d.ready === 'true'", timeout_ms=90_000)
    lab.page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'})")
    lab.page.wait_for_function(
        "() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    lab.page.wait_for_timeout(500)
    lab.screenshot("export-explorer-dark-page.png", lab.page.locator(".vw-explorer").first)
    with lab.page.expect_download() as dl:
        lab.page.locator(".vw-explorer button.vw-export").click()
    img = Image.open(io.BytesIO(open(dl.value.path(), "rb").read())).convert("RGB")
    assert img.getpixel((1, 1)) == (255, 255, 255)
    _check_known_peaks(img, lab.page.evaluate(SIZES_JS))
