"""What the study views (RepresentationMap, DepthProfile) share: a status line while the
dataset streams (:mod:`._background`), the error that stopped it, a PNG of the view, and how
they take their models."""

from __future__ import annotations

from typing import Any

import traitlets

from vitwidgets.core.errors import error_name
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

__all__ = ["StudyView", "study_models", "derived"]


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


def study_models(cls: type, options: dict, *models: Any) -> list:
    """Reject unknown ``options`` of ``cls``, check its bundle and load ``models`` (anything
    :func:`vitwidgets.load_model` takes; ``None`` stays ``None``)."""
    reject_unknown(f"vw.{cls.__name__}()", options, options_of(cls))
    check_bundle(cls._bundle_name)
    return [None if m is None else load_model(m) for m in models]
