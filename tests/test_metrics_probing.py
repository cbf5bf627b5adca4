"""Known-answer tests of probing (k-NN, linear probe), dense tasks (correspondence, PCK, mask
pooling, clustering scores) and concept labelling."""

from __future__ import annotations

import math

import pytest
import torch
from factories import make_trace

import vitwidgets.metrics as M

DT = torch.float64


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


def clusters(n_per, num_classes, dim, layers, spread, seed):
    """[L, n, dim] features: class c around the direction e_c (spread per layer), labels [n]."""
    y = torch.arange(num_classes).repeat_interleave(n_per)
    centres = torch.eye(num_classes, dim, dtype=DT)[y]
    noise = rand(layers, len(y), dim, seed=seed)
    s = torch.tensor(spread, dtype=DT).view(-1, 1, 1)
    return centres + s * noise, y


# ------------------------------------------------------------------ k-NN / linear probe
def test_knn_on_separable_clusters_is_100_percent_and_picks_the_separable_layer():
    train, y = clusters(30, 3, 8, 2, [0.05, 3.0], seed=1)
    test, yt = clusters(10, 3, 8, 2, [0.05, 3.0], seed=2)
    res = M.knn_per_layer(train, y, test, yt, layers=(4, 7))
    assert res.accuracy[0].item() == 1.0
    assert res.accuracy[1].item() < 1.0
    assert res.best_layer == 4
    loo = M.knn_per_layer(train, y)  # leave-one-out
    assert loo.accuracy[0].item() == 1.0


def test_knn_weighted_vote_uses_exp_similarity_over_temperature():
    # one test point; neighbours: two of class 0 at cos 0.5, one of class 1 at cos 1.
    # weights exp(s/0.07): class 1 wins (e^14.3 > 2 e^7.1); with temperature 100 class 0 wins.
    train = torch.tensor([[0.5, math.sqrt(0.75)], [0.5, -math.sqrt(0.75)], [1.0, 0.0]], dtype=DT)
    y = torch.tensor([0, 0, 1])
    test = torch.tensor([[1.0, 0.0]], dtype=DT)
    assert M.knn_per_layer(train, y, test, torch.tensor([1]), k=3).accuracy.item() == 1.0
    hot = M.knn_per_layer(train, y, test, torch.tensor([0]), k=3, temperature=100.0)
    assert hot.accuracy.item() == 1.0


def test_linear_probe_on_separable_clusters():
    x, y = clusters(20, 2, 5, 2, [0.05, 0.05], seed=3)
    res = M.linear_probe_per_layer(x, y)
    assert res.accuracy.tolist() == [1.0, 1.0]


# ------------------------------------------------------------------ correspondence / PCK
def test_pck_of_image_matched_with_itself_is_one():
    # 224 px image: alpha * max side = 22.4 px > the patch quantisation error (<= 8 sqrt 2)
    grid, ps = (14, 14), 16
    tr = make_trace(grid=grid, patch_size=ps, tokens=rand(3, 1, 1 + 196, 32, seed=4))
    pts = torch.tensor([[5.0, 7.0], [40.0, 90.0], [223.0, 0.0], [17.0, 200.0]], dtype=DT)
    c = M.correspondence(tr, tr, pts, mutual=True)
    assert c.mutual.all() and c.valid.all()
    torch.testing.assert_close(c.similarity, torch.ones(4, dtype=DT))
    # matched patch = the patch containing the point, its centre within half a diagonal
    torch.testing.assert_close(c.point, (torch.floor(pts / ps) + 0.5) * ps)
    assert M.pck(c.point, pts, (grid[0] * ps, grid[1] * ps), alpha=0.1).item() == 1.0


def test_correspondence_finds_shifted_patch_and_pck_threshold():
    grid, ps = (3, 3), 10
    fa = rand(9, 16, seed=5)
    perm = torch.tensor([8, 7, 6, 5, 4, 3, 2, 1, 0])  # image B = A rotated by 180 degrees
    fb = fa[perm]
    pts = torch.tensor([[2.0, 3.0]], dtype=DT)  # patch (0, 0) of A -> patch (2, 2) of B
    c = M.correspondence(fa, fb, pts, grid=grid, patch_size=ps)
    assert c.patch.tolist() == [[2, 2]]
    assert c.point.tolist() == [[25.0, 25.0]]
    # PCK: distance from (25, 25) to target (20, 25) is 5 px; bbox max side 30
    assert M.pck(c.point, torch.tensor([[20.0, 25.0]]), (30, 20), alpha=0.2).item() == 1.0
    assert M.pck(c.point, torch.tensor([[20.0, 25.0]]), (30, 20), alpha=0.1).item() == 0.0
    assert M.pck(c.point, c.point, (30, 20), valid=torch.tensor([False])).item() == 0.0


