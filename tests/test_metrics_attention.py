"""Known-answer tests of the per-head attention metrics and head tags (distance, entropy, NMI,
aligned canvas and offsets, prefix share, CLS map, rollout).

Attention is constructed so that the right answer follows from the definitions by hand; one test
compares against a naive loop transcription of the definitions on random attention.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from factories import make_trace, neighbour_attention, patch_rc, toy_trace

import vitwidgets.metrics as M

DT = torch.float64


# ---------------------------------------------------------------- distance / entropy / NMI
def test_uniform_attention_entropy_is_log_G_and_nmi_is_zero():
    grid, p = (3, 4), 1
    n = p + 12
    tr = make_trace(torch.full((2, 2, 3, n, n), 1.0 / n, dtype=DT), grid, p)
    torch.testing.assert_close(
        M.attention_entropy(tr), torch.full((2, 2, 3), math.log(12), dtype=DT)
    )
    torch.testing.assert_close(
        M.attention_nmi(tr), torch.zeros(2, 2, 3, dtype=DT), atol=1e-12, rtol=0
    )


def test_one_hot_distinct_keys_give_nmi_one_and_entropy_zero():
    grid, p = (4, 3), 2
    g = 12
    perm = torch.randperm(g, generator=torch.Generator().manual_seed(0))
    a = torch.zeros(p + g, p + g, dtype=DT)
    a[:p] = 1.0 / (p + g)
    a[torch.arange(p, p + g), p + perm] = 1.0
    tr = make_trace(a.expand(1, 1, 2, p + g, p + g).clone(), grid, p)
    torch.testing.assert_close(M.attention_nmi(tr), torch.ones(1, 1, 2, dtype=DT))
    torch.testing.assert_close(M.attention_entropy(tr), torch.zeros(1, 1, 2, dtype=DT))


def test_all_queries_on_one_key_gives_nmi_zero_collapse():
    grid, p = (2, 3), 0
    a = torch.zeros(6, 6, dtype=DT)
    a[:, 4] = 1
    nmi = M.attention_nmi(a[None, None, None], grid=grid, num_prefix=p)
    assert nmi.item() == 0.0


def test_identity_attention_has_distance_zero_and_offset_zero():
    grid, p = (3, 5), 1
    n = p + 15
    tr = make_trace(torch.eye(n, dtype=DT).expand(2, 1, 4, n, n).clone(), grid, p)
    for units in ("pixels", "patches", "fraction"):
        assert torch.equal(M.attention_distance(tr, units=units), torch.zeros(2, 1, 4, dtype=DT))
    off = M.head_offsets(tr)
    assert torch.equal(off.magnitude_patches, torch.zeros(2, 1, 4, dtype=DT))


def test_left_neighbour_valid_queries_distance_one_patch_and_offset_exactly_left():
    # Queries in the first column have no left neighbour: they attend to themselves and are
    # excluded through query_mask, so the average covers exactly the queries with a neighbour.
    grid, p, ps = (4, 5), 1, 16
    attn, valid = neighbour_attention(grid, p, 0, -1, prefix_mass=0.25, L=2, B=3, H=2)
    tr = make_trace(attn, grid, p, ps)
    d_px = M.attention_distance(tr, query_mask=valid)  # pixels by default
    torch.testing.assert_close(d_px, torch.full((2, 3, 2), float(ps), dtype=DT), rtol=1e-12, atol=0)
    d_p = M.attention_distance(tr, units="patches", query_mask=valid)
    torch.testing.assert_close(d_p, torch.ones(2, 3, 2, dtype=DT), rtol=1e-12, atol=0)
    d_f = M.attention_distance(tr, units="fraction", query_mask=valid)
    torch.testing.assert_close(d_f, torch.full((2, 3, 2), 1 / (5 - 1), dtype=DT))
    off = M.head_offsets(tr, query_mask=valid)
    torch.testing.assert_close(
        off.offset_patches, torch.tensor([0.0, -1.0], dtype=DT).expand(2, 3, 2, 2), rtol=0,
        atol=1e-12,
    )
    torch.testing.assert_close(off.magnitude_patches, torch.ones(2, 3, 2, dtype=DT))


def test_left_neighbour_all_queries_matches_definition_with_self_attending_first_column():
    # Without a mask, the gh first-column queries (self-attending) contribute distance 0.
    grid, p = (3, 4), 1
    attn, _ = neighbour_attention(grid, p, 0, -1, prefix_mass=0.5)
    tr = make_trace(attn, grid, p, 14)
    g, gh = 12, 3
    expected = (g - gh) / g
    torch.testing.assert_close(
        M.attention_distance(tr, units="patches").flatten(), torch.tensor([expected], dtype=DT)
    )
    torch.testing.assert_close(
        M.attention_distance(tr).flatten(), torch.tensor([expected * 14], dtype=DT)
    )
    torch.testing.assert_close(
        M.head_offsets(tr).offset_patches.flatten(), torch.tensor([0.0, -expected], dtype=DT)
    )


def test_vertical_neighbour_fraction_units_use_row_over_gh_minus_one():
    grid, p = (5, 3), 0
    attn, valid = neighbour_attention(grid, p, 1, 0)
    d = M.attention_distance(attn, units="fraction", grid=grid, num_prefix=p, query_mask=valid)
    torch.testing.assert_close(d.flatten(), torch.tensor([1 / (5 - 1)], dtype=DT))


def naive_metrics(A, grid, P, ps):
    """Loop transcription of the definitions of distance, entropy and NMI for one [N, N]
    matrix."""
    gh, gw = grid
    G = gh * gw
    pos = [((q // gw + 0.5) * ps, (q % gw + 0.5) * ps) for q in range(G)]
    R = [[A[P + q][P + k] / sum(A[P + q][P:]) for k in range(G)] for q in range(G)]
    dist = sum(sum(R[q][k] * math.dist(pos[q], pos[k]) for k in range(G)) for q in range(G)) / G
    ent = sum(-sum(x * math.log(x) for x in R[q] if x > 0) for q in range(G)) / G
    pk = [sum(R[q][k] for q in range(G)) / G for k in range(G)]
    mi = sum(
        (1 / G) * R[q][k] * math.log(R[q][k] / pk[k])
        for q in range(G)
        for k in range(G)
        if R[q][k] > 0
    )
    hk = -sum(x * math.log(x) for x in pk if x > 0)
    return dist, ent, mi / math.sqrt(math.log(G) * hk)


def test_random_attention_matches_loop_transcription_of_definitions():
    grid, p, ps = (2, 3), 2, 8
    n = p + 6
    g = torch.Generator().manual_seed(1)
    attn = torch.softmax(torch.randn(2, 1, 3, n, n, generator=g, dtype=DT) * 2, -1)
    tr = make_trace(attn, grid, p, ps)
    d, e, nmi = M.attention_distance(tr), M.attention_entropy(tr), M.attention_nmi(tr)
    for li in range(2):
        for h in range(3):
            rd, re, rn = naive_metrics(attn[li, 0, h].tolist(), grid, p, ps)
            assert d[li, 0, h].item() == pytest.approx(rd, rel=1e-10)
            assert e[li, 0, h].item() == pytest.approx(re, rel=1e-10)
            assert nmi[li, 0, h].item() == pytest.approx(rn, rel=1e-8)


def test_half_precision_attention_is_accepted_and_computed_in_float32():
    grid, p = (2, 2), 1
    a = torch.full((1, 1, 1, 5, 5), 0.2, dtype=torch.float16)
    e = M.attention_entropy(a, grid=grid, num_prefix=p)
    assert e.dtype == torch.float32
    assert e.item() == pytest.approx(math.log(4), rel=1e-3)


# ---------------------------------------------------------------- aligned canvas / offsets
def test_aligned_canvas_of_left_neighbour_puts_all_mass_left_of_centre():
    grid, p = (3, 4), 1
    attn, valid = neighbour_attention(grid, p, 0, -1, prefix_mass=0.3, B=2, H=2)
    tr = make_trace(attn, grid, p)
    canvas = M.aligned_attention(tr, query_mask=valid)
    assert canvas.shape == (1, 2, 2, 5, 7)
    expected = torch.zeros(5, 7, dtype=DT)
    expected[2, 2] = 1.0  # centre (gh-1, gw-1) = (2, 3); left neighbour one column to the left
    torch.testing.assert_close(canvas, expected.expand_as(canvas))
    avg = M.aligned_attention(tr, query_mask=valid, average_images=True)
    assert avg.shape == (1, 2, 5, 7)


def test_aligned_canvas_of_uniform_attention_is_the_overlap_triangle_and_offset_matches_com():
    grid, p = (2, 3), 0
    g = 6
    attn = torch.full((1, 1, 1, g, g), 1 / g, dtype=DT)
    canvas = M.aligned_attention(attn, grid=grid, num_prefix=p)[0, 0, 0]
    # cell (dy, dx): number of (query, key) pairs with that displacement / G^2
    for dy in range(-1, 2):
        for dx in range(-2, 3):
            count = (2 - abs(dy)) * (3 - abs(dx))
            assert canvas[dy + 1, dx + 2].item() == pytest.approx(count / g**2)
    assert canvas.sum().item() == pytest.approx(1.0)
    # offset = centre of mass of a random head's canvas
    gen = torch.Generator().manual_seed(3)
    attn = torch.softmax(torch.randn(1, 1, 1, g, g, generator=gen, dtype=DT), -1)
    canvas = M.aligned_attention(attn, grid=grid, num_prefix=p)[0, 0, 0]
    dy = torch.arange(-1, 2, dtype=DT)[:, None]
    dx = torch.arange(-2, 3, dtype=DT)[None, :]
    com = torch.stack([(canvas * dy).sum(), (canvas * dx).sum()])
    off = M.head_offsets(attn, grid=grid, num_prefix=p).offset_patches
    torch.testing.assert_close(off[0, 0, 0], com)


# ---------------------------------------------------------------- prefix, CLS map, rollout
def test_prefix_attention_share_of_patch_queries():
    grid, p = (2, 2), 2
    attn, _ = neighbour_attention(grid, p, 0, 0, prefix_mass=0.3)
    tr = make_trace(attn, grid, p)
    torch.testing.assert_close(M.prefix_attention(tr).flatten(), torch.tensor([0.3], dtype=DT))
    per_tok = M.prefix_attention(tr, per_token=True)
    torch.testing.assert_close(per_tok.flatten(), torch.tensor([0.3, 0.0], dtype=DT))
    allq = M.prefix_attention(tr, queries="all", reduce=False)
    assert allq.shape == (1, 1, 1, 6)
    torch.testing.assert_close(allq[0, 0, 0, :2], torch.tensor([2 / 6, 2 / 6], dtype=DT))


def test_cls_map_top_60_percent_mass_mask_and_iou():
    grid, p = (2, 3), 1
    n = 7
    a = torch.full((1, 1, 2, n, n), 1 / n, dtype=DT)
    # CLS row: 0.2 to itself, patches get 0.4, 0.24, 0.08, 0.04, 0.02, 0.02 (renormalised
    # 0.5, 0.3, 0.1, 0.05, 0.025, 0.025): 60% of the mass is the top two patches
    a[0, 0, :, 0] = torch.tensor([0.2, 0.4, 0.24, 0.08, 0.04, 0.02, 0.02], dtype=DT)
    tr = make_trace(a, grid, p)
    gt = torch.tensor([[[True, False, True], [False, False, False]]])  # [B, gh, gw]
    res = M.cls_attention_map(tr, layer=0, mask=gt)
    expected_map = torch.tensor([[0.5, 0.3, 0.1], [0.05, 0.025, 0.025]], dtype=DT)
    torch.testing.assert_close(res.map[0, 0], expected_map)
    expected_mask = torch.tensor([[True, True, False], [False, False, False]])
    assert torch.equal(res.mask[0, 0], expected_mask)
    torch.testing.assert_close(res.iou, torch.full((1, 2), 1 / 3))
    # pixel-resolution ground truth: the patch mask is upsampled
    gt_px = gt.repeat_interleave(16, 1).repeat_interleave(16, 2)
    torch.testing.assert_close(
        M.cls_attention_map(tr, layer=-1, mask=gt_px, head_mean=True).iou, torch.tensor([1 / 3])
    )


def test_rollout_of_identity_attention_is_identity():
    grid, p = (2, 2), 1
    n = 5
    tr = make_trace(torch.eye(n, dtype=DT).expand(3, 2, 4, n, n).clone(), grid, p)
    torch.testing.assert_close(M.attention_rollout(tr), torch.eye(n, dtype=DT).expand(2, n, n))


def test_rollout_two_layers_matches_product_of_half_identity_factors():
    grid, p = (1, 3), 1
    n = 4
    gen = torch.Generator().manual_seed(0)
    attn = torch.softmax(torch.randn(2, 1, 2, n, n, generator=gen, dtype=DT), -1)
    tr = make_trace(attn, grid, p)
    m = [0.5 * attn[i, 0].mean(0) + 0.5 * torch.eye(n, dtype=DT) for i in range(2)]
    m = [x / x.sum(-1, keepdim=True) for x in m]
    torch.testing.assert_close(M.attention_rollout(tr)[0], m[1] @ m[0])
    row = (m[1] @ m[0])[0, 1:]
    torch.testing.assert_close(M.attention_rollout(tr, query=0)[0], (row / row.sum()).reshape(1, 3))


# ---------------------------------------------------------------- head stats and tags
def test_left_neighbour_head_is_tagged_offset_local_left_with_offset_exactly_0_minus1():
    # First-column queries have no left neighbour: they self-attend and query_mask leaves them
    # out, so every counted query attends exactly one patch to its left.
    grid, p = (4, 4), 1
    attn, valid = neighbour_attention(grid, p, 0, -1, prefix_mass=0.1, B=2, H=1)
    tr = make_trace(attn, grid, p)
    (tag,) = M.propose_head_tags(tr, query_mask=valid)
    assert tag["tag"] == "offset-local" and tag["direction"] == "left"
    assert (tag["evidence"]["offset_dy"], tag["evidence"]["offset_dx"]) == (0.0, -1.0)
    assert tag["evidence"]["distance_patches"] == 1.0
    assert (tag["evidence"]["peak_dy"], tag["evidence"]["peak_dx"]) == (0.0, -1.0)
    assert tag["evidence"]["prefix_share"] == pytest.approx(0.1)
    json.dumps(tag)  # JSON-ready
    # all queries (first column self-attends): still offset-local left
    (tag2,) = M.propose_head_tags(tr)
    assert (tag2["tag"], tag2["direction"]) == ("offset-local", "left")


@pytest.mark.parametrize(
    "dy,dx,direction",
    [(0, 1, "right"), (-1, 0, "up"), (1, 0, "down"), (-1, -1, "up-left"), (1, 1, "down-right")],
)
def test_neighbour_heads_get_their_direction(dy, dx, direction):
    grid, p = (5, 5), 1
    attn, _ = neighbour_attention(grid, p, dy, dx)
    (tag,) = M.propose_head_tags(make_trace(attn, grid, p))
    assert (tag["tag"], tag["direction"]) == ("offset-local", direction)


def test_tags_local_global_axial_prefix_on_constructed_heads():
    grid, p = (4, 6), 1
    g, n = 24, 25
    heads = torch.zeros(4, n, n, dtype=DT)
    heads[0] = torch.eye(n, dtype=DT)  # local
    heads[1] = 1.0 / n  # global
    for q, (r, _c) in enumerate(patch_rc(grid)):  # axial: the query's whole row
        heads[2, p + q, p + r * 6 : p + r * 6 + 6] = 1 / 6
    heads[2, 0] = 1.0 / n
    heads[3, :, 0] = 0.9  # prefix-focused
    heads[3, :, 1:] = 0.1 / g
    tags = M.propose_head_tags(make_trace(heads[None, None], grid, p))
    assert [t["tag"] for t in tags] == ["local", "global", "axial", "prefix-focused"]
    assert tags[2]["direction"] == "horizontal"
    assert [t["head"] for t in tags] == [0, 1, 2, 3]
    # thresholds are parameters: a permissive prefix threshold flips the global head
    tags = M.propose_head_tags(make_trace(heads[None, None], grid, p), prefix_threshold=0.03)
    assert tags[1]["tag"] == "prefix-focused"


def test_head_stats_merge_equals_stats_of_both_batches():
    grid, p = (2, 3), 1
    gen = torch.Generator().manual_seed(5)
    attn = torch.softmax(torch.randn(2, 5, 3, 7, 7, generator=gen, dtype=DT), -1)
    whole = M.head_stats(make_trace(attn, grid, p))
    merged = M.head_stats(make_trace(attn[:, :2], grid, p)) + M.head_stats(
        make_trace(attn[:, 2:], grid, p)
    )
    for f in M.HeadStats._FIELDS:
        torch.testing.assert_close(getattr(merged, f), getattr(whole, f))
    assert merged.num_images == 5


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="grid"):
        M.attention_entropy(torch.rand(1, 5, 5))
    with pytest.raises(ValueError, match="N = num_prefix"):
        M.attention_entropy(torch.rand(1, 5, 5), grid=(2, 3), num_prefix=1)
    with pytest.raises(TypeError, match="Trace"):
        M.attention_entropy([[1.0]])
    with pytest.raises(ValueError, match="units"):
        M.attention_distance(
            torch.rand(1, 5, 5), units="km", grid=(2, 2), num_prefix=1, patch_size=4
        )
    with pytest.raises(ValueError, match="patch_size"):
        M.attention_distance(torch.rand(1, 5, 5), grid=(2, 2), num_prefix=1)
    tr = make_trace(torch.full((1, 1, 1, 5, 5), 0.2), (2, 2), 1)
    with pytest.raises(ValueError, match="query_mask"):
        M.attention_distance(tr, query_mask=torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="not captured|block"):
        M.cls_attention_map(tr, layer=3)


def test_head_stats_in_query_chunks_equal_one_pass_and_split_prefix_share_per_token():
    tr = toy_trace()
    whole = M.head_stats(tr)
    for chunk in (1, 5):
        chunked = M.head_stats(tr, query_chunk=chunk)
        for name in ("distance_patches", "entropy", "nmi", "prefix_share", "offset_patches",
                     "canvas"):
            torch.testing.assert_close(getattr(chunked, name), getattr(whole, name),
                                       atol=1e-6, rtol=1e-5)
    want = tr.attn[..., tr.num_prefix:, : tr.num_prefix].mean(-2).mean(1)  # [L, H, P]
    torch.testing.assert_close(whole.prefix_token_share, want)
    torch.testing.assert_close(whole.prefix_token_share.sum(-1), whole.prefix_share)


def test_head_stats_reducer_needs_every_query_before_its_result():
    from vitwidgets.core.metrics.attention import HeadStatsReducer

    r = HeadStatsReducer((2,), (2, 2), 1)
    r.add(torch.full((2, 3, 5), 0.2), 0)
    with pytest.raises(ValueError, match="saw 3 of the 4 patch queries"):
        r.result()
