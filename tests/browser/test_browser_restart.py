"""Widgets that outlived a kernel restart, in JupyterLab + Chromium: after Kernel > Restart
Kernel (the cells not re-run) the explorer and the annotator are dead (their comms went with the
old kernel). Each must say so in its status line within seconds, an explorer click that needs the
kernel must settle at once with that message (not "loading…" until a timeout), a tag chosen in
the annotator must go back to the saved one with a message, and nothing may reach the console as
an unhandled error. A busy kernel's timeout reaches the status line too."""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.browser

EXPLORER = """
import vitwidgets as vw
import constructed_model as cm

m = vw.load_model(cm.make_model())
# the kernel form: every hover and every image asks the kernel
ex = vw.AttentionExplorer(m, [cm.black_image(), cm.black_image()], layer_form="kernel",
                          colormap="gray", opacity=1.0)
ex
"""
ANNOTATOR = """
ann = vw.HeadAnnotator(m, cm.black_image(), path="restart.heads.json")
ann
"""
RESTARTED = re.compile(r"the kernel restarted: re-run this cell")
ROW = ".vw-annotator tr.vw-row[data-layer='0'][data-head='1']"
# errors of ours that must never reach the console unhandled
UNHANDLED = re.compile(r"pageerror|Uncaught|no reply from the kernel|Unhandled", re.I)


def _restarted_page(lab):
    lab.open_notebook(lab.write_notebook("restart.ipynb", [EXPLORER, ANNOTATOR]))
    lab.run_all()
    lab.wait_explorer("d.ready === 'true' && d.loading === 'false'", timeout_ms=90_000)
    lab.page.wait_for_selector(ROW.replace(".vw-annotator", ".vw-annotator[data-ready='true']"))
    assert lab.explorer_state()["error"] == ""
    lab.restart_kernel()


def _status(lab, selector: str) -> str:
    return lab.page.locator(selector).first.inner_text()


def test_after_a_restart_the_explorer_says_so_and_a_click_needing_the_kernel_settles_at_once(lab):
    _restarted_page(lab)
    t0 = time.monotonic()
    state = lab.wait_explorer("d.disconnected === 'true' && d.error !== ''", timeout_ms=10_000)
    assert RESTARTED.search(state["error"]), state
    assert RESTARTED.search(_status(lab, ".vw-explorer .vw-status")), "shown, not only in data-*"
    assert lab.page.locator(".vw-explorer .vw-status button.vw-retry").count() == 0
    # an image that is not cached: the old code showed "loading layer 0…" until a timeout
    lab.page.locator(".vw-explorer .vw-strip img[data-image='1']").click()
    state = lab.wait_explorer("d.image === '1' && d.loading === 'false'", timeout_ms=5_000)
    assert RESTARTED.search(state["error"]), state
    assert RESTARTED.search(_status(lab, ".vw-explorer .vw-status"))
    # hover over the kernel-form layer asks the kernel's rows: the message stays
    box = lab.page.locator(".vw-explorer canvas.vw-focus").first.bounding_box()
    lab.page.mouse.move(box["x"] + 30, box["y"] + 30)
    lab.page.wait_for_timeout(500)
    assert RESTARTED.search(lab.explorer_state()["error"])
    assert time.monotonic() - t0 < 20, "bounded, far below the 60 s request timeout"
    lab.screenshot("restart-explorer.png", lab.page.locator(".vw-explorer").first)
    bad = [line for line in lab.console if UNHANDLED.search(line)]
    assert not bad, bad


def test_after_a_restart_a_tag_chosen_in_the_annotator_goes_back_with_a_message(lab):
    _restarted_page(lab)
    lab.page.wait_for_function(
        "() => document.querySelector('.vw-annotator')?.dataset.disconnected === 'true'",
        timeout=10_000,
    )
    assert RESTARTED.search(_status(lab, ".vw-annotator .vw-ann-status"))
    select = lab.page.locator(ROW + " select.vw-tag")
    assert select.input_value() == ""
    options = select.locator("option").evaluate_all("os => os.map((o) => o.value)")
    chosen = next(v for v in options if v)
    select.select_option(chosen)
    lab.page.wait_for_function(
        "() => /was not saved/.test(document.querySelector('.vw-annotator').dataset.error)",
        timeout=5_000,
    )
    assert select.input_value() == "", "the select shows the saved value again"
    status = _status(lab, ".vw-annotator .vw-ann-status")
    assert f'your tag "{chosen}" for layer 0 head 1 was not saved' in status, status
    assert RESTARTED.search(status), status
    assert lab.page.locator(ROW).get_attribute("data-tag") == ""
    lab.screenshot("restart-annotator.png", lab.page.locator(".vw-annotator").first)
    bad = [line for line in lab.console if UNHANDLED.search(line)]
    assert not bad, bad


BUSY = """
import time
import vitwidgets as vw
import constructed_model as cm

m = vw.load_model(cm.make_model())
ex = vw.AttentionExplorer(m, [cm.black_image(), cm.black_image()], layer_form="kernel",
                          request_timeout_ms=3000)
answer = ex.layer_data


def slow_layer_data(**params):  # a kernel busy for longer than the request timeout
    if params.get("image") == 1:
        time.sleep(6)
    return answer(**params)


ex.layer_data = slow_layer_data
ex
"""


def test_a_busy_kernel_that_never_answers_in_time_reaches_the_status_line(lab):
    # (a sleeping cell would not do: JupyterLab 4.6 sends comm messages over a kernel
    # subshell, answered while a cell runs)
    lab.open_notebook(lab.write_notebook("busy.ipynb", [BUSY]))
    lab.run_all()
    lab.wait_explorer("d.ready === 'true' && d.loading === 'false'", timeout_ms=90_000)
    t0 = time.monotonic()
    lab.page.locator(".vw-explorer .vw-strip img[data-image='1']").click()
    state = lab.wait_explorer("d.error !== ''", timeout_ms=10_000)
    assert re.search(r"no reply from the kernel after 3 s: it is busy, or it restarted",
                     state["error"]), state
    assert 2.5 < time.monotonic() - t0 < 8
    assert lab.page.locator(".vw-explorer .vw-status button.vw-retry").count() == 1
    assert state["loading"] == "false"
    assert "disconnected" not in state, "a busy kernel is not a dead one"
    bad = [line for line in lab.console if UNHANDLED.search(line)]
    assert not bad, bad
