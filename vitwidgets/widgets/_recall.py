"""The selection an explorer comes back to when the notebook cell that made it is re-run.

Re-running ``vw.explore(model, images)`` makes a new widget, and the old one's selection
(image, layer, head, mode, pinned query) would be lost. The kernel keeps, per notebook cell
(JupyterLab and Notebook 7 send the cell's id with each execution, ``metadata.cellId``), the
latest selection of each explorer that cell made (the first, second, ... explorer of the run,
so a dashboard's explorer and a second one in the same cell each get theirs back), together
with its model's identity (name, layers, heads, grid, prefix tokens): a new explorer made by
the same cell for the same model starts from it, for the values that fit it (an image index
within its images, a mode it offers) and that the user did not pass explicitly.

The memory lives in the kernel process (this module): it survives the widget but not a kernel
restart, and tests read it without a browser. Outside a notebook cell (a script, a test, a
kernel client that sends no cell id) nothing is remembered, so widgets made one after another
never inherit each other's selection.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from vitwidgets.core.session import Session

#: the traits an explorer comes back to
RECALLED = ("image_index", "layer", "head", "mode", "query")
#: explorers remembered (the least recently changed is forgotten first)
MAX_ENTRIES = 64


def model_key(session: Session) -> tuple:
    """What makes two explorers "of the same model": name, layers, heads, grid, prefix tokens."""
    return (session.name, session.num_layers, session.num_heads, tuple(session.grid),
            session.num_prefix)


def current_execution() -> tuple[str, str] | None:
    """``(cell id, message id)`` of the notebook cell running now, or ``None`` outside one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None or not hasattr(kernel, "get_parent"):
        return None
    parent = kernel.get_parent("shell") or {}
    cell = (parent.get("metadata") or {}).get("cellId")
    msg_id = (parent.get("header") or {}).get("msg_id", "")
    return (str(cell), str(msg_id)) if cell else None


def fits(name: str, value: Any, session: Session) -> bool:
    """Whether a remembered ``value`` of trait ``name`` is valid for ``session``'s view."""
    limits = {
        "image_index": session.num_images, "layer": session.num_layers,
        "head": session.num_heads,
    }
    if name in limits:
        return isinstance(value, int) and 0 <= value < limits[name]
    if name == "query":
        return isinstance(value, int) and -1 <= value < session.num_tokens
    if name == "mode":
        return isinstance(value, str) and (value != "cls" or session.num_prefix > 0)
    return False


class SelectionMemory:
    """The latest selection of each explorer per (cell, n-th explorer of its run, model).

    ``slot(session)`` when an explorer is made (``None`` outside a cell), ``recall(slot, ...)``
    for its starting values, ``remember(slot, ...)`` after each change of its selection.
    ``execution`` says which cell runs now (:func:`current_execution`; tests replace it)."""

    def __init__(self, execution=current_execution, max_entries: int = MAX_ENTRIES):
        self.execution = execution
        self._store: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._max = max_entries
        self._run = ("", 0)  # message id of the latest run that made an explorer, and how many

    def slot(self, session: Session) -> tuple | None:
        """The key of a new explorer of ``session`` made now: ``(cell, n, model)`` with n
        counting the explorers this run of the cell has made; ``None`` outside a cell."""
        now = self.execution()
        if now is None:
            return None
        cell, msg_id = now
        n = self._run[1] + 1 if self._run[0] == msg_id else 0
        self._run = (msg_id, n)
        return (cell, n, model_key(session))

    def remember(self, slot: tuple | None, selection: dict[str, Any]) -> None:
        """Keep ``selection`` (values of :data:`RECALLED`) as the latest of ``slot``."""
        if slot is None:
            return
        self._store[slot] = {k: selection[k] for k in RECALLED if k in selection}
        self._store.move_to_end(slot)
        while len(self._store) > self._max:
            self._store.popitem(last=False)

    def recall(self, slot: tuple | None, session: Session, given: dict[str, Any]) -> dict:
        """The remembered values to start ``slot``'s explorer of ``session`` with: those that
        fit it and that ``given`` (the user's keywords) does not set. A pinned query comes
        back only with the mode it was pinned in."""
        saved = self._store.get(slot, {}) if slot is not None else {}
        out = {k: v for k, v in saved.items() if k not in given and fits(k, v, session)}
        mode = out.get("mode", given.get("mode", "row"))
        if "query" in out and mode != saved.get("mode"):
            del out["query"]
        return out

    def forget(self) -> None:
        """Forget every remembered selection."""
        self._store.clear()


#: the kernel's one memory, shared by every AttentionExplorer
SELECTIONS = SelectionMemory()
