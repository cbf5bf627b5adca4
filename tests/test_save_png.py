"""``AttentionExplorer.save_png``: the kernel asks the view in the browser for its PNG
(``export_png``) and writes the bytes it replies with. Here a fake view answers through the
widget's message handler as the comm would; in JupyterLab: tests/browser/test_browser_export.py."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from factories import IDENTITY, toy_trace
from PIL import Image

from vitwidgets.core.session import Session
from vitwidgets.widgets import AttentionExplorer


def in_thread(fn):
    """``fn()`` in a thread of its own, its result or its exception. Playwright's sync API (the
    browser tests, earlier in a full run) leaves a running event loop in the main thread, so a
    test that needs "no running loop" or its own loop cannot use the main thread."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if "error" in out:
        raise out["error"]
    return out["value"]


def run(coro):
    """``asyncio.run(coro)`` on a loop of its own, in a thread (see :func:`in_thread`)."""
    return in_thread(lambda: asyncio.run(coro))


@pytest.fixture
def explorer():
    return AttentionExplorer(Session(toy_trace(num_layers=2, num_images=1), identity=IDENTITY))


def png_of(width: int, height: int, colour=(200, 30, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def fake_view(widget, answer):
    """Record what the kernel sends; answer each request with ``answer(msg) -> (reply, buffers)``
    on the next turn of the loop, through the handler the comm calls."""
    sent = []

    def send(msg, buffers=None):
        sent.append(msg)
        if msg.get("kind") == "request":
            reply, out = answer(msg)
            reply = {"kind": "reply", "id": msg["id"], **reply}
            asyncio.get_running_loop().call_soon(widget._on_frontend_msg, widget, reply, out)

    widget.send = send
    return sent


async def saved(widget, *args, **kwargs):
    """``await widget.save_png(...)`` as a notebook cell runs it: inside the kernel's loop."""
    return await widget.save_png(*args, **kwargs)


def test_save_png_asks_the_view_for_export_png_and_writes_its_bytes(explorer, tmp_path):
    png = png_of(7, 5)
    sent = fake_view(explorer, lambda m: ({"ok": True, "result": {"width": 7, "height": 5}}, [png]))

    written = run(saved(explorer, tmp_path / "fig.png", scale=3))
    assert written == tmp_path / "fig.png"
    assert written.read_bytes() == png
    assert Image.open(written).size == (7, 5)
    assert [(m["kind"], m["method"], m["params"]) for m in sent] == [
        ("request", "export_png", {"scale": 3, "wait_ms": 8000})  # the view may wait 8 of 10 s
    ]
    assert explorer._asked == {}, "nothing left waiting"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"], "no temporary file left"


def test_the_first_views_reply_wins_and_a_second_is_ignored(explorer, tmp_path):
    first, second = png_of(4, 4, (0, 0, 255)), png_of(4, 4, (0, 255, 0))

    def send(msg, buffers=None):
        loop = asyncio.get_running_loop()
        for png in (first, second):  # two views of the same widget both answer
            result = {"width": 4, "height": 4}
            reply = {"kind": "reply", "id": msg["id"], "ok": True, "result": result}
            loop.call_soon(explorer._on_frontend_msg, explorer, reply, [png])

    explorer.send = send
    path = run(saved(explorer, tmp_path / "a.png"))
    assert path.read_bytes() == first


def test_a_view_that_appears_late_hears_the_resent_request(explorer, tmp_path):
    png = png_of(3, 3)
    sent = []

    def send(msg, buffers=None):
        sent.append(msg)
        if len(sent) == 2:  # the view was made after the first send
            reply = {"kind": "reply", "id": msg["id"], "ok": True,
                     "result": {"width": 3, "height": 3}}
            asyncio.get_running_loop().call_soon(explorer._on_frontend_msg, explorer, reply, [png])

    explorer.send = send

    async def main():
        return await explorer.ask_frontend("export_png", {}, timeout=2, resend_every=0.05)

    result, buffers = run(main())
    assert (result, buffers) == ({"width": 3, "height": 3}, [png])
    assert len(sent) == 2 and sent[0] == sent[1], "the same request, same id"


def test_save_png_with_no_view_raises_timeout_saying_to_display_the_widget_first(
    explorer, tmp_path
):
    sent = []
    explorer.send = lambda msg, buffers=None: sent.append(msg)  # no view: nobody answers
    with pytest.raises(TimeoutError, match=r"no view of this AttentionExplorer answered within "
                       r"0\.05 s: display the widget first"):
        run(saved(explorer, tmp_path / "fig.png", timeout=0.05))
    assert len(sent) == 1, "resent every second: none within 0.05 s"
    assert not (tmp_path / "fig.png").exists()
    assert explorer._asked == {}


def test_an_error_reply_raises_with_the_browsers_message_and_keeps_an_existing_file(
    explorer, tmp_path
):
    old = tmp_path / "fig.png"
    old.write_bytes(b"the user's earlier figure")
    error = "the explorer has not drawn this selection yet"
    fake_view(explorer, lambda m: ({"ok": False, "error": error}, []))
    with pytest.raises(RuntimeError, match="could not answer: the explorer has not drawn"):
        run(saved(explorer, old))
    assert old.read_bytes() == b"the user's earlier figure"


@pytest.mark.parametrize(("buffers", "result", "match"), [
    ([b"GIF89a not a png at all, really"], {"width": 1, "height": 1}, "are not a PNG"),
    ([], {"width": 1, "height": 1}, "carries 0 buffers, not 1"),
    ([png_of(3, 2)], {"width": 30, "height": 20}, r"is 3x2 px, it said \(30, 20\)"),
])
def test_a_reply_that_is_not_the_png_it_claims_is_an_error_and_writes_nothing(
    explorer, tmp_path, buffers, result, match
):
    fake_view(explorer, lambda m: ({"ok": True, "result": result}, buffers))
    with pytest.raises(RuntimeError, match=match):
        run(saved(explorer, tmp_path / "fig.png"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"path": "fig.jpg"}, r"name ending in \.png, got 'fig.jpg'"),
    ({"path": "no/such/folder/fig.png"}, "does not exist: create it first"),
    ({"path": "fig.png", "scale": 0}, r"scale must be a whole number 1\.\.8, got 0"),
    ({"path": "fig.png", "scale": 2.5}, r"scale must be a whole number 1\.\.8, got 2\.5"),
    ({"path": "fig.png", "timeout": -1}, "timeout must be a positive number of seconds, got -1"),
])
def test_bad_arguments_are_refused_before_asking_the_browser(
    explorer, tmp_path, monkeypatch, kwargs, match
):
    monkeypatch.chdir(tmp_path)
    sent = []
    explorer.send = lambda msg, buffers=None: sent.append(msg)

    async def main():
        explorer.save_png(**kwargs)

    with pytest.raises(ValueError, match=match):
        run(main())
    assert sent == []


