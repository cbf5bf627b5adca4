"""What the study views (RepresentationMap, DepthProfile) share: a status line while the
dataset streams (:mod:`._background`), the error that stopped it, a PNG of the view, and how
they take their models."""

from __future__ import annotations

import asyncio
from typing import Any

import traitlets

from vitwidgets.core.errors import UserError, UserTypeError, error_name
from vitwidgets.loading import load_model

from ._background import batches_text
from ._base import (
    FRONTEND_TIMEOUT_S,
    CommandWidget,
    check_bundle,
    derived,
    options_of,
    reject_unknown,
)
from ._export import PngSave, start_png_save

__all__ = ["StudyView", "computed", "study_models", "derived"]


class StudyView(CommandWidget):
    """What the study views share: a status line while the dataset streams, the error that
    stopped it, and a PNG of the view."""

    #: what is being computed ("computing CKA: 3 of 8 batches…"); "" when done
    status = derived(traitlets.Unicode(""))
    #: the error that stopped the computation ("" when none), shown in the widget
    error = derived(traitlets.Unicode(""))
    #: whether every batch is in
    done = derived(traitlets.Bool(False))
    _what = "the view"

    def _progress(self, done: int, total: int | None, _partial: Any = None) -> None:
        self.status = batches_text(self._what, done, total)

    def _failed(self, e: BaseException) -> None:
        self.status = ""
        self.error = f"{error_name(e)}: {e}"

    def save_png(
        self, path: Any, *, scale: int = 2, timeout: float = FRONTEND_TIMEOUT_S
    ) -> PngSave:
        """Write the view as the browser draws it (on white) to ``path`` (``.png``); in a
        notebook cell: ``await view.save_png("fig.png")``. ``scale``: PNG px per CSS px."""
        return start_png_save(self, path, scale=scale, timeout=timeout)


class ComputationError(UserError, RuntimeError):
    """A study view's computation stopped with an error (it is shown in the view too)."""

    shown_name = "RuntimeError"


class ComputationTimeout(UserError, TimeoutError):
    """The study views were not computed within the time given to :func:`computed`."""

    shown_name = "TimeoutError"


async def computed(*views: StudyView, timeout: float | None = None, poll_s: float = 0.2):
    """Wait until every study view has all its numbers: ``await vw.computed(rm, dp)`` in a
    notebook cell, after showing the views. The views compute in the kernel's background while
    the cell awaits, so the page keeps answering (hover, progress). Returns the views (one view:
    that view). Raises the views' error when one stopped, and ``TimeoutError`` after
    ``timeout`` seconds (None: as long as they take; each view shows its progress)."""
    for v in views:
        if not isinstance(v, StudyView):
            raise UserTypeError(
                f"computed() waits for study views (RepresentationMap, DepthProfile, "
                f"ConceptMap); got {type(v).__name__}"
            )
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not all(v.done or v.error for v in views):
        if deadline is not None and loop.time() > deadline:
            raise ComputationTimeout(
                f"the views were not computed within {timeout:g} s (their status lines show "
                f"how far they are)"
            )
        await asyncio.sleep(poll_s)
    errors = [f"{type(v).__name__}: {v.error}" for v in views if v.error]
    if errors:
        raise ComputationError("; ".join(errors))
    return views[0] if len(views) == 1 else views


def study_models(cls: type, options: dict, *models: Any) -> list:
    """Reject unknown ``options`` of ``cls``, check its bundle and load ``models`` (anything
    :func:`vitwidgets.load_model` takes; ``None`` stays ``None``)."""
    reject_unknown(f"vw.{cls.__name__}()", options, options_of(cls))
    check_bundle(cls._bundle_name)
    return [None if m is None else load_model(m) for m in models]
