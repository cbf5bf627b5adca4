"""The ConceptMap in JupyterLab + Chromium, driven as a person does: the bundled zoo model's
units are labelled over ShapeWorld in the background (the status line counts batches), a click
on block 4's bar moves a linked explorer to layer 4, a click on the top unit of block 5 in the
list draws its activation maps over its top images, whose brightest patches are the ones a
direct computation in the kernel finds (:func:`vitwidgets.core.metrics.concepts.unit_maps` of a
fresh trace of those images). The view is screenshot in the light and the dark theme."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

SHOW = """
import ipywidgets as W
import vitwidgets as vw
from vitwidgets.data import ShapeWorld

m = vw.load_model("zoo:supervised")
ds = ShapeWorld(16, split="test")
cm = vw.ConceptMap(m, ds, top_k=3, batch_size=8)
ex = vw.AttentionExplorer(m, ds.image(0))
vw.link(cm, ex)
W.VBox([cm, ex])
"""
# the core's answer for the top unit of block 5 (the list's first row: highest IoU, then the
# lower unit), straight from a fresh trace of its top images
EXPECT = """
import asyncio, json, torch
from vitwidgets.core.metrics.concepts import unit_maps
while not (cm.done or cm.error):
    await asyncio.sleep(0.2)
lab = cm.labels
li = list(lab.layers).index(5)
iou = lab.best_iou[li].masked_fill(lab.best_concept[li] < 0, -1.0)
unit = int(torch.argmax(iou))  # the first of ties
top = cm.result.top[li, unit].tolist()
trace = m.trace([ds.image(i) for i in top], tokens=True, attention=False)
maps = unit_maps(trace.patch_tokens(5), trace.grid, unit)
cells = [[int(j) // maps.shape[2], int(j) % maps.shape[2]] for j in maps.flatten(1).argmax(1)]
print("EXPECT", json.dumps({"unit": unit, "top": top, "cells": cells}))
png = await cm.save_png("concepts.png", timeout=60)
print("SAVED", png)
"""


def _dataset(lab, selector: str) -> dict:
    return lab.page.evaluate(f"() => ({{ ...document.querySelector('{selector}').dataset }})")


def _theme(lab, theme: str) -> None:
    light = "false" if "Dark" in theme else "true"
    lab.page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: t})", theme)
    lab.page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    lab.page.wait_for_timeout(500)  # the view repaints on the theme's change


def test_clicking_a_unit_shows_its_maps_with_the_cores_brightest_patches(lab):
    lab.open_notebook(lab.write_notebook("concepts.ipynb", [SHOW, EXPECT]))
    lab.run_all()
    lab.page.wait_for_function(
        "() => document.querySelector('.vw-concepts')?.dataset.ready === 'true'", timeout=120_000)
    text = lab.output_text(1)
    assert "SAVED concepts.png" in text, text
    expect = json.loads(text.split("EXPECT", 1)[1].split("\n", 1)[0])
    d = _dataset(lab, ".vw-concepts")
    assert (d["blocks"], d["layer"], d["error"], d["status"]) == ("0,1,2,3,4,5", "5", "", "")

    # a click on block 4's bar: the view's layer, and through the kernel the explorer's
    step, fx, fy = float(d["barStep"]), float(d["frameX"]), float(d["frameY"])
    canvas = lab.page.locator(".vw-concepts canvas.vw-concepts-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    lab.page.mouse.click(box["x"] + fx + 4.5 * step, box["y"] + fy + 20)
    lab.page.wait_for_function(
        "() => document.querySelector('.vw-explorer')?.dataset.layer === '4'", timeout=30_000)
    assert _dataset(lab, ".vw-concepts")["layer"] == "4"
    lab.page.mouse.click(box["x"] + fx + 5.5 * step, box["y"] + fy + 20)

    # a click on the first unit of block 5's list: its maps over its top images
    row = lab.page.locator(".vw-concepts .vw-concepts-row").first
    row.wait_for(timeout=30_000)
    assert row.get_attribute("data-unit") == str(expect["unit"])
    row.click()
    lab.page.wait_for_function(
        f"() => {{ const d = document.querySelector('.vw-concepts').dataset;"
        f" return d.mapsUnit === '5:{expect['unit']}' && d.imagesLoaded === '3'; }}",
        timeout=30_000)
    d = _dataset(lab, ".vw-concepts")
    assert d["mapsImages"] == ",".join(map(str, expect["top"]))
    assert json.loads(d["brightest"]) == expect["cells"]
    assert row.get_attribute("data-selected") == "true"

    view = lab.page.locator(".vw-concepts")
    lab.screenshot("concepts-light.png", view)
    try:
        _theme(lab, "JupyterLab Dark")
        colour = view.evaluate("e => getComputedStyle(e).color")
        rgb = [int(v) for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]
        assert sum(rgb) > 3 * 150, f"the dark theme's text is light: {colour}"
        lab.screenshot("concepts-dark.png", view)
    finally:
        _theme(lab, "JupyterLab Light")  # the theme is a saved setting: leave it as found
