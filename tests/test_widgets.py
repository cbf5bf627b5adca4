"""Widget state, linking, request/reply (errors included), XSS-safety and payload size, without
a browser (the frontend is tested by `npm test` and tests/browser)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import traitlets
from factories import IDENTITY, make_trace, toy_trace

import vitwidgets as vw
from vitwidgets.core.annotations import AnnotationFileError
from vitwidgets.core.session import Session
from vitwidgets.widgets import AttentionExplorer, HeadAnnotator, LayerMetrics, _base, explore
from vitwidgets.widgets._wire import synced_bytes

XSS = '<img src=x onerror="alert(1)">'


class Outbox:
    """Captures what a widget sends to the frontend."""

    def __init__(self, widget):
        self.messages: list[tuple[dict, list]] = []
        widget.send = lambda content, buffers=None: self.messages.append((content, buffers or []))

    @property
    def last(self):
        return self.messages[-1]


def request(widget, method, rid="r1", **params):
    """Deliver a frontend request to the widget as the comm would; return (reply, buffers)."""
    out = Outbox(widget)
    widget._on_frontend_msg(widget, {"kind": "request", "id": rid, "method": method,
                                     "params": params}, [])
    return out.last if out.messages else (None, [])


@pytest.fixture
def session():
    return Session(toy_trace(), identity=IDENTITY)


# -- AttentionExplorer ---------------------------------------------------------------------
def test_explorer_state_comes_from_the_session(session):
    w = AttentionExplorer(session, layer=1, mode="column")
    assert (w.num_layers, w.num_heads, w.grid, w.patch_size) == (3, 3, [3, 4], 8)
    assert w.prefix_names == ["cls"] and w.num_images == 2 and w.model_name == "toy"
    assert (w.layer, w.mode, w.query, w.head) == (1, "column", -1, 0)
    assert w._image.startswith(b"\x89PNG") and len(w._thumbnails) == 2
    first = w._image
    w.image_index = 1
    assert w._image != first or np.array_equal(session.image_rgb(0), session.image_rgb(1))


@pytest.mark.parametrize("name, value", [("layer", 3), ("layer", -1), ("head", 3),
                                         ("query", 13), ("image_index", 2), ("mode", "bogus")])
def test_explorer_rejects_selections_that_do_not_exist(session, name, value):
    w = AttentionExplorer(session)
    with pytest.raises(traitlets.TraitError):
        setattr(w, name, value)


def test_layer_data_reply_carries_float16_attention(session):
    w = AttentionExplorer(session)
    reply, buffers = request(w, "layer_data", image=1, layer=2, mode="row",
                             include=["attention"])
    assert reply["ok"] and reply["id"] == "r1"
    assert reply["result"]["attention_shape"] == [3, 13, 13]
    a = np.frombuffer(buffers[0], dtype=np.float16).reshape(3, 13, 13)
    np.testing.assert_allclose(a, session.trace.attn[2, 1].numpy(), atol=1e-3)
    reply, buffers = request(w, "layer_data", image=0, layer=1, mode="rollout",
                             include=["attention", "rollout"])
    assert reply["result"]["extra_mode"] == "rollout" and reply["result"]["extra_shape"] == [13, 13]
    assert [len(b) for b in buffers] == [3 * 13 * 13 * 2, 13 * 13 * 2]
    reply, buffers = request(w, "layer_data", image=0, layer=0, mode="aligned", include=["aligned"])
    assert reply["result"]["attention_shape"] is None
    assert reply["result"]["extra_shape"] == [3, 5, 7] and len(buffers) == 1


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("layer_data", {"image": 0, "layer": 99}, r"layer 99 out of range: toy has 3 blocks"),
        ("layer_data", {"image": 7, "layer": 0}, r"image 7 out of range"),
        ("layer_data", {"image": 0, "layer": 0, "mode": "diagonal"}, "unknown mode"),
        ("layer_data", {"image": 0, "layer": 0, "include": ["tokens"]}, "unknown parts"),
        ("layer_data", {"image": 0}, "TypeError"),
        ("no_such_method", {}, "unknown request"),
    ],
)
def test_bad_requests_get_an_error_reply(session, method, params, message):
    w = AttentionExplorer(session)
    reply, buffers = request(w, method, rid="bad", **params)
    assert reply == {"kind": "reply", "id": "bad", "ok": False, "error": reply["error"]}
    assert buffers == []
    assert re.search(message, reply["error"])
    assert w.last_error == reply["error"]
    request(w, "layer_data", image=0, layer=0)
    assert w.last_error == ""


def test_only_requests_are_answered_and_each_gets_exactly_one_reply(session):
    """The kernel has no cancel: the browser drops requests it gave up on (rpc.js)."""
    w = AttentionExplorer(session)
    out = Outbox(w)
    w._on_frontend_msg(w, {"kind": "cancel", "id": "c1"}, [])
    w._on_frontend_msg(w, "not a dict", [])
    assert out.messages == []
    w._on_frontend_msg(w, {"kind": "request", "id": "c1", "method": "layer_data",
                           "params": {"image": 0, "layer": 0}}, [])
    assert [m["id"] for m, _ in out.messages] == ["c1"] and out.last[0]["ok"]


def test_layer_data_describes_every_buffer_with_name_shape_and_dtype(session):
    w = AttentionExplorer(session)
    reply, buffers = request(w, "layer_data", image=0, layer=-1, mode="aligned",
                             include=["aligned", "attention"])
    arrays = reply["result"]["arrays"]
    assert arrays == [{"name": "attention", "shape": [3, 13, 13], "dtype": "float16"},
                      {"name": "aligned", "shape": [3, 5, 7], "dtype": "float16"}]
    assert reply["result"]["layer"] == 2, "-1 is the last block"
    assert [len(b) for b in buffers] == [3 * 13 * 13 * 2, 3 * 5 * 7 * 2]
    reply, _ = request(w, "layer_data", image=0, layer=0, include=["rollout", "aligned"])
    assert not reply["ok"] and "not both" in reply["error"]


def test_commands_are_collected_from_the_class():
    assert AttentionExplorer._commands == {"layer_data": "layer_data", "rows": "rows"}
    assert set(HeadAnnotator._commands) == {"set", "accept", "add_tag"}


@pytest.mark.parametrize("make", [
    lambda s: AttentionExplorer(s, colourmap="magma"),
    lambda s: explore(s, colourmap="magma"),
    lambda s: LayerMetrics(s, colourmap="magma"),
    lambda s: HeadAnnotator(s, colourmap="magma"),
])
def test_a_typo_in_a_keyword_is_rejected_with_the_valid_ones(session, make, tmp_path,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'colourmap'.*valid: "):
        make(session)


def test_unknown_explorer_keyword_suggests_the_close_option(session):
    with pytest.raises(TypeError, match=r"did you mean 'colormap'\?.*head, .*layer"):
        AttentionExplorer(session, colourmap="magma")


def test_link_keeps_selections_in_step_and_can_be_undone(session, tmp_path):
    a, b = AttentionExplorer(session), AttentionExplorer(session)
    links = vw.link(a, b)
    a.layer, a.head, b.image_index = 2, 1, 1
    assert (b.layer, b.head, a.image_index) == (2, 1, 1)
    for lk in links:
        lk.unlink()
    a.layer = 0
    assert b.layer == 2
    with pytest.raises(ValueError, match="at least two"):
        vw.link(a)



def test_payload_to_open_the_explorer_on_vit_b16_is_under_1_80_of_bertviz_json(capsys):
    """ViT-B/16 at 224 px: 12 layers x 12 heads x 197 tokens, one photo-like image."""
    pytest.importorskip("skimage")
    from skimage.data import chelsea

    torch.manual_seed(0)
    L, H, gh, gw, p = 12, 12, 14, 14, 16
    n = 1 + gh * gw
    attn = torch.randn(L, 1, H, n, n).softmax(-1)
    img = torch.from_numpy(chelsea()[:224, 100:324].copy()).permute(2, 0, 1).float() / 255
    trace = make_trace(attn, (gh, gw), 1, p, pixels=((img - 0.5) / 0.5)[None])
    w = AttentionExplorer(Session(trace, identity={"name": "vit_base_patch16_224"}))
    state = synced_bytes(w)
    _reply, buffers = request(w, "layer_data", image=0, layer=0, include=["attention"])
    first_layer = sum(len(b) for b in buffers)
    assert first_layer == H * n * n * 2
    total = state + first_layer
    # bertviz-style JSON: every head's attention matrix as nested lists of floats
    bertviz = len(json.dumps(attn[0, 0, 0].tolist()).encode()) * L * H
    with capsys.disabled():
        print(f"\nexplorer payload ViT-B/16: state {state} B + first layer {first_layer} B = "
              f"{total} B; bertviz-style JSON ~{bertviz / 1e6:.0f} MB; "
              f"ratio 1/{bertviz / total:.0f}")
    assert total < 1.5e6
    assert total * 80 < bertviz


# -- HeadAnnotator ---------------------------------------------------------------------------
def test_annotator_rows_edits_and_autosave(session, tmp_path):
    path = tmp_path / "toy.heads.json"
    a = HeadAnnotator(session, path=path)
    assert len(a.rows) == 9 and a.path == str(path)
    row = {(r["layer"], r["head"]): r for r in a.rows}
    assert row[(0, 0)]["proposed"] == "offset-local ←"
    assert row[(0, 0)]["evidence"].startswith("100% within 1 patch · centre 0.8 patches left")
    assert row[(0, 0)]["rule"]
    assert row[(0, 1)]["proposed"] == "prefix-focused"
    reply, _ = request(a, "set", layer=1, head=2, tag="my tag", note=XSS)
    assert reply["ok"] and "saved" in reply["result"]["status"]
    assert a.annotations["1:2"]["note"] == XSS and "my tag" in a.tags
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk["heads"][0]["note"] == XSS, "stored literally"
    reply, _ = request(a, "accept", heads=[[0, 0], [0, 1]])
    assert reply["ok"] and a.annotations["0:0"]["tag"] == "offset-local ←"
    assert a.annotations["0:1"]["source"] == "accepted proposal"
    reply, _ = request(a, "add_tag", tag="copy")
    assert reply["ok"] and a.tags[-1] == "copy"
    # a fresh widget (a kernel restart) finds everything
    b = HeadAnnotator(session, path=path)
    assert b.annotations == a.annotations and "copy" in b.tags
    assert b.accept() == 9 - 3  # the rest of the heads, yours kept


def test_annotator_errors_are_replied_and_shown(session, tmp_path):
    a = HeadAnnotator(session, path=tmp_path / "x.json")
    reply, _ = request(a, "set", layer=9, head=0, tag="local")
    assert not reply["ok"] and "no head (9, 0)" in reply["error"]
    assert a.status_kind == "error" and "no head" in a.status
    request(a, "set", layer=0, head=0, tag="local")
    assert a.status_kind == "info"


def test_annotator_opens_a_corrupt_file_read_only_without_touching_it(session, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{ half a file", encoding="utf-8")
    a = HeadAnnotator(session, path=path)
    assert a.read_only and a.status_kind == "error" and "not valid JSON" in a.status
    with pytest.raises(AnnotationFileError, match="edits are off"):
        a.set_tag(0, 0, "local")
    assert path.read_text(encoding="utf-8") == "{ half a file"


def test_annotator_default_path_is_named_after_the_model(session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Session(toy_trace(), identity={"name": "zoo:dino/v1"})
    a = HeadAnnotator(s)
    assert a.path == str(tmp_path / "zoo_dino_v1.heads.json")


# -- LayerMetrics ----------------------------------------------------------------------------
def test_layer_metrics_tap_selects_and_selection_rings(session):
    m = LayerMetrics(session)
    data = m.source.data
    assert len(data["layer"]) == 9 and set(data["tag"]) == {"offset-local", "prefix-focused",
                                                             "global"}
    np.testing.assert_allclose(data["distance_px"],
                               session.layer_table(0)["distance_px"].reshape(-1).numpy())
    m.source.selected.indices = [5]  # what a tap on layer 1, head 2 does
    assert (m.layer, m.head) == (1, 2)
    m.layer, m.head = 2, 0
    assert m.source.selected.indices == [6]
    assert m.ring.data["x"] == [data["x"][6]]
    m.image_index = 1
    assert m.source.selected.indices == [6] and (m.layer, m.head) == (2, 0)


# -- explore ----------------------------------------------------------------------------------
def test_explore_links_every_view(session, tmp_path):
    d = explore(session, annotations=tmp_path / "d.json", layer=1, colormap="magma")
    ex, me, an = d.explorer, d.layer_metrics, d.annotator
    assert ex.layer == 1 and ex.colormap == "magma"
    assert (me.layer, an.layer) == (1, 1)
    ex.head = 2
    assert (me.head, an.head) == (2, 2) and me.source.selected.indices == [5]
    me.source.selected.indices = [1]  # tap layer 0, head 1
    assert (ex.layer, ex.head, an.layer, an.head) == (0, 1, 0, 1)
    an.layer, an.head = 2, 0  # a row click
    assert (ex.layer, ex.head) == (2, 0)
    ex.image_index = 1
    assert me.image_index == 1
    an.set_tag(2, 0, "offset-local ←")
    assert ex.head_tags == {"2:0": "offset-local ←"}


def test_missing_bundle_gives_build_instructions(monkeypatch, tmp_path):
    monkeypatch.setattr(_base, "STATIC", tmp_path)
    with pytest.raises(FileNotFoundError, match="npm --prefix js"):
        _base.check_bundle("explorer")


def test_explorer_can_switch_to_another_session(session):
    w = AttentionExplorer(session, layer=2, head=1, query=5)
    other = Session(toy_trace(num_layers=2, num_images=1, grid=(2, 2), num_prefix=0),
                    identity={"name": "other"})
    w.set_session(other)
    assert (w.model_name, w.num_layers, w.grid, w.prefix_names) == ("other", 2, [2, 2], [])
    assert (w.layer, w.head, w.query, w.image_index) == (0, 0, -1, 0)
    assert w._session_version == 1 and w._thumbnails == []
    reply, buffers = request(w, "layer_data", image=0, layer=1)
    assert reply["ok"] and reply["result"]["attention_shape"] == [3, 4, 4]
    with pytest.raises(traitlets.TraitError, match="prefix"):
        w.mode = "cls"
