"""What every vitwidgets anywidget shares: its built ESM bundle, request/reply messaging and
PNG encoding of images at the edge."""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from PIL import Image

STATIC = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger("vitwidgets.widgets")


def _missing_message(path: Path) -> str:
    return (
        f"the frontend bundle {path} is missing: the JavaScript was not built. Reinstall "
        f"with `pip install -e .` (the build hook runs npm), or build it by hand with "
        f"`npm --prefix js install && npm --prefix js run build`"
    )


def bundle(name: str) -> Path | str:
    """The built frontend bundle ``vitwidgets/static/<name>.js`` for a widget's ``_esm``.

    When it was not built, an ES module that shows how to build it (so that importing the
    widgets still works and :func:`check_bundle` can raise a clear error)."""
    path = STATIC / f"{name}.js"
    if path.is_file():
        return path
    return (
        "export default { render({ el }) { el.textContent = "
        + json.dumps("vitwidgets: " + _missing_message(path))
        + "; } };"
    )


def check_bundle(name: str) -> None:
    path = STATIC / f"{name}.js"
    if not path.is_file():
        raise FileNotFoundError(_missing_message(path))


def png_bytes(rgb: np.ndarray, max_side: int | None = None) -> bytes:
    """PNG of an ``[H, W, 3]`` uint8 image, optionally shrunk so its longer side is
    ``max_side`` pixels."""
    img = Image.fromarray(np.ascontiguousarray(rgb))
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


Handler = Callable[..., tuple[dict, list[bytes]]]


class RequestWidget(anywidget.AnyWidget):
    """An anywidget that answers the frontend's requests (``js/src/rpc.js``).

    The frontend sends ``{kind: "request", id, method, params}``; the kernel always replies
    ``{kind: "reply", id, ok: true, result}`` with binary buffers, or ``{kind: "reply", id,
    ok: false, error}``. A ``{kind: "cancel", id}`` that arrives before its request is handled
    drops the request. Subclasses register methods in ``_methods()``.
    """

    #: text of the last error replied to the frontend ("" when the last request succeeded)
    last_error = traitlets.Unicode("")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._cancelled: set[str] = set()
        self.on_msg(self._on_frontend_msg)

    def _methods(self) -> dict[str, Handler]:
        return {}

    def _on_frontend_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict):
            return
        if content.get("kind") == "cancel":
            self._cancelled.add(str(content.get("id")))
            return
        if content.get("kind") == "request":
            reply, out = self.handle_request(content)
            if reply is not None:
                self.send(reply, out)

    def handle_request(self, content: dict) -> tuple[dict | None, list[bytes]]:
        """Answer one request message: ``(reply, buffers)``; ``(None, [])`` when cancelled."""
        rid = str(content.get("id"))
        if rid in self._cancelled:
            self._cancelled.discard(rid)
            return None, []
        method = content.get("method")
        params = content.get("params") or {}
        try:
            handler = self._methods().get(method)
            if handler is None:
                raise ValueError(f"unknown request {method!r}")
            if not isinstance(params, dict):
                raise ValueError("request params must be an object")
            result, out = handler(**params)
        except Exception as e:  # every request gets a reply, errors included
            message = f"{type(e).__name__}: {e}"
            if not isinstance(e, (ValueError, TypeError, KeyError)):
                log.error("request %s failed\n%s", method, traceback.format_exc())
            self.last_error = message
            return {"kind": "reply", "id": rid, "ok": False, "error": message}, []
        self.last_error = ""
        return {"kind": "reply", "id": rid, "ok": True, "result": result}, out
