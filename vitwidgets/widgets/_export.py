"""Writing a PNG that a widget's view draws in the browser (``AttentionExplorer.save_png``).

The kernel asks the view (:meth:`CommandWidget.ask_frontend`, request ``export_png``); the view
composes the PNG from what it shows and replies with its bytes as a buffer. Here: the checks
before asking (a writable ``.png`` path, a whole scale), the checks of the reply (a PNG of the
size the view says), and an atomic write (a failure never leaves half a file at ``path``).
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

from vitwidgets.core.errors import UserValueError

from ._base import FRONTEND_TIMEOUT_S, CommandWidget, FrontendError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: the largest scale (px per CSS px) a view may be asked to draw at
MAX_SCALE = 8


def png_target(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path` ending in ``.png`` whose folder exists (else a clear error)."""
    target = Path(path).expanduser()
    if target.suffix.lower() != ".png":
        raise UserValueError(f"save a PNG under a name ending in .png, got {str(path)!r}")
    if not target.parent.is_dir():
        raise UserValueError(f"the folder {str(target.parent)!r} does not exist: create it first")
    if target.is_dir():
        raise UserValueError(f"{str(target)!r} is a folder: give a file name ending in .png")
    return target


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` in px from a PNG's header; ``FrontendError`` when it is no PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise FrontendError(f"the browser sent {len(data)} bytes that are not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder (replaced in one
    step: an existing file is either kept whole or replaced whole)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def save_view_png(
    widget: CommandWidget, target: Path, *, scale: int, timeout: float
) -> Path:
    """Ask ``widget``'s view for its ``export_png`` at ``scale`` and write it to ``target``."""
    # the view waits for its data to be drawn for most of the time the kernel waits, so that
    # "not drawn yet" (its reason) arrives before the kernel gives up on the view
    params = {"scale": scale, "wait_ms": int(timeout * 800)}
    result, buffers = await widget.ask_frontend("export_png", params, timeout=timeout)
    if len(buffers) != 1:
        raise FrontendError(f"the browser's PNG reply carries {len(buffers)} buffers, not 1")
    size = png_size(buffers[0])
    expected = (result.get("width"), result.get("height"))
    if size != expected:
        raise FrontendError(f"the browser's PNG is {size[0]}x{size[1]} px, it said {expected}")
    write_atomically(target, buffers[0])
    return target


class PngSave:
    """A PNG being saved by the browser: ``await`` it for the path written (or the error).

    Not awaited, it still finishes once the cell ends (the kernel is free then to take the
    browser's reply), and a failure is printed to the cell's stderr."""

    def __init__(self, target: Path, task: asyncio.Task):
        self.path = target
        self._task = task
        self._awaited = False
        task.add_done_callback(self._report)

    def __await__(self):
        self._awaited = True
        return self._task.__await__()

    def done(self) -> bool:
        """Whether the PNG was written or the save failed."""
        return self._task.done()

    def result(self) -> Path:
        """The path written; raises the save's error (``InvalidStateError`` while pending)."""
        return self._task.result()

    def _report(self, task: asyncio.Task) -> None:
        if self._awaited or task.cancelled() or task.exception() is None:
            return
        print(f"save_png({str(self.path)!r}) failed: {task.exception()}", file=sys.stderr)

    def __repr__(self) -> str:
        if not self._task.done():
            state = "waiting for the browser (await it to wait here)"
        elif self._task.cancelled():
            state = "cancelled"
        elif self._task.exception() is not None:
            state = f"failed: {self._task.exception()}"
        else:
            state = "saved"
        return f"<PNG {str(self.path)!r}: {state}>"


def start_png_save(
    widget: CommandWidget, path: Any, *, scale: int = 2, timeout: float = FRONTEND_TIMEOUT_S
) -> PngSave:
    """Check the arguments, then start :func:`save_view_png` on the running event loop.

    Returns a :class:`PngSave` (await it for the path or the error). Raises ``RuntimeError``
    when no event loop runs (a plain script: there is no browser to draw the PNG)."""
    target = png_target(path)
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise UserValueError(f"scale must be a whole number 1..{MAX_SCALE}, got {scale!r}")
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise UserValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "save_png needs the widget drawn in a browser: in a notebook, display the widget, "
            "then run `await widget.save_png(path)` in a cell"
        ) from None
    return PngSave(target, loop.create_task(
        save_view_png(widget, target, scale=scale, timeout=timeout)))