def test_outside_an_event_loop_save_png_says_to_await_it_in_a_notebook(explorer, tmp_path):
    expected = r"display the widget, then run `await widget.save_png\(path\)`"
    with pytest.raises(RuntimeError, match=expected):
        in_thread(lambda: explorer.save_png(tmp_path / "fig.png"))


def test_a_save_nobody_awaits_still_writes_after_the_cell_and_reports_a_failure(
    explorer, tmp_path, capsys
):
    png = png_of(2, 2)
    fake_view(explorer, lambda m: ({"ok": True, "result": {"width": 2, "height": 2}}, [png]))

    async def cell_then_idle():
        save = explorer.save_png(tmp_path / "ok.png")  # a cell that forgot `await`
        assert "waiting for the browser" in repr(save)
        await asyncio.sleep(0.05)  # the kernel is idle again: the reply is handled
        return save

    save = run(cell_then_idle())
    assert save.done() and save.result() == tmp_path / "ok.png"
    assert (tmp_path / "ok.png").read_bytes() == png
    assert repr(save) == f"<PNG {str(tmp_path / 'ok.png')!r}: saved>"

    explorer.send = lambda msg, buffers=None: None

    async def failing():
        save = explorer.save_png(tmp_path / "never.png", timeout=0.01)
        await asyncio.sleep(0.1)
        return save

    save = run(failing())
    assert "failed: no view of this AttentionExplorer answered" in repr(save)
    assert "save_png(" in capsys.readouterr().err
