"""JupyterLab + Chromium helpers shared by the browser tests and ``bench/browser.py``.

No pytest import here, so the benchmark drives the same server and page the same way.

A :class:`LabServer` is a fresh, stock JupyterLab 4 on 127.0.0.1 (free port, random token) with
isolated config, data, runtime, workspace and settings directories, serving a temporary root
into which the caller writes the notebooks it opens. Server settings are stock apart from
turning network chatter off and exposing ``window.jupyterapp`` (so commands such as
``notebook:run-all-cells`` are called directly instead of through menus). See
``shared/spec/browser-testing.md`` for why each knob is here.

:class:`Lab` drives one page the way a person would (open a notebook, run it, restart the
kernel) and reads the vitwidgets DOM hooks of ``vitwidgets/widgets/TESTING.md``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ARTIFACTS = REPO / "artifacts"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
KERNEL_NAME = "Python 3 (ipykernel)"


def find_chromium() -> str | None:
    env = os.environ.get("VITWIDGETS_CHROMIUM")
    for cand in ((env,) if env else ()) + CHROMIUM_CANDIDATES:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


class LabServer:
    """One fresh JupyterLab server (stock settings) in ``base``; notebooks go in ``root``.

    ``app="notebook"`` starts Jupyter Notebook 7 instead (same server, its own frontend: the
    notebook opens at ``/notebooks/<name>``)."""

    def __init__(self, base: Path, log_path: Path | None = None, app: str = "lab") -> None:
        if app not in ("lab", "notebook"):
            raise ValueError(f"app must be 'lab' or 'notebook', got {app!r}")
        self.app = app
        self.base = Path(base)
        self.root = self.base / "root"
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path or (ARTIFACTS / "jupyter-server.log")
        self._log = None

    def env(self) -> dict[str, str]:
        d = self.base
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(d / "config"),
            JUPYTER_DATA_DIR=str(d / "data"),
            JUPYTER_RUNTIME_DIR=str(d / "runtime"),
            JUPYTERLAB_WORKSPACES_DIR=str(d / "workspaces"),
            JUPYTERLAB_SETTINGS_DIR=str(d / "settings"),
            JUPYTER_PLATFORM_DIRS="1",
            HF_HUB_OFFLINE="1",
            # the kernel imports vitwidgets from the checkout and the tests' helper modules
            PYTHONPATH=os.pathsep.join(
                p for p in (str(REPO), str(HERE), os.environ.get("PYTHONPATH", "")) if p
            ),
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_PATH", None)
        # keep torch from fighting the browser and the server for the cores
        env.setdefault("OMP_NUM_THREADS", "1")
        return env

    def prepare(self) -> None:
        d = self.base
        for sub in ("root", "config", "data", "runtime", "workspaces", "settings"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # a kernelspec pinning the kernel to this interpreter (the venv), found first
        _write_json(
            d / "data" / "kernels" / "python3" / "kernel.json",
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": KERNEL_NAME,
                "language": "python",
                "metadata": {"debugger": False},
            },
        )
        s = d / "settings"
        _write_json(
            s / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
            # start the kernel without a "Select Kernel" dialog; every cell in the DOM
            {"autoStartDefaultKernel": True, "windowingMode": "none"},
        )
        _write_json(
            s / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
            {"checkForUpdates": False, "fetchNews": "false"},
        )

    def start(self, timeout: float = 60.0) -> None:
        self.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "jupyter", self.app,
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={self.root}",
        ]
        if self.app == "lab":
            cmd += [
                "--LabApp.news_url=None",
                "--LabApp.extension_manager=readonly",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.expose_app_in_browser=True",
            ]
        else:
            cmd += ["--JupyterNotebookApp.expose_app_in_browser=True"]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, env=self.env(), cwd=self.root, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter {self.app} exited with {self.proc.returncode}; see {self.log_path}:\n"
                    + self.log_path.read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(self.api_url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"jupyter {self.app} did not answer within {timeout} s; see {self.log_path}"
        )

    def api_url(self, path: str) -> str:
        return f"{self.url}/{path}?token={self.token}"

    def notebook_url(self, name: str) -> str:
        if self.app == "notebook":
            return f"{self.url}/notebooks/{name}?token={self.token}"
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log:
            self._log.close()
            self._log = None

    def kernels(self) -> list[dict]:
        with urllib.request.urlopen(self.api_url("api/kernels"), timeout=5) as r:
            return json.load(r)

    def delete_kernels(self) -> None:
        """Shut down every kernel of this server (keeps memory flat between tests)."""
        try:
            kernels = self.kernels()
        except OSError:
            return
        for k in kernels:
            req = urllib.request.Request(self.api_url(f"api/kernels/{k['id']}"), method="DELETE")
            try:
                urllib.request.urlopen(req, timeout=10).close()
            except OSError:
                pass


class MarimoServer:
    """``marimo run`` of one app file (read-only app mode, as a reader of a published marimo
    notebook sees it) on 127.0.0.1, with the environment of the JupyterLab servers (offline,
    vitwidgets from the checkout, one torch thread)."""

    def __init__(self, app: Path, log_path: Path | None = None) -> None:
        self.app = Path(app)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path or (ARTIFACTS / "marimo-server.log")
        self._log = None

    def start(self, timeout: float = 60.0) -> None:
        env = LabServer(self.app.parent).env()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "marimo", "run", str(self.app), "--headless",
               "--host", "127.0.0.1", "--port", str(self.port), "--no-token", "--no-sandbox",
               "--no-check"]
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.app.parent, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"marimo exited with {self.proc.returncode}:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"marimo did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        LabServer.stop(self)  # the same terminate-then-kill and log closing


def write_marimo_app(path: Path, source: str) -> Path:
    """Write a marimo app of one cell running ``source``; the cell's last line is its output
    (marimo shows a cell's last expression; wrap anywidgets in ``mo.ui.anywidget``)."""
    lines = ["import marimo", "", "app = marimo.App()", "", "", "@app.cell", "def _():"]
    lines += ["    " + ln if ln else "" for ln in source.strip("\n").splitlines()]
    lines += ["    return", "", "", 'if __name__ == "__main__":', "    app.run()", ""]
    path.write_text("\n".join(lines))
    return path


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code cells (nbformat 4, python3 kernel) to ``path``."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": src.strip("\n"),
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": KERNEL_NAME, "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path


def save_failure(lab: Lab, name: str) -> None:
    """Screenshot and browser console of ``lab``'s page as ``artifacts/FAILED-<name>.*``."""
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / ("FAILED-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120])
    try:
        lab.page.screenshot(path=f"{stem}.png", full_page=True)
    except Exception as exc:  # best effort
        lab.console.append(f"[harness] screenshot failed: {exc}")
    Path(f"{stem}.console.txt").write_text("\n".join(lab.console))


def launch_chromium(playwright: Any, executable: str) -> Any:
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                      headless=True)


@contextmanager
def lab_and_browser(prefix: str, log_name: str) -> Iterator[tuple[LabServer, Any]]:
    """For the benchmarks and tools (not the tests, whose fixtures do this): a fresh stock
    JupyterLab in a temporary folder (its log in ``artifacts/<log_name>``) and Debian's
    Chromium driven by Playwright; both are stopped at the end. Exits with the install command
    when Chromium is missing."""
    chromium = find_chromium()
    if chromium is None:
        sys.exit("Chromium not found: apt-get install -y --no-install-recommends chromium")
    from playwright.sync_api import sync_playwright

    server = LabServer(Path(tempfile.mkdtemp(prefix=prefix)), log_path=ARTIFACTS / log_name)
    server.start()
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw, chromium)
            try:
                yield server, browser
            finally:
                browser.close()
    finally:
        server.stop()


