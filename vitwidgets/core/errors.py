"""Expected user errors: a bad argument, an unknown model name, missing weights, an image of the
wrong kind, a layer out of range. Their message says what was expected; in a notebook that
message is what the user sees, not a traceback through vitwidgets internals.

IPython (and so Jupyter) renders an exception with its ``_render_traceback_()`` when it has one:
:class:`UserError` gives the message and one line on how to see everything (``%tb verbose``,
or ``%xmode verbose`` for every later error). Outside IPython nothing changes: Python prints its
usual traceback. Each class also subclasses the builtin it stands for, so ``except ValueError``
still catches :class:`UserValueError`, and the name shown is that builtin's (``ValueError: ...``).

This module imports nothing from vitwidgets: the core, the loaders and the widgets all use it.
"""

from __future__ import annotations

import traceback
from typing import ClassVar

__all__ = [
    "UserError", "UserValueError", "UserTypeError", "UserFileNotFoundError", "FULL_TRACEBACK_HINT",
    "error_name",
]

#: the line under a shortened error
FULL_TRACEBACK_HINT = "(the full traceback: %tb verbose)"
#: IPython exception modes (``%xmode``) in which the whole traceback is shown
_FULL_MODES = ("Verbose", "Plain")


def _ipython_tb_mode() -> tuple[object | None, str]:
    """The running IPython shell's traceback formatter and its mode (``None, ""`` outside)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is there whenever this is called
        return None, ""
    shell = get_ipython()
    formatter = getattr(shell, "InteractiveTB", None)
    return formatter, str(getattr(formatter, "mode", ""))


class UserError(Exception):
    """An error the user can fix from its message (mix it in with the builtin it stands for).

    In IPython it renders as ``<name>: <message>`` and :data:`FULL_TRACEBACK_HINT`, or as the
    whole traceback in exception mode ``Verbose`` or ``Plain`` (``%tb verbose``,
    ``%xmode verbose``); ``Minimal`` shows the message line only.
    """

    #: the name shown before the message (``None``: the class's own name)
    shown_name: ClassVar[str | None] = None

    def _render_traceback_(self) -> list[str]:
        formatter, mode = _ipython_tb_mode()
        if formatter is not None and mode in _FULL_MODES:
            return formatter.structured_traceback(type(self), self, self.__traceback__)
        line = f"{error_name(self)}: {self}"
        return [line] if mode == "Minimal" else [line, FULL_TRACEBACK_HINT]

    def full_traceback(self) -> str:
        """The whole Python traceback, chained exceptions included."""
        return "".join(traceback.format_exception(type(self), self, self.__traceback__))


class UserValueError(UserError, ValueError):
    """A value the user gave that vitwidgets cannot use (shown as ``ValueError``)."""

    shown_name = "ValueError"


class UserTypeError(UserError, TypeError):
    """An argument of the wrong kind or an unknown keyword (shown as ``TypeError``)."""

    shown_name = "TypeError"


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file the user named that is not there (shown as ``FileNotFoundError``)."""

    shown_name = "FileNotFoundError"


def error_name(e: BaseException) -> str:
    """The name a user reads before an error's message: the builtin a generic
    :class:`UserError` stands for (``ValueError``), else the class's own name."""
    return getattr(e, "shown_name", None) or type(e).__name__
