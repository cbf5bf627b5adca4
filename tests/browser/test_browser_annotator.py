"""HeadAnnotator in JupyterLab + Chromium: type a tag and a note, restart the kernel, run the
notebook again, and find both again (autosaved JSON), shown literally, never as HTML."""

from __future__ import annotations

import json
import re
import time

import pytest

pytestmark = pytest.mark.browser

ANNOTATIONS = "annotator.heads.json"
SETUP = """
import os
print("KERNEL_PID", os.getpid())
import vitwidgets as vw
import constructed_model as cm

m = vw.load_model(cm.make_model())
"""
SHOW = f"""
dashboard = vw.explore(m, cm.black_image(), annotations={ANNOTATIONS!r})
dashboard
"""
# user text that would run script if it were ever parsed as HTML
NOTE = "<img src=x onerror=window.__xss=1> looks one patch to the left"
TAG = "<img src=y onerror=window.__xss=2>left-looker"
LAYER, HEAD = 0, 1  # the constructed model's head 1 looks one patch left in block 0
ROW = f".vw-annotator tr.vw-row[data-layer='{LAYER}'][data-head='{HEAD}']"

# No element was made from the user's text anywhere in the widgets, and no handler ran.
NO_HTML_JS = """() => ({
  imgs: document.querySelectorAll('.vw-annotator img, .vw-explorer .vw-head-cell img,'
    + ' .vw-explorer .vw-focus-title img, .vw-explorer .vw-readout img').length,
  xss: window.__xss === undefined ? null : window.__xss,
})"""


def _pid(lab) -> int:
    text = lab.output_text(0)
    found = re.search(r"KERNEL_PID (\d+)", text)
    assert found, f"no KERNEL_PID in the first cell's output: {text!r}"
    return int(found.group(1))


def _saved(path, timeout_s: float = 20.0) -> dict:
    """The head entry of (LAYER, HEAD) in the annotation file once it holds the tag and note."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        if path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            last = next((h for h in doc.get("heads", [])
                         if (h["layer"], h["head"]) == (LAYER, HEAD)), None)
            if last and last.get("tag") == TAG and last.get("note") == NOTE:
                return doc
        time.sleep(0.1)
    raise AssertionError(f"{path} never held the tag and note; last entry {last}")


def _check_shown(lab) -> None:
    page = lab.page
    row = page.locator(ROW).first
    assert row.get_attribute("data-tag") == TAG
    assert row.locator("select.vw-tag").input_value() == TAG
    assert row.locator("input.vw-note").input_value() == NOTE
    # the tag is text wherever it is shown: the row's option, the explorer's head label
    option_text = row.locator("select.vw-tag").evaluate(
        "(s, t) => [...s.options].find(o => o.value === t)?.textContent", TAG)
    assert option_text == TAG
    lab.wait_explorer(f"d.layer === '{LAYER}' && d.ready === 'true'")
    label = page.locator(f".vw-explorer .vw-head-cell[data-head='{HEAD}'] .vw-head-label").first
    page.wait_for_function(
        "([e, t]) => e.textContent === t", arg=[label.element_handle(), f"head {HEAD} · {TAG}"],
        timeout=30_000,
    )
    assert "<img" in label.text_content()
    assert page.evaluate(NO_HTML_JS) == {"imgs": 0, "xss": None}


def test_tag_and_note_survive_a_kernel_restart_and_stay_text(lab):
    page = lab.page
    nb = lab.write_notebook("annotator.ipynb", [SETUP, SHOW])
    path = lab.server.root / ANNOTATIONS
    lab.open_notebook(nb)
    lab.run_all()
    page.locator(".vw-annotator[data-ready='true']").wait_for()
    pid = _pid(lab)

    # a custom tag typed into the toolbar, then chosen for the head; a note typed in its row
    new_tag = page.locator(".vw-annotator input.vw-new-tag").first
    new_tag.click()
    new_tag.press_sequentially(TAG)
    new_tag.press("Enter")
    row = page.locator(ROW).first
    row.scroll_into_view_if_needed()
    page.wait_for_function(
        "([s, t]) => [...document.querySelector(s).options].some(o => o.value === t)",
        arg=[f"{ROW} select.vw-tag", TAG], timeout=30_000,
    )
    row.locator("select.vw-tag").select_option(value=TAG)
    page.wait_for_function(
        "([s, t]) => document.querySelector(s).dataset.tag === t", arg=[ROW, TAG],
        timeout=30_000,
    )
    note = row.locator("input.vw-note")
    note.click()
    note.press_sequentially(NOTE)
    note.press("Enter")
    saved = _saved(path)
    assert saved["model"]["name"], saved["model"]
    status = page.locator(".vw-annotator .vw-ann-status").first
    assert status.get_attribute("data-kind") != "error", status.text_content()
    _check_shown(lab)

    # restart the kernel (Kernel > Restart Kernel…, dialog accepted) and run everything again
    page.evaluate("() => { window.__vwOld = document.querySelector('.vw-annotator'); }")
    lab.restart_kernel()
    seen = page.evaluate("() => window.__vwRestart.seen")
    assert {"restarting", "starting", "autorestarting"} & set(seen), seen
    lab.run_all()
    page.wait_for_function(
        "() => { const a = document.querySelector('.vw-annotator[data-ready=\"true\"]');"
        " return !!a && a !== window.__vwOld; }",
        timeout=60_000,
    )
    assert _pid(lab) != pid, "the notebook ran again in the same kernel process"
    _check_shown(lab)
    # and the file was read, not rewritten with something else
    assert _saved(path, timeout_s=1)["model"] == saved["model"]


# Where the selected row is, relative to the table's scroll box and its sticky header.
SELECTED_ROW_JS = """() => {
  const root = document.querySelector('.vw-annotator');
  const box = root.querySelector('.vw-ann-scroll').getBoundingClientRect();
  const head = root.querySelector('thead').getBoundingClientRect();
  const row = root.querySelector('tr.vw-row[data-selected="true"]');
  const r = row.getBoundingClientRect();
  return { layer: row.dataset.layer, head: row.dataset.head, top: r.top, bottom: r.bottom,
           headerBottom: head.bottom, boxBottom: box.bottom,
           scrollTop: root.querySelector(".vw-ann-scroll").scrollTop };
}"""


def test_the_selected_heads_row_is_in_view_below_the_header_when_the_dashboard_opens(lab):
    """A dashboard opened on the last head (or a re-run cell that recalls it) shows that row,
    not the top of the table: the box scrolls to it, clear of the sticky header."""
    show = "vw.explore(m, cm.black_image(), annotations='scroll.heads.json', layer=5, head=3)"
    lab.open_notebook(lab.write_notebook("scroll.ipynb", [SETUP, show]))
    lab.run_all()
    lab.page.locator(".vw-annotator[data-ready='true'][data-layer='5'][data-head='3']").wait_for()
    lab.page.wait_for_function(
        f"() => {{ const s = ({SELECTED_ROW_JS})(); return s.top >= s.headerBottom - 1; }}",
        timeout=10_000,
    )
    s = lab.page.evaluate(SELECTED_ROW_JS)
    assert (s["layer"], s["head"]) == ("5", "3")
    assert s["top"] >= s["headerBottom"] - 1, f"the row is under the sticky header: {s}"
    assert s["bottom"] <= s["boxBottom"] + 1, f"the row is below the box: {s}"
