"""HeadAnnotator: a table of heads with proposed tags and evidence, the person's tag and note,
saved atomically to a JSON file after every edit."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import traitlets

from vitwidgets.core.annotations import (
    TABLE_COLUMNS,
    HeadAnnotations,
    annotation_table,
    next_free_path,
    proposal_to_tag,
)
from vitwidgets.core.errors import UserError, error_name
from vitwidgets.core.indexing import block_index, check_head
from vitwidgets.core.metrics.tags import describe_evidence, prefix_label
from vitwidgets.core.session import Session

from ._base import CommandWidget, bundle, command, trait_check, widget_session
from ._progress import watch_metrics


def default_annotation_path(model_name: str) -> Path:
    """``./<model name>.heads.json`` (name made file-safe) in the working directory."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("._") or "model"
    return Path.cwd() / f"{safe}.heads.json"


class PandasMissingError(UserError, ImportError):
    """``HeadAnnotator.to_dataframe`` without pandas installed."""


class HeadAnnotator(CommandWidget):
    """Tag every head of a ViT, starting from the tags proposed by its attention statistics.

    Args:
        model: a ``ViTModel`` (or a :class:`Session`, sharing its trace with other widgets).
        images: the images whose attention the proposals come from (not with a Session).
        path: the annotation JSON file (default ``./<model name>.heads.json``). Read when it
            exists. A file that cannot be used (not JSON, wrong schema, another model) opens
            read-only: the status line says what is wrong, the file is never written, and
            edits are off until you choose another file (:meth:`save_as`).
        autosave: save after every edit (atomic write).
        **options: initial trait values (``layer``, ``head``, ``filter_tag``); an unknown
            keyword raises ``TypeError`` listing the valid ones.

    Traits:
        layer, head: the selected head (clicking a row sets them; link them to other views).
        filter_tag: show heads with this tag (yours, or else the proposed one); ``""`` = all,
            ``"__untagged__"`` = heads you have not tagged.
        annotations: ``{"layer:head": {"tag", "note", "source", "updated_at"}}`` (read-only
            mirror of the file; change it with :meth:`set_tag`, :meth:`set_note`,
            :meth:`accept`).
    """

    _bundle_name = "annotator"
    _esm = bundle(_bundle_name)

    session = traitlets.Instance(Session).tag(derived=True)
    num_layers = traitlets.Int(1).tag(sync=True, derived=True)
    num_heads = traitlets.Int(1).tag(sync=True, derived=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True, derived=True)
    annotations = traitlets.Dict().tag(sync=True, derived=True)
    tags = traitlets.List(traitlets.Unicode()).tag(sync=True, derived=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    filter_tag = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True, derived=True)
    status_kind = traitlets.Unicode("info").tag(sync=True, derived=True)
    path = traitlets.Unicode("").tag(sync=True, derived=True)
    #: the annotation file could not be used: edits are off (see ``status``)
    read_only = traitlets.Bool(False).tag(sync=True, derived=True)

    def __init__(
        self,
        model: Any,
        images: Any = None,
        *,
        path: str | os.PathLike | None = None,
        autosave: bool = True,
        **options: Any,
    ):
        session = widget_session(type(self), model, images, options)
        file = Path(path) if path is not None else default_annotation_path(session.name)
        self.store = HeadAnnotations(
            file, session.identity, num_layers=session.num_layers,
            num_heads=session.num_heads, autosave=autosave, strict=False,
        )
        #: proposed tags per head (empty until every image's metrics are in)
        self.proposals: list[dict] = []
        #: the unusable file that save_as moved away from (named in the status line)
        self._left_alone: Path | None = None
        super().__init__(
            session=session, num_layers=session.num_layers, num_heads=session.num_heads,
            rows=self._rows_of(session, []), path=str(self.store.path), **options,
        )
        self._sync_from_store()
        watch_metrics(session, self._metrics_changed)

    @staticmethod
    def _rows_of(session: Session, proposals: list[dict]) -> list[dict]:
        """One table row per head; without proposals (metrics still filling in) the proposed
        tag, rule and evidence are empty. ``evidence`` is the short plain-word text,
        ``evidence_full`` the sentences of the tooltip."""
        by_head = {(p["layer"], p["head"]): p for p in proposals}
        prefix = prefix_label(session.prefix_names)
        rows = []
        for layer in range(session.num_layers):
            for head in range(session.num_heads):
                p = by_head.get((layer, head))
                short, full = describe_evidence(p, prefix) if p else ("", "")
                rows.append({
                    "layer": layer, "head": head,
                    "proposed": proposal_to_tag(p) if p else "",
                    "direction": p.get("direction") if p else None,
                    "rule": p["rule"] if p else "",
                    "evidence": short, "evidence_full": full,
                })
        return rows

    def _metrics_changed(self) -> None:
        if self.session.metrics_ready(None) and not self.proposals:
            self.proposals = self.session.proposals()
            self.rows = self._rows_of(self.session, self.proposals)
        self._sync_from_store()

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return trait_check(block_index, proposal["value"], self.num_layers,
                               owner=self.session.name, negative=False)

    @traitlets.validate("head")
    def _valid_head(self, proposal):
        return trait_check(check_head, proposal["value"], self.num_heads)

    # -- Python API -------------------------------------------------------------------------
    def set_tag(self, layer: int, head: int, tag: str) -> None:
        """Tag a head (``""`` clears it); saved at once when autosaving."""
        self._edit(lambda: self.store.set(layer, head, tag=tag))

    def set_note(self, layer: int, head: int, note: str) -> None:
        """Attach a free-text note to a head (stored and shown literally)."""
        self._edit(lambda: self.store.set(layer, head, note=note))

    def accept(self, heads: list[tuple[int, int]] | None = None, *, overwrite: bool = False) -> int:
        """Take the proposed tags of ``heads`` (all when ``None``). Heads you tagged keep their
        tag unless ``overwrite``. Returns how many changed."""
        wanted = None if heads is None else {(int(a), int(b)) for a, b in heads}
        chosen = [p for p in self.proposals if wanted is None or (p["layer"], p["head"]) in wanted]
        return self._edit(lambda: self.store.accept(chosen, overwrite=overwrite))

    def save(self) -> Path:
        """Save now (needed only with ``autosave=False``)."""
        return self._edit(self.store.save)

    def save_as(self, path: str | os.PathLike | None = None) -> Path:
        """Annotate into the new file ``path`` from now on (it must not exist; default: the
        first free ``<name>-1.json``, ``<name>-2.json``, ... beside the current file). Turns
        edits back on after a file that could not be used; that file stays as it was."""
        target = Path(path) if path is not None else next_free_path(self.store.path)
        unusable = self.store.path if self.store.read_only else None
        out = self._edit(lambda: self.store.save_as(target))
        self._left_alone = unusable
        self.path = str(self.store.path)
        self._sync_from_store()
        return out

    # -- as a table -------------------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        """One dict per head (layer-major): layer, head, proposed tag, its evidence in words
        and numbers, your tag, note, source, updated_at, the model's name and weight hash
        (columns: :data:`vitwidgets.core.annotations.TABLE_COLUMNS`)."""
        prefix = prefix_label(self.session.prefix_names)
        return annotation_table(self.store, self.proposals, prefix=prefix)

    def to_dataframe(self):
        """:meth:`table` as a ``pandas.DataFrame`` (one row per head); ``df.attrs`` holds the
        annotation file's path, ``saved_at`` and the model identity. Needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise PandasMissingError(
                "HeadAnnotator.to_dataframe() needs pandas (pip install pandas); "
                "HeadAnnotator.to_csv(path) and .table() work without it"
            ) from None
        df = pd.DataFrame(self.table(), columns=list(TABLE_COLUMNS))
        df.attrs.update(path=str(self.store.path), saved_at=self.store.saved_at,
                        model=dict(self.store.identity))
        return df

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`table` to ``path`` as CSV (UTF-8, a header row, one row per head)."""
        import csv

        path = Path(path).expanduser()
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(TABLE_COLUMNS))
            writer.writeheader()
            writer.writerows(self.table())
        return path

    def _edit(self, fn):
        try:
            out = fn()
            self.status_kind = "info"
        except Exception as e:
            self.status_kind, self.status = "error", f"{error_name(e)}: {e}"
            raise
        finally:
            self._sync_from_store()
        return out

    def _sync_from_store(self) -> None:
        self.annotations = {f"{l}:{h}": entry for (l, h), entry in self.store.items()}
        self.tags = self.store.tags
        self.read_only = self.store.read_only
        if self.store.problem is not None:
            self.status_kind, self.status = "error", self._problem_text()
        elif self.status_kind != "error":
            saved, where = self.store.saved_at, self.store.path
            done = f"saved {saved} to {where}" if saved else f"will save to {where}"
            n = len(self.store)
            self.status = f"{n} head{'' if n == 1 else 's'} annotated · {done}"
            if self._left_alone is not None:
                self.status += f" · {self._left_alone} (unusable) was left as it was"
            got, total = self.session.metrics_progress()
            if got < total:
                self.status += f" · proposed tags once all metrics are in ({got} of {total} images)"

    def _problem_text(self) -> str:
        free = next_free_path(self.store.path)
        return (
            f"cannot use the annotation file {self.store.path.absolute()}: "
            f"{self.store.problem.reason}. "
            f"It was left untouched and edits are off so that nothing overwrites it. Fix or "
            f"move it and open the annotator again, or annotate into a new file: call "
            f".save_as() on this HeadAnnotator (a dashboard's .annotator), which writes "
            f"{free.name} beside it"
        )

    # -- commands from the frontend -----------------------------------------------------------
    def _ok(self) -> tuple[dict, list]:
        self.status_kind = "info"
        self._sync_from_store()
        return {"status": self.status}, []

    @command("set")
    def _set_command(self, layer: int, head: int, tag: str | None = None, note: str | None = None):
        """Set a head's tag and/or note from the table (``None`` leaves it)."""
        self._edit(lambda: self.store.set(layer, head, tag=tag, note=note))
        return self._ok()

    @command("accept")
    def _accept_command(self, heads: list, overwrite: bool = False):
        """Take the proposed tags of ``heads`` (``[[layer, head], ...]``)."""
        self.accept([tuple(x) for x in heads], overwrite=overwrite)
        return self._ok()

    @command("add_tag")
    def _add_tag_command(self, tag: str):
        """Offer a custom tag in every row's choice."""
        self._edit(lambda: self.store.add_custom_tag(tag))
        return self._ok()

