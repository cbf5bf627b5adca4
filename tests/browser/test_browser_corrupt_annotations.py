"""A corrupt annotation file in JupyterLab + Chromium: ``vw.explore(..., annotations=path)``
opens the dashboard anyway, the annotator's status line names the file and what is wrong, every
edit control is off, and the file stays byte for byte as it was; ``.save_as()`` then moves the
edits to a new file whose path is shown, and the broken file is still untouched."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from lab_helpers import Lab

pytestmark = pytest.mark.browser

BROKEN = "broken.heads.json"
# half a file, as a crash of another tool might leave it
CONTENT = b'{"schema": "vitwidgets.head-annotations", "schema_version": 1, "heads": [{"layer": 0,'
SETUP = """
import vitwidgets as vw
import constructed_model as cm

m = vw.load_model(cm.make_model())
"""
SHOW = f"""
dashboard = vw.explore(m, cm.black_image(), annotations={BROKEN!r})
dashboard
"""
ANN = ".vw-annotator"
STATUS = f"{ANN} .vw-ann-status"
ROW = f"{ANN} tr.vw-row[data-layer='0'][data-head='1']"
SHOTS = Path(os.environ.get("VW_SHOTS", "/tmp/shots/E"))

CONTROLS_JS = """() => {
  const a = document.querySelector('.vw-annotator');
  const all = (s) => [...a.querySelectorAll(s)];
  return {
    readOnly: a.dataset.readOnly,
    tags: all('select.vw-tag').map((e) => e.disabled),
    notes: all('input.vw-note').map((e) => e.disabled),
    accepts: all('button.vw-accept').map((e) => e.disabled),
    toolbar: ['.vw-accept-shown', '.vw-new-tag', '.vw-add-tag']
      .map((s) => a.querySelector(s).disabled),
    filter: a.querySelector('select.vw-filter').disabled,
  };
}"""


def _execute(lab: Lab, code: str) -> None:
    """Run ``code`` in the notebook's kernel (as a person would in a new cell)."""
    ok = lab.page.evaluate(
        """async (code) => {
          const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const reply = await k.requestExecute({ code }).done;
          const c = reply.content;
          return c.status === "ok" ? "ok" : `${c.ename}: ${c.evalue}`;
        }""",
        code,
    )
    assert ok == "ok", f"{code!r} failed in the kernel: {ok}"


def _theme(lab: Lab, theme: str) -> None:
    light = "false" if "Dark" in theme else "true"
    lab.page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: t})", theme)
    lab.page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    lab.page.wait_for_timeout(300)


def _shoot(lab: Lab, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    lab.page.locator(ANN).first.screenshot(path=str(SHOTS / name))


def test_a_corrupt_annotation_file_opens_read_only_shows_why_and_stays_untouched(lab: Lab):
    page = lab.page
    broken = lab.server.root / BROKEN
    broken.write_bytes(CONTENT)
    before = broken.stat().st_mtime_ns
    lab.open_notebook(lab.write_notebook("corrupt.ipynb", [SETUP, SHOW]))
    lab.run_all()  # no traceback: the dashboard opens
    page.locator(f"{ANN}[data-ready='true']").wait_for()
    lab.wait_explorer("d.ready === 'true'")

    status = page.locator(STATUS).first
    page.wait_for_function(
        "(s) => document.querySelector(s).dataset.kind === 'error'", arg=STATUS, timeout=30_000)
    text = status.text_content()
    assert text.startswith(f"cannot use the annotation file {broken}: not valid JSON ("), text
    assert "left untouched and edits are off" in text and "broken.heads-1.json" in text, text

    controls = page.evaluate(CONTROLS_JS)
    assert controls["readOnly"] == "true"
    for name in ("tags", "notes", "accepts"):
        assert controls[name] and all(controls[name]), (name, controls[name])
    assert controls["toolbar"] == [True, True, True] and controls["filter"] is False

    row = page.locator(ROW).first
    row.locator("td").first.click()  # selecting a head still works
    lab.wait_explorer("d.head === '1'")
    _shoot(lab, "corrupt-file-light.png")
    _theme(lab, "JupyterLab Dark")
    _shoot(lab, "corrupt-file-dark.png")
    _theme(lab, "JupyterLab Light")
    assert broken.read_bytes() == CONTENT and broken.stat().st_mtime_ns == before
    assert sorted(p.name for p in lab.server.root.glob("broken*")) == [BROKEN]

    # the person chooses: annotate into a new file; its path is shown, edits come back on
    _execute(lab, "dashboard.annotator.save_as()")
    new = lab.server.root / "broken.heads-1.json"
    page.wait_for_function(
        "(s) => document.querySelector(s).dataset.kind === 'info'", arg=STATUS, timeout=30_000)
    text = status.text_content()
    assert "to broken.heads-1.json" in text and f"{BROKEN} (unusable) was left as it was" in text
    page.wait_for_function(
        "() => document.querySelector('.vw-annotator').dataset.readOnly === 'false'",
        timeout=30_000)
    tag = row.locator("select.vw-tag")
    assert not tag.is_disabled()
    tag.select_option(value="local")
    deadline = time.monotonic() + 20
    heads = []
    while time.monotonic() < deadline and not heads:
        if new.is_file():
            heads = json.loads(new.read_text(encoding="utf-8"))["heads"]
        time.sleep(0.1)
    assert heads and heads[0]["layer"] == 0 and heads[0]["head"] == 1
    assert heads[0]["tag"] == "local"
    _shoot(lab, "corrupt-file-after-save-as.png")
    assert broken.read_bytes() == CONTENT, "the broken file is never written"
