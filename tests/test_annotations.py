"""The head-annotation JSON store: round trip, atomic writes, refusing bad or foreign files."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from vitwidgets.core.annotations import (
    PRESET_TAGS,
    SCHEMA,
    SCHEMA_VERSION,
    AnnotationFileError,
    HeadAnnotations,
    proposal_to_tag,
)

IDENTITY = {"name": "toy", "architecture": "vit", "depth": 3, "num_heads": 4, "patch_size": 8,
            "num_prefix": 1, "weights_sha256": "ab" * 32}
XSS = '<img src=x onerror="alert(1)">'


def store(path, **kw) -> HeadAnnotations:
    return HeadAnnotations(path, IDENTITY, num_layers=3, num_heads=4, **kw)


def test_round_trip_with_schema_identity_and_timestamp(tmp_path):
    path = tmp_path / "toy.heads.json"
    s = store(path)
    assert not path.exists(), "nothing is written before the first edit"
    s.set(0, 1, tag="offset-local ←", note="looks at the left neighbour")
    s.set(2, 3, tag="copy head", note=XSS)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA and doc["schema_version"] == SCHEMA_VERSION
    assert doc["model"] == IDENTITY
    assert datetime.fromisoformat(doc["saved_at"]).tzinfo is not None
    assert doc["custom_tags"] == ["copy head"]
    again = store(path)
    assert again.get(0, 1)["tag"] == "offset-local ←"
    assert again.get(2, 3)["note"] == XSS, "user text is stored literally"
    assert again.tags == [*PRESET_TAGS, "copy head"]
    assert [k for k, _ in again.items()] == [(0, 1), (2, 3)]
    # clearing tag and note removes the head
    again.set(0, 1, tag="", note="")
    assert len(store(path)) == 1


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    s = store(path)
    s.set(1, 1, tag="local")
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        s.set(1, 2, tag="global")
    assert path.read_bytes() == before, "the old file is intact after a failed write"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"], "temporary file removed"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{ not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (json.dumps({"hello": 1}).encode(), "not a vitwidgets head-annotation file"),
        (json.dumps({"schema": SCHEMA, "schema_version": 99, "model": IDENTITY,
                     "heads": []}).encode(), "newer than this vitwidgets"),
        (json.dumps({"schema": SCHEMA, "schema_version": 1, "model": IDENTITY,
                     "heads": [{"layer": 7, "head": 0}]}).encode(), r"heads\[0\] is invalid"),
        (json.dumps({"schema": SCHEMA, "schema_version": 1, "model": IDENTITY,
                     "heads": [{"layer": 0, "head": 0, "tag": 5}]}).encode(), "heads"),
    ],
)
def test_corrupt_files_raise_a_clear_error_and_are_never_overwritten(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(AnnotationFileError, match=message) as e:
        store(path)
    assert str(path) in str(e.value) and "left untouched" in str(e.value)
    assert path.read_bytes() == content


def test_a_file_for_another_model_is_refused(tmp_path):
    path = tmp_path / "other.json"
    store(path).set(0, 0, tag="local")
    other = dict(IDENTITY, weights_sha256="cd" * 32)
    before = path.read_bytes()
    with pytest.raises(AnnotationFileError, match="annotates another model.*weights_sha256"):
        HeadAnnotations(path, other, num_layers=3, num_heads=4)
    assert path.read_bytes() == before


def test_a_file_changed_on_disk_is_not_overwritten(tmp_path):
    path = tmp_path / "shared.json"
    mine = store(path)
    mine.set(0, 0, tag="local")
    theirs = store(path)
    theirs.set(1, 1, tag="global")  # another kernel saved in between
    snapshot = path.read_bytes()
    with pytest.raises(AnnotationFileError, match="changed on disk"):
        mine.set(2, 2, tag="axial")
    assert path.read_bytes() == snapshot


def test_without_autosave_nothing_is_written_until_save(tmp_path):
    path = tmp_path / "manual.json"
    s = store(path, autosave=False)
    s.set(0, 0, note="later")
    assert not path.exists()
    s.save()
    assert store(path).get(0, 0)["note"] == "later"


def test_bad_edits_are_rejected(tmp_path):
    s = store(tmp_path / "x.json")
    with pytest.raises(ValueError, match=r"no head \(3, 0\)"):
        s.set(3, 0, tag="local")
    with pytest.raises(TypeError):
        s.set(0, 0, tag=5)
    with pytest.raises(ValueError, match="empty"):
        s.add_custom_tag("  ")
    with pytest.raises(ValueError, match="longer than"):
        s.set(0, 0, note="x" * 20_000)


def test_accepting_proposals(tmp_path):
    path = tmp_path / "p.json"
    s = store(path)
    s.set(0, 1, tag="mine")
    proposals = [
        {"layer": 0, "head": 0, "tag": "offset-local", "direction": "left"},
        {"layer": 0, "head": 1, "tag": "global", "direction": None},
        {"layer": 1, "head": 0, "tag": "offset-local", "direction": "up-right"},
        {"layer": 1, "head": 1, "tag": "axial", "direction": "horizontal"},
    ]
    assert s.accept(proposals) == 3
    assert s.get(0, 0)["tag"] == "offset-local ←"
    assert s.get(0, 0)["source"] == "accepted proposal"
    assert s.get(0, 1)["tag"] == "mine", "your own tag is kept"
    assert s.get(1, 0)["tag"] == "offset-local ↗"
    assert s.get(1, 1)["tag"] == "axial"
    assert s.accept(proposals, overwrite=True) == 4
    assert store(path).get(0, 1)["tag"] == "global"
    assert proposal_to_tag({"tag": "offset-local", "direction": "down"}) == "offset-local ↓"
    assert proposal_to_tag({"tag": "prefix-focused", "direction": None}) == "prefix-focused"
