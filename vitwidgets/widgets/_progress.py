"""Metrics that fill in while the widgets answer: a lazy session computes every image's
statistics in a background thread (:meth:`Session.fill_in_background`) and the widgets poll its
progress on the kernel's event loop, so their traits change on the kernel's own thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from vitwidgets.core.session import Session

__all__ = ["watch_metrics", "progress_text"]

#: seconds between looks at the background work
POLL_SECONDS = 0.25


def progress_text(session: Session) -> str:
    """``"metrics of 3 of 8 images…"`` while they fill in, the error that stopped them, or
    ``""`` when all are in."""
    done, total = session.metrics_progress()
    if session.fill_error is not None:
        error = session.fill_error
        return f"metrics stopped: {type(error).__name__}: {error}"
    return "" if done == total else f"computing metrics: {done} of {total} images…"


def watch_metrics(session: Session, on_change: Callable[[], None]) -> None:
    """Call ``on_change()`` whenever more of ``session``'s statistics are in (and once when
    all are, or the work stopped with an error).

    Inside a running event loop (a Jupyter kernel) the statistics fill in a background thread
    and ``on_change`` runs on the loop; without one (a script, a test) they are computed here,
    before this returns.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None or session.fill_in_background() is None:
        session.head_stats(None)
        on_change()
        return
    seen = [session.metrics_progress()[0]]

    def poll() -> None:
        done, total = session.metrics_progress()
        if done != seen[0] or done == total or session.fill_error is not None:
            seen[0] = done
            on_change()
        if done < total and session.fill_error is None:
            loop.call_later(POLL_SECONDS, poll)

    loop.call_later(POLL_SECONDS, poll)
