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

The kernel asks the frontend the same way (:meth:`CommandWidget.ask_frontend`, e.g. the
explorer's PNG export): the request goes to every displayed view, the first reply wins, and
after a bounded time without one it raises :class:`NoViewError`. It is a coroutine because a
cell that blocked the kernel could never see the reply: the reply is a shell message, handled
by the thread the cell holds. While a cell *awaits*, ipykernel (7.4 here) dispatches comm messages
next to it, and JupyterLab 4.6 sends them over a kernel subshell (another thread) by default,
so ``await widget.ask_frontend(...)`` in a cell gets its answer. Where neither holds, a request
started without ``await`` is answered once the cell ends.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import anywidget
import traitlets

from vitwidgets.core.errors import (
    UserError,
    UserFileNotFoundError,
    UserTypeError,
    UserValueError,
    error_name,
)
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
        raise UserFileNotFoundError(_missing_message(path))


def as_session(
    model_or_session: Any, images: Any = None, cache: Any = None, *, caller: str = "vw.explore"
) -> Session:
    """A :class:`Session` from a session, or from a model (anything
    :func:`vitwidgets.load_model` takes) and images, with a ``cache`` budget (``"2GB"``).
    ``caller`` is what the user called (``"vw.explore"``, ``"vw.HeadAnnotator"``): the
    errors show the right call."""
    if isinstance(model_or_session, Session):
        if images is not None:
            raise UserValueError(
                f"{caller}(session) takes no images: the session holds its images already; "
                f"pass images with a model instead, {caller}(model, images)"
            )
        if cache is not None:
            raise UserValueError(
                f"a Session has its cache already: give cache= to Session.from_model, or "
                f"give a model here, {caller}(model, images, cache=...)"
            )
        return model_or_session
    if images is None:
        raise UserValueError(f"give the images to look at: {caller}(model, images)")
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
    raise UserTypeError(
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
    reject_unknown(f"vw.{cls.__name__}()", options, options_of(cls))
    check_bundle(cls._bundle_name)
    return as_session(model, images, caller=f"vw.{cls.__name__}")


def command(name: str) -> Callable[[F], F]:
    """Mark a widget method as the command ``name`` that the frontend calls. The method takes
    the request's params as keyword arguments and returns ``(result, buffers)``."""

    def mark(fn: F) -> F:
        setattr(fn, _COMMAND, name)
        return fn

    return mark


def derived(trait: traitlets.TraitType) -> traitlets.TraitType:
    """A synced trait that comes from the session, models or data (not a user option: see
    :func:`options_of`)."""
    return trait.tag(sync=True, derived=True)


class UserTraitError(UserError, traitlets.TraitError):
    """A trait value the user gave that is out of range (shown as ``TraitError``)."""

    shown_name = "TraitError"


def trait_check(check: Callable[..., int], *args: Any, **kwargs: Any) -> int:
    """Run an index check of :mod:`vitwidgets.core.indexing` in a trait validator: its error
    becomes a ``TraitError`` with the same message."""
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise UserTraitError(str(e)) from None


#: seconds the kernel waits for a view's reply to its request by default
FRONTEND_TIMEOUT_S = 10.0


class NoViewError(UserError, TimeoutError):
    """No view of the widget answered the kernel's request in time (none is displayed, the
    page is closed, or the view is from before a kernel restart)."""

    shown_name = "TimeoutError"


class FrontendError(UserError, RuntimeError):
    """A view of the widget answered the kernel's request with an error."""

    shown_name = "RuntimeError"


def _settle(future: asyncio.Future, reply: dict, buffers: list) -> None:
    if future.done():  # another view answered first, or the caller gave up
        return
    if reply.get("ok"):
        future.set_result((reply.get("result") or {}, [bytes(b) for b in buffers or []]))
    else:
        error = reply.get("error") or "an unnamed error"
        future.set_exception(FrontendError(f"the widget in the browser could not answer: {error}"))


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
        #: the kernel's requests waiting for a view's reply: id -> future of (result, buffers)
        self._asked: dict[str, asyncio.Future] = {}
        self.on_msg(self._on_frontend_msg)

    def _on_frontend_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict):
            return
        if content.get("kind") == "request":
            reply, out = self.handle_request(content)
            self.send(reply, out)
        elif content.get("kind") == "reply":
            future = self._asked.get(str(content.get("id")))
            if future is not None:  # else: a late reply, or a second view's
                future.get_loop().call_soon_threadsafe(_settle, future, content, buffers)

    async def ask_frontend(
        self,
        method: str,
        params: dict | None = None,
        *,
        timeout: float = FRONTEND_TIMEOUT_S,
        resend_every: float = 1.0,
    ) -> tuple[dict, list[bytes]]:
        """Ask the widget's views in the browser: ``(result, buffers)`` of the first reply.

        The request is sent again (same id) every ``resend_every`` seconds until a reply: a
        view that was still being created (the cell before ran a moment ago) then hears it; a
        view answers each id once. Raises :class:`NoViewError` when no view answers within
        ``timeout`` seconds, and :class:`FrontendError` when a view answers with an error.
        Await it (``await`` in a notebook cell): a blocked kernel could not see the reply (see
        the module docstring).
        """
        if not timeout > 0:
            raise UserValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        rid = f"k-{uuid4().hex[:12]}"
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        deadline = loop.time() + timeout
        message = {"kind": "request", "id": rid, "method": method, "params": params or {}}
        self._asked[rid] = future
        try:
            while True:
                self.send(message)
                wait = min(resend_every, deadline - loop.time())
                try:
                    return await asyncio.wait_for(asyncio.shield(future), max(wait, 0))
                except asyncio.TimeoutError:
                    if loop.time() >= deadline:
                        raise
        except asyncio.TimeoutError:
            raise NoViewError(
                f"no view of this {type(self).__name__} answered within {timeout:g} s: display "
                f"the widget first (end a cell with it, or display(widget)) in a notebook whose "
                f"kernel is running, let it draw, then try again. If it is displayed, the "
                f"kernel may take no reply while a cell runs (older ipykernel): call it "
                f"without `await` and the reply comes once the cell ends"
            ) from None
        finally:
            self._asked.pop(rid, None)

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
            message = f"{error_name(e)}: {e}"
            if not isinstance(e, (ValueError, TypeError, KeyError)):
                log.error("request %s failed\n%s", method, traceback.format_exc())
            self.last_error = message
            return {"kind": "reply", "id": rid, "ok": False, "error": message}, []
        self.last_error = ""
        return {"kind": "reply", "id": rid, "ok": True, "result": result}, out


class SessionView(CommandWidget):
    """A view of one session (a model and its images): the session and the model's shape,
    synced for the frontend. Subclasses add their own shape traits in :meth:`_shape_of`."""

    session = traitlets.Instance(Session).tag(derived=True)
    model_name = derived(traitlets.Unicode(""))
    num_layers = derived(traitlets.Int(1))
    num_images = derived(traitlets.Int(1))
    grid = derived(traitlets.List(traitlets.Int(), [1, 1]))
    patch_size = derived(traitlets.Int(16))

    @staticmethod
    def _shape_of(session: Session) -> dict[str, Any]:
        """The shape traits' values for ``session``."""
        return {
            "model_name": session.name,
            "num_layers": session.num_layers,
            "num_images": session.num_images,
            "grid": list(session.grid),
            "patch_size": session.patch_size,
        }