# ------------------------------------------------------------------------------- page scripts

# The current notebook's kernel status, accepting any stray dialog (e.g. "Select Kernel").
_KERNEL_STATUS_JS = r"""() => {
  const accept = document.querySelector('.jp-Dialog .jp-mod-accept');
  if (accept) accept.click();
  const app = window.jupyterapp;
  const nb = app && app.shell.currentWidget;
  const kernel = nb && nb.sessionContext && nb.sessionContext.session
    && nb.sessionContext.session.kernel;
  return kernel ? kernel.status : null;
}"""

# Run every cell of the current notebook; resolves with NotebookActions.runAll's result (true
# when every cell ran without error) or rejects after ms.
_RUN_ALL_JS = r"""async (ms) => {
  const app = window.jupyterapp;
  const run = app.commands.execute('notebook:run-all-cells');
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Run All did not finish within ${ms} ms`)), ms);
  });
  try { return await Promise.race([run, late]); } finally { clearTimeout(timer); }
}"""

# Start a kernel restart (its dialog is accepted by the caller) and remember what happens.
_START_RESTART_JS = r"""() => {
  const nb = window.jupyterapp.shell.currentWidget;
  window.__vwRestart = { seen: [], done: false, error: null };
  const rec = window.__vwRestart;
  nb.sessionContext.statusChanged.connect((_, s) => rec.seen.push(s));
  window.jupyterapp.commands.execute('notebook:restart-kernel')
    .then(() => { rec.done = true; }, (e) => { rec.error = String(e); rec.done = true; });
}"""

# Canvas pixel values at the centre of every patch cell (red channel), per canvas.
READ_CELLS_JS = r"""([selector, gh, gw]) => {
  const out = [];
  for (const c of document.querySelectorAll(selector)) {
    const cell = Math.floor(c.height / gh);
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const values = [];
    for (let r = 0; r < gh; r++) for (let k = 0; k < gw; k++) {
      const x = Math.floor((k + 0.5) * cell), y = Math.floor((r + 0.5) * cell);
      values.push(data[(y * c.width + x) * 4]);
    }
    out.push({ head: c.dataset.head ?? null, width: c.width, height: c.height, cell, values });
  }
  return out;
}"""

