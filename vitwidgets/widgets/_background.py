"""Dataset work that fills a study view in: run it in a thread while the kernel's event loop
runs, report its progress there, and hand its result (or its error) to the widget on the
loop's own thread, so that traits only ever change on the kernel's thread (as
:mod:`._progress` does for a session's metrics).

Without a running loop (a script, a test), or with ``background=False``, the work runs here,
before :func:`run_job` returns, and an error is raised to the caller.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from vitwidgets.core.errors import UserValueError

from ._progress import POLL_SECONDS

__all__ = ["run_job", "batches_text"]

log = logging.getLogger("vitwidgets.widgets")

#: ``work(report)`` does the job and returns its result; ``report(*progress)`` may be called
#: from its thread any number of times (the latest report wins)
Work = Callable[[Callable[..., None]], Any]


def batches_text(what: str, done: int, total: int | None) -> str:
    """``"computing CKA: 3 of 8 batches…"`` (``"3 batches…"`` when the total is unknown)."""
    of = f"{done} of {total}" if total is not None else f"{done}"
    return f"computing {what}: {of} batch{'' if (total or done) == 1 else 'es'}…"


def run_job(
    work: Work,
    *,
    on_progress: Callable[..., None],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    name: str = "vitwidgets-job",
    background: bool | None = None,
) -> threading.Thread | None:
    """Run ``work`` in a thread when an event loop runs (returns the thread), else here
    (returns ``None``; an error propagates after ``on_error``). ``on_progress(*latest)``,
    ``on_done(result)`` and ``on_error(error)`` run on the loop (here without one).

    ``background``: ``None`` as above; ``False`` always here (the caller waits);
    ``True`` always in a thread (a running loop is then required)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if background and loop is None:
        raise UserValueError("background=True needs a running event loop (a notebook kernel)")
    if loop is None or background is False:
        try:
            result = work(on_progress)
        except Exception as e:
            on_error(e)
            raise
        on_done(result)
        return None
    lock = threading.Lock()
    state: dict[str, Any] = {"progress": None, "finished": False, "result": None, "error": None}

    def report(*progress: Any) -> None:
        with lock:
            state["progress"] = progress

    def target() -> None:
        try:
            state["result"] = work(report)
        except Exception as e:  # shown in the widget, logged for the kernel's log
            log.info("background job %s failed", name, exc_info=True)
            state["error"] = e
        finally:
            with lock:
                state["finished"] = True

    shown: list[Any] = [None]

    def poll() -> None:
        with lock:
            progress, finished = state["progress"], state["finished"]
        if progress is not None and progress is not shown[0]:
            shown[0] = progress
            on_progress(*progress)
        if not finished:
            loop.call_later(POLL_SECONDS, poll)
        elif state["error"] is not None:
            on_error(state["error"])
        else:
            on_done(state["result"])

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    loop.call_later(POLL_SECONDS, poll)
    return thread
