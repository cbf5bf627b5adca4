"""What every vitwidgets widget shares: its built ESM bundle, the session it asks, strict
keyword arguments, and commands the frontend can call.

Commands follow anywidget's ``@command`` style (``anywidget/experimental.py``): methods marked
with :func:`command` are collected over the class's MRO and answered by one message handler.
Unlike anywidget's, every request gets a reply, errors included, so that the frontend
(``js/src/rpc.js``) never waits for an answer that will not come:

    frontend -> kernel  {kind: "request", id, method, params}
    kernel -> frontend  {kind: "reply", id, ok: true, result}        + binary buffers
    kernel -> frontend  {kind: "reply", id, ok: false, error: "..."}

A request the frontend gave up on (timed out, replaced by a newer one) is dropped there: its
late reply is ignored, so the kernel needs no cancel message (and could not act on one: on the
ordered channel it would always arrive after the request it cancels).
"""

from __future__ import annotations

import difflib
import json
import logging
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import traitlets

from vitwidgets.core.session import Session
from vitwidgets.loading import load_model

STATIC = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger("vitwidgets.widgets")

F = TypeVar("F", bound=Callable[..., Any])
_COMMAND = "_vitwidgets_command"


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


def as_session(model_or_session: Any, images: Any = None, cache: Any = None) -> Session:
    """A :class:`Session` from a session, or from a model (anything
    :func:`vitwidgets.load_model` takes) and images, with a ``cache`` budget (``"2GB"``)."""
    if isinstance(model_or_session, Session):
        if images is not None:
            raise ValueError("pass images when giving a model, not with a Session")
        if cache is not None:
            raise ValueError("a Session has its cache already: give cache= to "
                             "Session.from_model, or give a model here")
        return model_or_session
    if images is None:
        raise ValueError("give the images to look at, e.g. vw.explore(model, image)")
    return Session.from_model(load_model(model_or_session), images, cache=cache)


def reject_unknown(what: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Raise ``TypeError`` naming the keywords of ``given`` that are not in ``valid`` (with a
    close match when there is one) and listing the valid ones."""
    valid = sorted(set(valid))
    unknown = [k for k in given if k not in valid]
    if not unknown:
        return
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(k, valid, n=1)
        hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(
        f"{what} got unexpected keyword argument{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(hints)}; valid: {', '.join(valid)}"
    )


def options_of(cls: type[traitlets.HasTraits]) -> set[str]:
    """The traits a user may set when making a widget of ``cls``: the public traits that
    vitwidgets classes declare (not those derived from the session), plus ``layout``."""
    names = {"layout"}
    for base in cls.__mro__:
        if not base.__module__.startswith("vitwidgets.") or not issubclass(
            base, traitlets.HasTraits
        ):
            continue
        for name, trait in base.class_own_traits().items():
            if not name.startswith("_") and not trait.metadata.get("derived"):
                names.add(name)
    return names


def widget_session(cls: type, model: Any, images: Any, options: dict) -> Session:
    """What every widget does first: reject unknown keyword ``options`` of ``cls``, check that
    its frontend bundle (``cls._bundle_name``) was built, and make the session it will ask."""
    reject_unknown(cls.__name__, options, options_of(cls))
    check_bundle(cls._bundle_name)
    return as_session(model, images)


def command(name: str) -> Callable[[F], F]:
    """Mark a widget method as the command ``name`` that the frontend calls. The method takes
    the request's params as keyword arguments and returns ``(result, buffers)``."""

    def mark(fn: F) -> F:
        setattr(fn, _COMMAND, name)
        return fn

    return mark


def trait_check(check: Callable[..., int], *args: Any, **kwargs: Any) -> int:
    """Run an index check of :mod:`vitwidgets.core.indexing` in a trait validator: its error
    becomes a ``TraitError`` with the same message."""
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise traitlets.TraitError(str(e)) from None


class CommandWidget(anywidget.AnyWidget):
    """An anywidget whose :func:`command` methods answer the frontend's requests.

    Keyword arguments other than the widget's options (:func:`options_of`) raise ``TypeError``.
    """

    #: command name -> method name, collected over the MRO
    _commands: dict[str, str] = {}
    #: text of the last error replied to the frontend ("" when the last request succeeded)
    last_error = traitlets.Unicode("").tag(derived=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._commands = {
            getattr(attr, _COMMAND): name
            for base in reversed(cls.__mro__)
            for name, attr in vars(base).items()
            if callable(attr) and getattr(attr, _COMMAND, None)
        }

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.on_msg(self._on_frontend_msg)

    def _on_frontend_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        if isinstance(content, dict) and content.get("kind") == "request":
            reply, out = self.handle_request(content)
            self.send(reply, out)

    def handle_request(self, content: dict) -> tuple[dict, list[bytes]]:
        """Answer one request message: ``(reply, buffers)``; errors become error replies."""
        rid = str(content.get("id"))
        method = content.get("method")
        params = content.get("params") or {}
        try:
            if method not in self._commands:
                raise ValueError(
                    f"unknown request {method!r}; commands: {', '.join(sorted(self._commands))}"
                )
            if not isinstance(params, dict):
                raise ValueError("request params must be an object")
            result, out = getattr(self, self._commands[method])(**params)
        except Exception as e:  # every request gets a reply, errors included
            message = f"{type(e).__name__}: {e}"
            if not isinstance(e, (ValueError, TypeError, KeyError)):
                log.error("request %s failed\n%s", method, traceback.format_exc())
            self.last_error = message
            return {"kind": "reply", "id": rid, "ok": False, "error": message}, []
        self.last_error = ""
        return {"kind": "reply", "id": rid, "ok": True, "result": result}, out
