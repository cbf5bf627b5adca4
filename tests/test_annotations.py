"""The head-annotation JSON store: round trip, atomic writes, refusing bad or foreign files."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest
from factories import IDENTITY as TOY_IDENTITY
from factories import toy_trace

from vitwidgets.core.annotations import (
    PRESET_TAGS,
    SCHEMA,
    SCHEMA_VERSION,
    TABLE_COLUMNS,
    AnnotationFileError,
    HeadAnnotations,
    annotation_table,
    next_free_path,
    proposal_to_tag,
)
from vitwidgets.core.metrics.tags import describe_evidence, prefix_label
from vitwidgets.core.session import Session

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


# -- a file that cannot be used, opened by the annotator (strict=False) --------------------------
CORRUPT = {
    "not JSON": (b'{"schema": "vitwidgets.head-annotations", "heads": [', "not valid JSON"),
    "wrong schema": (json.dumps({"heads": {}}).encode(), "not a vitwidgets head-annotation file"),
    "head without a layer": (
        json.dumps({"schema": SCHEMA, "schema_version": 1, "model": IDENTITY,
                    "heads": [{"head": 0, "tag": "local"}]}).encode(), "heads[0] has no 'layer'"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_a_lenient_store_opens_an_unusable_file_read_only_and_never_writes_it(tmp_path, case):
    content, reason = CORRUPT[case]
    path = tmp_path / "bad.heads.json"
    path.write_bytes(content)
    s = store(path, strict=False)
    assert s.read_only and reason in s.problem.reason and s.problem.path == path
    assert len(s) == 0
    for edit in (lambda: s.set(0, 0, tag="local"), lambda: s.add_custom_tag("mine"),
                 lambda: s.accept([{"layer": 0, "head": 0, "tag": "local"}]), s.save):
        with pytest.raises(AnnotationFileError, match="edits are off") as e:
            edit()
        assert str(path) in str(e.value) and reason in str(e.value)
    assert len(s) == 0, "a refused edit changes nothing in memory either"
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.heads.json"]


def test_save_as_moves_to_a_new_file_and_leaves_the_unusable_one_as_it_was(tmp_path):
    path = tmp_path / "bad.heads.json"
    path.write_bytes(b"{ no")
    s = store(path, strict=False)
    new = next_free_path(path)
    assert new == tmp_path / "bad.heads-1.json"
    assert s.save_as(new) == new and not s.read_only
    s.set(1, 2, tag="global", note="after the move")
    assert store(new).get(1, 2) == {**s.get(1, 2)}
    assert path.read_bytes() == b"{ no"
    assert next_free_path(path) == tmp_path / "bad.heads-2.json"
    with pytest.raises(AnnotationFileError, match="exists already"):
        s.save_as(path)
    assert path.read_bytes() == b"{ no"


def test_annotation_table_has_one_row_per_head_with_proposal_evidence_and_your_tag(tmp_path):
    s = store(tmp_path / "t.json")
    s.set(0, 1, tag="copy head", note='says "hi", twice')
    proposal = {"layer": 0, "head": 1, "tag": "offset-local", "direction": "left",
                "evidence": {"local_mass": 0.82, "offset_dy": 0.0, "offset_dx": -0.9,
                             "prefix_share": 0.05, "distance_pixels": 14.0,
                             "distance_patches": 1.75, "local_radius": 1.0}}
    rows = annotation_table(s, [proposal], prefix="CLS")
    assert len(rows) == 3 * 4 and [(r["layer"], r["head"]) for r in rows[:5]] == [
        (0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    assert all(tuple(r) == TABLE_COLUMNS for r in rows)
    r = rows[1]
    assert (r["proposed_tag"], r["tag"], r["note"]) == ("offset-local ←", "copy head",
                                                        'says "hi", twice')
    assert r["evidence"] == ("82% within 1 patch · centre 0.9 patches left · 5% on CLS · "
                             "mean distance 14 px")
    assert (r["local_mass"], r["offset_dx"], r["distance_pixels"]) == (0.82, -0.9, 14.0)
    assert (r["model"], r["weights_sha256"], r["source"]) == ("toy", "ab" * 32, "user")
    blank = rows[0]
    assert (blank["proposed_tag"], blank["evidence"], blank["tag"], blank["local_mass"]) == (
        "", "", "", None)


# -- the evidence in words ----------------------------------------------------------------------
def _evidence(**kw) -> dict:
    e = {"local_mass": 0.05, "offset_dy": 0.9, "offset_dx": -0.6, "prefix_share": 0.16,
         "distance_pixels": 105.0, "distance_patches": 6.56, "local_radius": 1.0}
    return {"evidence": {**e, **kw}}


def test_evidence_words_say_share_direction_prefix_and_distance():
    short, full = describe_evidence(_evidence(), "CLS/registers")
    assert short == ("5% within 1 patch · centre 0.9 patches down, 0.6 left · "
                     "16% on CLS/registers · mean distance 105 px")
    assert full.splitlines() == [
        "local mass: 5% of the attention falls within 1 patch of the query (query-aligned "
        "map, averaged over queries)",
        "offset: the centre of that map lies 0.9 patches down, 0.6 patches left of the query "
        "(dy +0.90, dx -0.60 patches)",
        "prefix share: 16% of the patches' attention goes to CLS/registers",
        "mean attention distance: 105 px (6.6 patches)",
    ]


def test_evidence_words_for_a_centred_head_tiny_shares_and_a_wider_radius():
    short, _ = describe_evidence(_evidence(offset_dy=0.01, offset_dx=-0.04, prefix_share=0.001,
                                           local_radius=2.0))
    assert short == "5% within 2 patches · centred on the query · <1% on CLS · mean distance 105 px"
    short, _ = describe_evidence(_evidence(offset_dy=-1.24, offset_dx=0.0))
    assert "centre 1.2 patches up ·" in short


def test_prefix_label_names_cls_registers_or_prefix_tokens():
    assert prefix_label(("cls",)) == "CLS"
    assert prefix_label(("cls", "reg1", "reg2", "reg3", "reg4")) == "CLS/registers"
    assert prefix_label(("cls", "prefix1")) == "CLS/registers"
    assert prefix_label(()) == "prefix tokens"
    assert prefix_label(("dist", "cls")) == "prefix tokens"


# -- HeadAnnotator: an unusable file, and the annotations as a table ----------------------------
@pytest.fixture
def toy_session():
    return Session(toy_trace(), identity=TOY_IDENTITY)


def _reply(widget, method, **params) -> dict:
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    widget._on_frontend_msg(widget, {"kind": "request", "id": "r", "method": method,
                                     "params": params}, [])
    return sent[-1]


def test_annotator_shows_an_unusable_file_read_only_and_moves_to_a_new_file_on_request(
    toy_session, tmp_path
):
    from vitwidgets.widgets import HeadAnnotator

    path = tmp_path / "toy.heads.json"
    path.write_bytes(b'{"schema": 3')
    a = HeadAnnotator(toy_session, path=path)
    assert a.read_only and a.status_kind == "error"
    assert a.status.startswith(f"cannot use the annotation file {path}: not valid JSON (")
    assert "left untouched and edits are off" in a.status and "toy.heads-1.json" in a.status
    reply = _reply(a, "set", layer=0, head=0, tag="local")
    assert not reply["ok"] and reply["error"].startswith("AnnotationFileError: annotation file")
    assert a.status.startswith("cannot use the annotation file"), "the problem stays shown"
    assert path.read_bytes() == b'{"schema": 3'
    assert a.save_as() == tmp_path / "toy.heads-1.json"
    assert not a.read_only and a.status_kind == "info" and a.path.endswith("toy.heads-1.json")
    assert _reply(a, "set", layer=0, head=0, tag="local")["ok"]
    assert json.loads((tmp_path / "toy.heads-1.json").read_text())["heads"][0]["tag"] == "local"
    assert path.read_bytes() == b'{"schema": 3'


def test_annotator_to_dataframe_and_to_csv_hold_one_row_per_head(toy_session, tmp_path):
    import csv

    pd = pytest.importorskip("pandas")
    from vitwidgets.widgets import HeadAnnotator

    a = HeadAnnotator(toy_session, path=tmp_path / "toy.heads.json")
    a.set_tag(1, 2, "copy head")
    a.set_note(1, 2, 'a "quoted", comma note')
    df = a.to_dataframe()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == list(TABLE_COLUMNS)
    assert len(df) == 9
    assert list(zip(df.layer, df["head"], strict=True))[:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    first = df.iloc[0]
    assert first.proposed_tag == "offset-local ←"
    assert first.evidence.startswith("100% within 1 patch · centre 0.8 patches left · 0% on CLS")
    assert first.local_mass == pytest.approx(1.0) and first.offset_dx == pytest.approx(-0.75)
    mine = df[(df.layer == 1) & (df["head"] == 2)].iloc[0]
    assert (mine.tag, mine.note, mine.source) == ("copy head", 'a "quoted", comma note', "user")
    assert (df.tag != "").sum() == 1 and set(df.model) == {"toy"}
    assert df.attrs["path"] == str(tmp_path / "toy.heads.json") and df.attrs["saved_at"]
    assert df.attrs["model"]["weights_sha256"] == "00"
    out = a.to_csv(tmp_path / "heads.csv")
    with out.open(encoding="utf-8", newline="") as f:
        read = list(csv.DictReader(f))
    assert len(read) == 9 and list(read[0]) == list(TABLE_COLUMNS)
    assert read[5]["note"] == 'a "quoted", comma note' and read[5]["tag"] == "copy head"
    assert read[0]["proposed_tag"] == "offset-local ←" and read[0]["offset_dx"] == "-0.75"
