"""Real-browser test harness: one fresh JupyterLab 4 server per session, Debian Chromium,
Playwright (see ``lab_helpers.py`` and ``shared/spec/browser-testing.md``).

The tests never skip: a missing Chromium or Playwright is a failure with a clear message.
A failing test leaves ``artifacts/FAILED-<test>.png`` and ``.console.txt`` (browser console).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab_helpers import (  # noqa: E402
    CHROMIUM_CANDIDATES,
    Lab,
    LabServer,
    find_chromium,
    launch_chromium,
    save_failure,
)

DEFAULT_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1600, "height": 1500}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# --------------------------------------------------------------------------- prerequisites


def require_chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail(
            "Chromium not found (looked at $VITWIDGETS_CHROMIUM, "
            + ", ".join(CHROMIUM_CANDIDATES)
            + "). Install it with: apt-get install -y --no-install-recommends chromium "
            "(or `make chromium`)",
            pytrace=False,
        )
    return path


def require_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - environment problem
        pytest.fail(
            f"playwright for Python is not importable ({exc}); pip install -e '.[dev]' "
            "(do not run `playwright install`: Chromium comes from Debian)",
            pytrace=False,
        )
    return sync_playwright


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    executable = require_chromium()
    sync_playwright = require_playwright()
    pw = sync_playwright().start()
    try:
        b = launch_chromium(pw, executable)
    except Exception as exc:
        pw.stop()
        pytest.fail(f"could not launch Chromium at {executable}: {exc}", pytrace=False)
    try:
        yield b
    finally:
        b.close()
        pw.stop()


@pytest.fixture(scope="session")
def open_lab(browser, lab_server: LabServer) -> Iterator[Callable[[], Lab]]:
    """Factory of fresh pages (own browser context) on the session's JupyterLab; every page
    and every kernel is closed at the end of the session."""
    contexts = []

    def make() -> Lab:
        ctx = browser.new_context(viewport=VIEWPORT)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(DEFAULT_TIMEOUT_MS)
        console: list[str] = []
        page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
        return Lab(page, lab_server, console)

    try:
        yield make
    finally:
        for ctx in contexts:
            try:
                ctx.close()
            except Exception:  # pragma: no cover - best effort
                pass
        lab_server.delete_kernels()


@pytest.fixture
def lab(open_lab, lab_server: LabServer, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A fresh page for one test; screenshot and console saved when the test fails."""
    helper = open_lab()
    try:
        yield helper
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            save_failure(helper, request.node.name)
        helper.page.context.close()
        lab_server.delete_kernels()