# Screen position of the dot of (layer, head) in the LayerMetrics plot `name`, asked of BokehJS
# (TESTING.md); also where the selected-head ring is.
BOKEH_DOT_JS = r"""([layer, head, name]) => {
  const plots = [];
  const walk = (v) => { if (v.frame && v.model.name === name) plots.push(v);
                        for (const c of v.child_views ?? []) walk(c); };
  for (const v of Object.values(window.Bokeh.index)) walk(v);
  const p = plots.at(-1);
  if (!p) return null;
  const column = name.replace('vw-plot-', '');
  const src = p.model.renderers.find((r) => r.name === 'vw-dots').data_source.data;
  const ring = p.model.renderers.find((r) => r.name === 'vw-selected-ring').data_source.data;
  const i = src.layer.findIndex((l, k) => l === layer && src.head[k] === head);
  const box = p.canvas_view.el.getBoundingClientRect();
  return { x: box.x + p.frame.x_scale.compute(src.x[i]),
           y: box.y + p.frame.y_scale.compute(src[column][i]),
           dot: [src.x[i], src[column][i]], ring: [ring.x[0], ring[column][0]],
           plots: plots.length };
}"""


class Lab:
    """Drives one browser page on a :class:`LabServer`."""

    def __init__(self, page: Any, server: LabServer, console: list[str] | None = None) -> None:
        self.page = page
        self.server = server
        self.console = console if console is not None else []

    # -- notebooks ----------------------------------------------------------------------
    def write_notebook(self, name: str, cells: list[str]) -> str:
        write_notebook(self.server.root / name, cells)
        return name

    def open_notebook(self, name: str, timeout_ms: int = 90_000) -> None:
        """Open ``name`` in a fresh workspace and wait until its kernel is idle."""
        self.page.goto(self.server.notebook_url(name))
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext",
            timeout=timeout_ms,
        )
        # room for the dashboard: no file browser beside the notebook
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft?.()")
        self.wait_kernel_idle(timeout_ms)

    def kernel_status(self) -> str | None:
        return self.page.evaluate(_KERNEL_STATUS_JS)

    def wait_kernel_idle(self, timeout_ms: int = 90_000) -> None:
        self.page.wait_for_function(
            f"() => ({_KERNEL_STATUS_JS})() === 'idle'", timeout=timeout_ms, polling=100
        )

    def run_all(self, timeout_ms: int = 150_000) -> None:
        """Run all cells and wait for them to finish; fail on any traceback."""
        ok = self.page.evaluate(_RUN_ALL_JS, timeout_ms)
        self.raise_on_error()
        if ok is False:
            raise AssertionError("Run All stopped before the last cell (see the notebook)")

    def raise_on_error(self) -> None:
        errors = self.page.locator(
            '.jp-NotebookPanel:not(.lm-mod-hidden) '
            '[data-mime-type="application/vnd.jupyter.error"]'
        )
        if errors.count():
            raise AssertionError("notebook raised:\n" + errors.first.inner_text()[-4000:])

    def output_text(self, cell_index: int) -> str:
        cell = self.page.locator(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"
        ).nth(cell_index)
        return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())

    def restart_kernel(self, timeout_ms: int = 90_000) -> None:
        """Kernel > Restart Kernel (``notebook:restart-kernel``), accepting its dialog, and
        wait until the restarted kernel is idle."""
        self.page.evaluate(_START_RESTART_JS)
        self.page.locator(".jp-Dialog .jp-mod-accept").click(timeout=timeout_ms)
        self.page.wait_for_function(
            "() => window.__vwRestart.done", timeout=timeout_ms, polling=100
        )
        rec = self.page.evaluate("() => window.__vwRestart")
        if rec["error"]:
            raise AssertionError(f"kernel restart failed: {rec['error']}")
        self.wait_kernel_idle(timeout_ms)

    # -- vitwidgets state ---------------------------------------------------------------
    def explorer_state(self) -> dict[str, str]:
        return self.page.evaluate(
            "() => { const r = document.querySelector('.vw-explorer');"
            " return r ? { ...r.dataset } : null; }"
        )

    def wait_explorer(self, condition: str, timeout_ms: int = 60_000) -> dict[str, str]:
        """Wait until ``condition`` (a JS expression over ``d``, the explorer root's dataset)
        holds; returns the dataset. On a timeout the error names the last state seen."""
        js = (
            "() => { const r = document.querySelector('.vw-explorer');"
            f" if (!r) return false; const d = r.dataset; return !!({condition}); }}"
        )
        try:
            self.page.wait_for_function(js, timeout=timeout_ms, polling=20)
        except Exception as exc:
            raise AssertionError(
                f"explorer never reached {condition!r}; last state {self.explorer_state()}"
            ) from exc
        return self.explorer_state()

    def read_cells(self, selector: str, gh: int, gw: int) -> list[dict]:
        return self.page.evaluate(READ_CELLS_JS, [selector, gh, gw])

    # -- artefacts ----------------------------------------------------------------------
    def screenshot(self, name: str, locator: Any = None, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        if locator is not None:
            locator.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=full_page)
        return path
