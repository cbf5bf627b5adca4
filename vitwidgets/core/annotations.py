"""Head annotations: a person's tag and note per attention head, kept in a JSON file.

The file records the schema version, the identity of the model it annotates (name,
architecture facts and a hash of the weights) and when it was saved. Every change can be saved
at once (autosave) with an atomic write (a temporary file in the same folder, flushed, then
renamed over the old file), so a crash or kernel restart never leaves half a file and loses at
most the edit in flight. A file that cannot be read, that was written for another model, or that
changed on disk since it was read is never overwritten: :class:`AnnotationFileError` says why.
Opened with ``strict=False`` (as the annotator opens it), such a file leaves the store empty and
read-only, with :attr:`HeadAnnotations.problem` saying what is wrong, until the person chooses
another file (:meth:`HeadAnnotations.save_as`).

File layout (``schema_version`` 1)::

    {
      "schema": "vitwidgets.head-annotations",
      "schema_version": 1,
      "model": {"name": ..., "num_layers": 12, "num_heads": 6, "weights_sha256": ..., ...},
      "saved_at": "2026-11-21T06:00:00+00:00",
      "custom_tags": ["copy-suppression"],
      "heads": [{"layer": 0, "head": 3, "tag": "offset-local ←", "note": "...",
                 "source": "user" | "accepted proposal", "updated_at": "..."}]
    }
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import UserError
from .indexing import block_index, check_head
from .vocab import PRESET_TAGS, tag_with_direction

SCHEMA = "vitwidgets.head-annotations"
SCHEMA_VERSION = 1

#: identity fields compared between a file and the model (others are informative only)
IDENTITY_KEYS = ("name", "architecture", "num_layers", "num_heads", "patch_size", "num_prefix",
                 "weights_sha256")
#: identity fields under their earlier names (files written before the rename still compare)
_RENAMED_KEYS = {"depth": "num_layers"}
MAX_TEXT = 10_000


class AnnotationFileError(UserError, ValueError):
    """An annotation file that cannot be used (corrupt, another model, changed on disk).

    Attributes: ``path`` (the file) and ``reason`` (what is wrong with it, one clause).
    """

    def __init__(self, path: Path, reason: str, advice: str = ""):
        self.path, self.reason = path, reason
        advice = advice or "It was left untouched; fix or move it, or pass another path"
        super().__init__(f"annotation file {path}: {reason}. {advice}")


def next_free_path(path: str | os.PathLike) -> Path:
    """``<stem>-1<suffix>``, ``<stem>-2<suffix>``, ... beside ``path``: the first that does
    not exist (where a person's edits go when ``path`` cannot be used)."""
    path = Path(path)
    n = 1
    while (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists():
        n += 1
    return candidate


def proposal_to_tag(proposal: dict) -> str:
    """Preset tag of a proposal from ``metrics.propose_head_tags``: ``offset-local`` with
    direction ``left`` becomes ``"offset-local ←"``; other tags keep their name."""
    return tag_with_direction(str(proposal.get("tag", "")), proposal.get("direction"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


class HeadAnnotations:
    """Tags and notes per head ``(layer, head)`` of one model, stored in ``path``.

    Args:
        path: the JSON file. Read when it exists (errors raise :class:`AnnotationFileError`),
            created on the first save otherwise.
        identity: the model's identity (``ViTModel.identity``); must match the file's.
        num_layers, num_heads: the model's shape, to reject heads that do not exist.
        autosave: save after every change.
        strict: raise :class:`AnnotationFileError` for a file that cannot be used. With
            ``strict=False`` the store opens empty and read-only instead, :attr:`problem`
            says why, and the file is never written; :meth:`save_as` moves to another file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        identity: dict[str, Any],
        *,
        num_layers: int,
        num_heads: int,
        autosave: bool = True,
        strict: bool = True,
    ):
        self.path = Path(path).expanduser()
        self.identity = dict(identity)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.autosave = autosave
        self.custom_tags: list[str] = []
        self.saved_at: str | None = None
        self._heads: dict[tuple[int, int], dict[str, str]] = {}
        self._disk_digest: str | None = None  # digest of the file as we last read/wrote it
        #: what is wrong with the file (``None`` when it was read or does not exist yet);
        #: while set, edits raise and nothing is written
        self.problem: AnnotationFileError | None = None
        if self.path.exists():
            try:
                self._load()
            except AnnotationFileError as e:
                if strict:
                    raise
                self.problem = e

    # -- reading ----------------------------------------------------------------------------
    def _fail(self, why: str) -> AnnotationFileError:
        return AnnotationFileError(self.path, why)

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError as e:
            raise self._fail(f"cannot be read ({e.strerror or e})") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise self._fail(f"not valid JSON ({e})") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise self._fail(f"not a vitwidgets head-annotation file (no \"schema\": {SCHEMA!r})")
        version = doc.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise self._fail(f"bad schema_version {version!r}")
        if version > SCHEMA_VERSION:
            raise self._fail(
                f"schema_version {version} is newer than this vitwidgets reads ({SCHEMA_VERSION})"
            )
        stored = doc.get("model")
        if not isinstance(stored, dict):
            raise self._fail("no model identity")
        stored = {_RENAMED_KEYS.get(k, k): v for k, v in stored.items()}
        diffs = [
            f"{k}: file {stored[k]!r} vs model {self.identity[k]!r}"
            for k in IDENTITY_KEYS
            if k in stored and k in self.identity and stored[k] != self.identity[k]
        ]
        if diffs:
            raise self._fail("it annotates another model (" + "; ".join(diffs) + ")")
        heads: dict[tuple[int, int], dict[str, str]] = {}
        entries = doc.get("heads")
        if not isinstance(entries, list):
            raise self._fail('"heads" is not a list')
        for i, e in enumerate(entries):
            try:
                layer, head = self._check_head(e["layer"], e["head"])
                tag, note = self._check_text(e.get("tag", "")), self._check_text(e.get("note", ""))
            except KeyError as err:
                raise self._fail(f"heads[{i}] has no {err.args[0]!r}") from None
            except (TypeError, ValueError) as err:
                raise self._fail(f"heads[{i}] is invalid ({err})") from None
            heads[(layer, head)] = {
                "tag": tag,
                "note": note,
                "source": str(e.get("source", "user")),
                "updated_at": str(e.get("updated_at", "")),
            }
        custom = doc.get("custom_tags", [])
        if not isinstance(custom, list) or not all(isinstance(t, str) for t in custom):
            raise self._fail('"custom_tags" is not a list of strings')
        self._heads = heads
        self.custom_tags = list(custom)
        self.saved_at = doc.get("saved_at")
        self._disk_digest = _digest(raw)

    # -- checks -----------------------------------------------------------------------------
    def _check_head(self, layer: Any, head: Any) -> tuple[int, int]:
        try:
            return (block_index(layer, self.num_layers, negative=False),
                    check_head(head, self.num_heads))
        except TypeError:
            raise TypeError("layer and head must be integers") from None
        except ValueError:
            raise ValueError(
                f"no head ({layer}, {head}): the model has layers 0..{self.num_layers - 1} and "
                f"heads 0..{self.num_heads - 1}"
            ) from None

    @staticmethod
    def _check_text(text: Any) -> str:
        if not isinstance(text, str):
            raise TypeError(f"expected text, got {type(text).__name__}")
        if len(text) > MAX_TEXT:
            raise ValueError(f"text longer than {MAX_TEXT} characters")
        return text

    # -- access -----------------------------------------------------------------------------
    def get(self, layer: int, head: int) -> dict[str, str]:
        """``{"tag", "note", "source", "updated_at"}`` of a head (empty strings if none)."""
        key = self._check_head(layer, head)
        return dict(self._heads.get(key, {"tag": "", "note": "", "source": "", "updated_at": ""}))

    def items(self) -> list[tuple[tuple[int, int], dict[str, str]]]:
        """Annotated heads, sorted by (layer, head)."""
        return [(k, dict(v)) for k, v in sorted(self._heads.items())]

    def __len__(self) -> int:
        return len(self._heads)

    def set(
        self, layer: int, head: int, *, tag: str | None = None, note: str | None = None,
        source: str = "user",
    ) -> dict[str, str]:
        """Set a head's tag and/or note (``None`` leaves it); saves when ``autosave``."""
        self._check_writable()
        key = self._check_head(layer, head)
        entry = dict(self._heads.get(key, {"tag": "", "note": "", "source": source}))
        if tag is not None:
            entry["tag"] = self._check_text(tag).strip()
            entry["source"] = source
        if note is not None:
            entry["note"] = self._check_text(note)
        entry["updated_at"] = _now()
        if entry["tag"] or entry["note"]:
            self._heads[key] = entry
        else:
            self._heads.pop(key, None)
        if entry["tag"] and entry["tag"] not in self.tags:
            self.custom_tags.append(entry["tag"])
        self._changed()
        return dict(entry)

    def accept(self, proposals: list[dict], *, overwrite: bool = False) -> int:
        """Take the proposed tags (``metrics.propose_head_tags`` entries) as annotations.

        Heads that already have a tag keep it unless ``overwrite``. Returns how many changed.
        Saves once at the end when ``autosave``.
        """
        self._check_writable()
        changed = 0
        autosave, self.autosave = self.autosave, False
        try:
            for p in proposals:
                layer, head = self._check_head(p["layer"], p["head"])
                if self._heads.get((layer, head), {}).get("tag") and not overwrite:
                    continue
                self.set(layer, head, tag=proposal_to_tag(p), source="accepted proposal")
                changed += 1
        finally:
            self.autosave = autosave
        if changed:
            self._changed()
        return changed

    def add_custom_tag(self, tag: str) -> None:
        """Offer ``tag`` beside the preset tags (saved with the file)."""
        self._check_writable()
        tag = self._check_text(tag).strip()
        if not tag:
            raise ValueError("a tag cannot be empty")
        if tag not in PRESET_TAGS and tag not in self.custom_tags:
            self.custom_tags.append(tag)
            self._changed()

    @property
    def tags(self) -> list[str]:
        """Preset tags, then custom ones."""
        return [*PRESET_TAGS, *self.custom_tags]

    # -- writing ----------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        """True while :attr:`problem` is set: edits raise and the file is not written."""
        return self.problem is not None

    def _check_writable(self) -> None:
        if self.problem is not None:
            raise AnnotationFileError(
                self.path, self.problem.reason,
                "It was left untouched and edits are off so that nothing overwrites it: fix "
                "or move it and open it again, or save to another file (save_as)",
            )

    def save_as(self, path: str | os.PathLike) -> Path:
        """Use ``path`` from now on and save there (a file that does not exist yet: nothing
        is overwritten). Ends the read-only state of a store whose file could not be used;
        the unusable file stays as it was."""
        new = Path(path).expanduser()
        if new.exists():
            raise AnnotationFileError(new, "exists already", "Choose a path that does not exist")
        self.path, self.problem, self._disk_digest = new, None, None
        return self.save()

    def _changed(self) -> None:
        if self.autosave:
            self.save()

    def to_dict(self) -> dict[str, Any]:
        """The file's content (a new ``saved_at`` each call)."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "model": self.identity,
            "saved_at": _now(),
            "custom_tags": list(self.custom_tags),
            "heads": [
                {"layer": layer, "head": head, **entry}
                for (layer, head), entry in sorted(self._heads.items())
            ],
        }

    def save(self) -> Path:
        """Write the file atomically (temporary file in the same folder, fsync, rename).

        Raises :class:`AnnotationFileError` when the file changed on disk since it was read
        or last written here (another kernel or a person edited it), or could not be used
        when it was opened: it is not overwritten.
        """
        self._check_writable()
        current = self.path.read_bytes() if self.path.exists() else None
        if _digest(current) != self._disk_digest:
            raise self._fail(
                "it changed on disk since it was read" if current is not None
                else "it was deleted since it was read"
            )
        doc = self.to_dict()
        data = (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._disk_digest = _digest(data)
        self.saved_at = doc["saved_at"]
        return self.path


# -- as a table ---------------------------------------------------------------------------------
#: columns of :func:`annotation_table`, in order
TABLE_COLUMNS = (
    "layer", "head", "proposed_tag", "evidence", "tag", "note", "source", "updated_at",
    "local_mass", "offset_dy", "offset_dx", "prefix_share", "distance_pixels",
    "model", "weights_sha256",
)
_EVIDENCE_NUMBERS = ("local_mass", "offset_dy", "offset_dx", "prefix_share", "distance_pixels")


def annotation_table(
    store: HeadAnnotations, proposals: Sequence[dict] = (), *, prefix: str = "CLS"
) -> list[dict[str, Any]]:
    """One row per head of the model (layer-major), with :data:`TABLE_COLUMNS`.

    ``proposed_tag`` and ``evidence`` (plain words, :func:`describe_evidence`) and the evidence
    numbers (shares in [0, 1], offsets in patches with dy > 0 = down, distance in pixels) come
    from ``proposals`` (``metrics.propose_head_tags`` entries; empty strings and ``None`` for a
    head without one); ``tag``, ``note``, ``source`` and ``updated_at`` from ``store`` (empty
    strings for a head not annotated); ``model`` and ``weights_sha256`` from its identity.
    """
    from .metrics.tags import describe_evidence

    by_head = {(int(p["layer"]), int(p["head"])): p for p in proposals}
    model = store.identity.get("name", "")
    sha = store.identity.get("weights_sha256", "")
    rows = []
    for layer in range(store.num_layers):
        for head in range(store.num_heads):
            p = by_head.get((layer, head))
            entry = store.get(layer, head)
            evidence = (p or {}).get("evidence", {})
            rows.append({
                "layer": layer, "head": head,
                "proposed_tag": proposal_to_tag(p) if p else "",
                "evidence": describe_evidence(p, prefix)[0] if p else "",
                "tag": entry["tag"], "note": entry["note"], "source": entry["source"],
                "updated_at": entry["updated_at"],
                **{k: evidence.get(k) for k in _EVIDENCE_NUMBERS},
                "model": model, "weights_sha256": sha,
            })  # fmt: skip
    return rows
