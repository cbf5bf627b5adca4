"""What an engine raises: the engine is not installed or not reachable, or batches went
missing (a worker died and its retries ran out)."""

from __future__ import annotations

from collections.abc import Iterable

from vitwidgets.core.errors import UserError

__all__ = ["EngineError", "EngineUnavailableError", "MissingBatchesError", "spans"]


class EngineError(RuntimeError):
    """A distributed run did not finish: no partial result is returned."""


class EngineUnavailableError(UserError, ImportError):
    """The engine's package is not installed, or its cluster cannot be reached (the message
    says which, and what to install or start)."""


class MissingBatchesError(EngineError):
    """Batches never came back from the workers (``missing``: their indices, in order)."""

    def __init__(self, message: str, missing: list[int]) -> None:
        super().__init__(message)
        self.missing = list(missing)


def spans(indices: Iterable[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"`` (sorted, consecutive runs joined)."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(indices):
        if run and i != run[-1] + 1:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(i)
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)
