"""Screenshots of the notebooks as a person sees them: JupyterLab 4 + Chromium, light and dark.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/screenshots.py [notebooks/01_quickstart.ipynb ...]
        [--themes light dark] [--out artifacts/screenshots]

Each notebook is copied into a fresh stock JupyterLab server, Run All, and every cell output is
saved as a PNG; the outputs of one notebook and theme are then stacked into one contact sheet
``<out>/<notebook>-<theme>.png`` (at most 1600 px wide) to open with an image viewer. Not a test:
it is how we look at what we build before saying it is done (widgets, plots, legends, theme).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from lab_helpers import Lab, LabServer, lab_and_browser  # noqa: E402

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
#: seconds to let widgets paint after Run All (background metrics, bokeh layout)
SETTLE_S = 6.0


def _set_theme(lab: Lab, theme: str) -> None:
    lab.page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})",
        THEMES[theme],
    )
    lab.page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === light",
        arg="true" if theme == "light" else "false",
        timeout=30_000,
    )


def _outputs(lab: Lab, shots: Path, stem: str) -> list[Path]:
    areas = lab.page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-OutputArea-output"
    )
    paths = []
    for i in range(areas.count()):
        area = areas.nth(i)
        box = area.bounding_box()
        if not box or box["height"] < 4:
            continue
        # an output taller than the window is cut at its bottom edge: grow the window first
        lab.page.set_viewport_size({"width": 1600, "height": max(1400, int(box["height"]) + 300)})
        path = shots / f"{stem}-{i:02d}.png"
        area.screenshot(path=str(path))
        paths.append(path)
    lab.page.set_viewport_size({"width": 1600, "height": 1400})
    return paths


def contact_sheet(paths: list[Path], out: Path, width: int = 1600, gap: int = 12) -> Path:
    """Stack the images of ``paths`` vertically (each at most ``width`` px wide) into ``out``."""
    from PIL import Image

    images = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)))
        images.append(im)
    height = sum(im.height for im in images) + gap * max(len(images) - 1, 0)
    sheet = Image.new("RGB", (width, max(height, 1)), (255, 0, 255))
    y = 0
    for im in images:
        sheet.paste(im, (0, y))
        y += im.height + gap
    sheet.save(out)
    return out


def shoot(notebook: Path, themes: list[str], out: Path, page, server: LabServer) -> list[Path]:
    # laid out as in the repository, so that the notebooks' ../../shared paths resolve
    (server.root / "notebooks").mkdir(exist_ok=True)
    shutil.copy(notebook, server.root / "notebooks" / notebook.name)
    shared = server.base / "shared"
    if not shared.exists() and (REPO.parent / "shared").is_dir():
        shared.symlink_to(REPO.parent / "shared")
    lab = Lab(page, server)
    sheets = []
    for theme in themes:
        lab.open_notebook(f"notebooks/{notebook.name}")
        _set_theme(lab, theme)
        t = time.perf_counter()
        lab.run_all(timeout_ms=600_000)
        time.sleep(SETTLE_S)
        shots = out / "cells"
        shots.mkdir(parents=True, exist_ok=True)
        stem = f"{notebook.stem}-{theme}"
        paths = _outputs(lab, shots, stem)
        sheets.append(contact_sheet(paths, out / f"{stem}.png"))
        print(f"{stem}: {len(paths)} outputs, ran in {time.perf_counter() - t:.0f} s", flush=True)
        server.delete_kernels()
    return sheets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--themes", nargs="+", default=list(THEMES), choices=list(THEMES))
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "screenshots")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    with lab_and_browser("vw-screenshots-", "screenshots-server.log") as (server, browser):
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        for nb in notebooks:
            for sheet in shoot(nb.resolve(), args.themes, args.out, page, server):
                print("wrote", sheet.relative_to(REPO) if sheet.is_relative_to(REPO) else sheet)


if __name__ == "__main__":
    main()