def test_non_mutual_matches_are_flagged():
    grid, ps = (1, 3), 4
    fa = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], dtype=DT)
    fb = torch.tensor([[1.0, 0.05], [0.0, 1.0], [0.0, 1.0]], dtype=DT)
    # A's patch 1 matches B's patch 0, whose best match in A is patch 0: not mutual
    c = M.correspondence(fa, fb, torch.tensor([[1.0, 5.0]]), grid=grid, patch_size=ps, mutual=True)
    assert c.patch.tolist() == [[0, 0]] and not c.mutual.item() and not c.valid.item()


# ------------------------------------------------------------------ clustering scores
def test_cluster_purity_perfect_and_known_values():
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    perfect = M.cluster_purity(torch.tensor([2, 2, 0, 0, 1, 1]), y)
    assert perfect == {"nmi": pytest.approx(1.0), "ari": pytest.approx(1.0), "purity": 1.0}
    one = M.cluster_purity(torch.zeros(6, dtype=torch.long), y)
    assert one["purity"] == pytest.approx(1 / 3) and one["nmi"] == pytest.approx(0.0)
    x, yy = clusters(10, 3, 4, 1, [0.05], seed=6)
    assert M.cluster_purity(x[0], yy)["purity"] == 1.0


def test_mask_pool_averages_tokens_under_the_mask():
    grid = (2, 2)
    tokens = torch.arange(4, dtype=DT).view(1, 4, 1).expand(1, 4, 2)
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, :2, :] = True  # top row of patches (tokens 0 and 1)
    torch.testing.assert_close(
        M.mask_pool(tokens, mask, grid), torch.tensor([[0.5, 0.5]], dtype=DT)
    )
    mask[0, 2:, :2] = True  # plus patch 2 -> mean of 0, 1, 2
    torch.testing.assert_close(
        M.mask_pool(tokens, mask[:, None], grid), torch.tensor([[[1.0, 1.0]]], dtype=DT)
    )


# ------------------------------------------------------------------ concepts
def test_label_units_recovers_units_that_copy_concept_masks():
    grid = (4, 4)
    B = 6
    gen = torch.Generator().manual_seed(7)
    masks = torch.rand(B, 3, 4, 4, generator=gen) > 0.7  # concepts at patch resolution
    masks[:, 2] = False
    masks[0, 2, 0, 0] = True  # a rare concept
    acts = torch.zeros(2, B, 16, 4, dtype=DT)
    acts[0, :, :, 0] = masks[:, 0].flatten(1).double()  # layer 0 unit 0 = "red" (colour)
    acts[0, :, :, 1] = masks[:, 1].flatten(1).double()  # layer 0 unit 1 = "circle" (shape)
    acts[1, :, :, 2] = masks[:, 1].flatten(1).double()  # layer 1 unit 2 = "circle"
    concepts = [("red", "colour"), ("circle", "shape"), ("dot", "part")]
    # quantile 0.5: the threshold is 0 for binary maps covering < 50% -> unit mask = act > 0
    res = M.label_units(acts, masks, concepts, grid, quantile=0.5, iou_threshold=0.5)
    assert res.best_concept[0, :2].tolist() == [0, 1]
    torch.testing.assert_close(res.best_iou[0, :2], torch.ones(2, dtype=DT))
    assert res.best_concept[1, 2].item() == 1
    assert res.best_concept[0, 2:].tolist() == [-1, -1]  # silent units stay unlabelled
    s = res.summary()
    assert s[0]["num_concepts"] == 2 and s[0]["num_labelled"] == 2
    assert s[0]["category_share"] == {"colour": 0.5, "part": 0.0, "shape": 0.5}
    assert s[1]["num_concepts"] == 1 and s[1]["category_share"]["shape"] == 1.0
    assert s[1]["concepts"] == ["circle"]


def test_label_units_upsamples_patch_maps_to_mask_resolution():
    grid = (2, 2)
    masks = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    masks[0, 0, :4, :4] = True  # top-left patch area
    acts = torch.tensor([[[1.0], [0.0], [0.0], [0.0]]], dtype=DT)[None]
    res = M.label_units(acts, masks, [("tl", "region")], grid, quantile=0.5, iou_threshold=0.1)
    # bilinear upsampling of a one-hot 2x2 map exceeds 0 over a 6x6 block: IoU 16/36
    assert res.best_iou.item() == pytest.approx(16 / 36)


def test_quantile_threshold_streaming_equals_one_shot():
    x = rand(50, 3, seed=8)
    q = M.QuantileThreshold(0.9, 50)
    for i in range(0, 50, 7):
        q.update(x[i : i + 7])
    k = math.ceil(0.9 * 50)
    torch.testing.assert_close(q.result(), x.kthvalue(k, dim=0).values)


def test_probing_bad_inputs():
    with pytest.raises(ValueError, match="labels"):
        M.knn_per_layer(rand(1, 5, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="bbox_size"):
        M.pck(torch.zeros(2, 2), torch.zeros(2, 2), 10)
    with pytest.raises(ValueError, match="concepts"):
        M.label_units(
            rand(1, 1, 4, 2), torch.zeros(1, 2, 2, 2, dtype=torch.bool), [("a", "b")], (2, 2)
        )
