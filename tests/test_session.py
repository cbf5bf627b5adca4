"""The Session the widgets ask: geometry, per-layer answers and metrics, from a hand-built trace
whose heads attend in known ways (and once from a tiny real timm ViT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import GRID, IDENTITY, toy_trace

import vitwidgets as vw
from vitwidgets.core import metrics
from vitwidgets.core.session import Session


@pytest.fixture
def session() -> Session:
    return Session(toy_trace(), identity=IDENTITY)


def test_geometry(session):
    assert (session.num_images, session.num_layers, session.num_heads) == (2, 3, 3)
    assert session.grid == GRID and session.patch_size == 8
    assert session.num_prefix == 1 and session.num_tokens == 13
    assert session.prefix_names == ("cls",)
    assert session.name == "toy" and session.identity == IDENTITY
    rgb = session.image_rgb(1)
    assert rgb.shape == (24, 32, 3) and rgb.dtype == torch.uint8
    assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255


def test_layer_attention_is_the_traced_attention_of_that_image_and_block(session):
    a = session.layer_attention(1, 2)
    assert a.dtype == torch.float32 and a.shape == (3, 13, 13)
    torch.testing.assert_close(a, session.trace.attn[2, 1])
    torch.testing.assert_close(session.layer_attention(1, -1), a)  # -1 = the last block


def test_rollout_is_the_metrics_rollout_of_blocks_up_to_layer(session):
    r = session.rollout(0, 1)
    assert r.shape == (13, 13) and r.dtype == torch.float32
    want = metrics.attention_rollout(session.trace.attn[:2, :1], grid=GRID, num_prefix=1)[0]
    torch.testing.assert_close(r, want)
    torch.testing.assert_close(r.sum(-1), torch.ones(13))


def test_aligned_canvas_peaks_left_of_the_query_for_the_offset_head(session):
    canvas = session.aligned(0, 0).numpy()
    gh, gw = GRID
    assert canvas.shape == (3, 2 * gh - 1, 2 * gw - 1)
    peak = np.unravel_index(np.argmax(canvas[0]), canvas[0].shape)
    # most queries look one column left; queries in column 0 look at themselves
    assert peak == (gh - 1, gw - 2)


def test_layer_table_and_proposals(session):
    table = session.layer_table(0)
    assert set(table) == {"distance_px", "entropy", "nmi", "prefix_share", "offset_dy",
                          "offset_dx", "share_cls"}
    assert all(v.shape == (3, 3) for v in table.values())
    stats = session.head_stats(0)
    np.testing.assert_allclose(table["distance_px"], stats.distance_patches.double().numpy() * 8)
    assert table["prefix_share"][0, 1] == pytest.approx(0.9, abs=1e-4)
    assert table["offset_dx"][0, 0] < -0.5
    tags = {(p["layer"], p["head"]): p for p in session.proposals()}
    assert tags[(0, 0)]["tag"] == "offset-local" and tags[(0, 0)]["direction"] == "left"
    assert tags[(0, 1)]["tag"] == "prefix-focused"
    assert tags[(0, 2)]["tag"] == "global"
    assert session.proposals() is session.proposals(), "cached"


def test_bad_requests_raise_clear_errors(session):
    with pytest.raises(ValueError, match=r"layer 3 out of range: toy has 3 blocks \(0..2\)"):
        session.layer_attention(0, 3)
    with pytest.raises(ValueError, match="image 5 out of range"):
        session.image_rgb(5)
    with pytest.raises(ValueError, match="image"):
        session.rollout(-1, 0)


def test_traces_a_session_needs():
    tr = toy_trace()
    tr.layers = (0, 2, 4)
    with pytest.raises(ValueError, match="blocks 0..L-1"):
        Session(tr)
    tr = toy_trace()
    tr.attn = None
    with pytest.raises(ValueError, match="no attention"):
        Session(tr)


def test_session_from_a_tiny_timm_vit_is_lazy_and_matches_a_single_image_trace():
    import timm

    module = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, depth=2,
                               num_classes=0)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    s = Session.from_model(vw.load_model(module), images)
    assert s.num_images == 3 and s.num_layers == 2 and s.grid == (2, 2) and s.lazy
    assert s.trace is None and s.cache_info().entries[0][0] == ("pixels", 0)
    assert s.layer_attention(2, 1).shape == (3, 5, 5)
    assert s.identity["num_layers"] == 2 and len(s.identity["weights_sha256"]) == 64
    single = Session.from_model(s.model, images[2])
    torch.testing.assert_close(single.layer_attention(0, 1), s.layer_attention(2, 1),
                               atol=2e-3, rtol=0)
    with pytest.raises(ValueError, match="at least one image"):
        Session.from_model(s.model, [])
