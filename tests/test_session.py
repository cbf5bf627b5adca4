"""The Session the widgets ask: geometry, per-layer answers and metrics, from a hand-built trace
whose heads attend in known ways (and once from a tiny real timm ViT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vitwidgets import metrics
from vitwidgets.core.session import Session
from vitwidgets.core.trace import Trace

GRID = (3, 4)  # non-square on purpose


def toy_trace(
    num_layers: int = 3, num_images: int = 2, grid: tuple[int, int] = GRID, patch_size: int = 8,
    num_prefix: int = 1, extra_heads: int = 0,
) -> Trace:
    """Attention ``[L, B, 3 + extra_heads, N, N]`` with known heads: head 0 looks at the patch
    left of each query (its own patch in column 0), head 1 puts 0.9 on the prefix tokens (when
    there are any),
    head 2 and any extra heads attend uniformly. Images are a horizontal colour ramp."""
    gh, gw = grid
    p, g = num_prefix, gh * gw
    n, h = p + g, 3 + extra_heads
    a = torch.full((h, n, n), 1.0 / n)
    left = torch.zeros(n, n)
    left[:p] = 1.0 / n
    for q in range(g):
        r, c = divmod(q, gw)
        left[p + q, p + r * gw + max(c - 1, 0)] = 1.0
    a[0] = left
    if p:
        prefix = torch.zeros(n, n)
        prefix[:, :p] = 0.9 / p
        prefix[:, p:] = 0.1 / g
        a[1] = prefix
    attn = a.expand(num_layers, num_images, h, n, n).clone()
    ramp = torch.linspace(-1, 1, gw * patch_size).view(1, 1, 1, -1)
    pixels = ramp.expand(num_images, 3, gh * patch_size, gw * patch_size).clone()
    names = ("cls",) + tuple(f"reg{i}" for i in range(num_prefix - 1))
    return Trace(
        pixels=pixels, grid=grid, num_prefix=num_prefix, patch_size=patch_size,
        layers=tuple(range(num_layers)), prefix_names=names, mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5), attn=attn, model_name="toy",
    )


IDENTITY = {"name": "toy", "depth": 3, "num_heads": 3, "weights_sha256": "00"}


@pytest.fixture
def session() -> Session:
    return Session.from_trace(toy_trace(), IDENTITY)


def test_geometry(session):
    assert (session.num_images, session.num_layers, session.num_heads) == (2, 3, 3)
    assert session.grid == GRID and session.patch_size == 8
    assert session.num_prefix == 1 and session.num_tokens == 13
    assert session.prefix_names == ("cls",)
    assert session.name == "toy" and session.identity == IDENTITY
    rgb = session.image_rgb(1)
    assert rgb.shape == (24, 32, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255


def test_layer_attention_is_float16_of_the_trace(session):
    a = session.layer_attention(1, 2)
    assert a.dtype == np.float16 and a.shape == (3, 13, 13)
    np.testing.assert_allclose(a, session.trace.attn[2, 1].numpy(), atol=1e-3)


def test_rollout_is_the_metrics_rollout_of_blocks_up_to_layer(session):
    r = session.rollout(0, 1)
    assert r.shape == (13, 13) and r.dtype == np.float16
    want = metrics.attention_rollout(session.trace.attn[:2, :1], grid=GRID, num_prefix=1)[0]
    np.testing.assert_allclose(r, want.numpy(), atol=2e-3)
    np.testing.assert_allclose(r.astype(np.float32).sum(-1), 1, atol=1e-2)


def test_aligned_canvas_peaks_left_of_the_query_for_the_offset_head(session):
    canvas = session.aligned(0, 0)
    gh, gw = GRID
    assert canvas.shape == (3, 2 * gh - 1, 2 * gw - 1)
    peak = np.unravel_index(np.argmax(canvas[0]), canvas[0].shape)
    # most queries look one column left; queries in column 0 look at themselves
    assert peak == (gh - 1, gw - 2)


def test_layer_table_and_proposals(session):
    table = session.layer_table(0)
    assert set(table) == {"distance_px", "entropy", "nmi", "prefix_share", "offset_dy",
                          "offset_dx"}
    assert all(v.shape == (3, 3) for v in table.values())
    stats = session.head_stats(0)
    np.testing.assert_allclose(table["distance_px"], stats.distance.double().numpy() * 8)
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
        Session.from_trace(tr)
    tr = toy_trace()
    tr.attn = None
    with pytest.raises(ValueError, match="no attention"):
        Session.from_trace(tr)


def test_session_from_a_tiny_timm_vit_traces_in_batches():
    import timm

    module = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, depth=2,
                               num_classes=0)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    s = Session(module, images, batch_size=2)
    assert s.num_images == 3 and s.num_layers == 2 and s.grid == (2, 2)
    assert s.trace.attn.shape == (2, 3, 3, 5, 5)
    assert s.identity["depth"] == 2 and len(s.identity["weights_sha256"]) == 64
    single = Session(s.model, images[2])
    np.testing.assert_allclose(single.layer_attention(0, 1), s.layer_attention(2, 1), atol=2e-3)
    with pytest.raises(ValueError, match="at least one image"):
        Session(s.model, [])
