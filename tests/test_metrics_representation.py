"""Known-answer tests of the representation metrics (CKA, token similarity, Fourier profile,
feature variance, PCA colours, co-segmentation)."""

from __future__ import annotations

import math

import pytest
import torch
from factories import make_trace

import vitwidgets.metrics as M

DT = torch.float64


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


# ------------------------------------------------------------------ CKA
@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_of_x_with_itself_is_one(unbiased):
    x = rand(40, 7)
    assert M.cka(x, x, unbiased=unbiased).item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_invariant_to_orthogonal_rotation_and_isotropic_scaling(unbiased):
    x, y = rand(50, 6, seed=1), rand(50, 9, seed=2)
    y = y + x @ rand(6, 9, seed=3)  # related features
    q, _ = torch.linalg.qr(rand(6, 6, seed=4))
    base = M.cka(x, y, unbiased=unbiased)
    torch.testing.assert_close(M.cka(x @ q, y, unbiased=unbiased), base)
    torch.testing.assert_close(M.cka(3.7 * x, 0.2 * y, unbiased=unbiased), base)


def test_linear_cka_of_one_dimensional_features_is_squared_pearson_correlation():
    x, y = rand(30, 1, seed=5), rand(30, 1, seed=6)
    y = y + 0.5 * x
    r = torch.corrcoef(torch.cat([x, y], 1).T)[0, 1]
    assert M.cka(x, y).item() == pytest.approx((r**2).item(), rel=1e-10)


def test_cka_matrix_from_trace_is_symmetric_with_unit_diagonal():
    tr = make_trace(grid=(2, 2), tokens=rand(4, 12, 5, 8))
    for mode in M.FEATURE_MODES:
        c = M.cka_matrix(tr, mode=mode)
        assert c.shape == (3, 3)
        torch.testing.assert_close(c, c.T)
        torch.testing.assert_close(torch.diagonal(c), torch.ones(3, dtype=DT))
    assert M.cka_matrix(tr, tr, layers=("embedding", *range(3))).shape == (4, 4)
    assert M.layer_features(tr, "all_tokens").shape == (3, 12, 40)


def test_streaming_cka_one_batch_equals_full_batch_unbiased_cka():
    fa, fb = rand(3, 32, 5, seed=7), rand(2, 32, 4, seed=8)
    acc = M.MinibatchCKA().update(fa, fb)
    torch.testing.assert_close(acc.result(), M.cka_matrix(fa, fb, unbiased=True))


def test_streaming_cka_matches_full_batch_within_tolerance():
    n = 1200
    x = rand(n, 6, seed=9)
    feats = torch.stack(
        [x, x @ rand(6, 6, seed=10) + 0.5 * rand(n, 6, seed=11), rand(n, 6, seed=12)]
    )
    full = M.cka_matrix(feats)
    acc = M.MinibatchCKA()
    for i in range(0, n, 100):
        acc.update(feats[:, i : i + 100])
    torch.testing.assert_close(acc.result(), full, atol=0.03, rtol=0)
    assert acc.num_batches == 12


def test_streaming_cka_merge_equals_sequential_accumulation():
    feats = rand(3, 60, 5, seed=13)
    other = rand(2, 60, 3, seed=14)
    seq, a, b = M.MinibatchCKA(), M.MinibatchCKA(), M.MinibatchCKA()
    for i in range(0, 60, 10):
        seq.update(feats[:, i : i + 10], other[:, i : i + 10])
        (a if i < 30 else b).update(feats[:, i : i + 10], other[:, i : i + 10])
    merged = a + b
    torch.testing.assert_close(merged.result(), seq.result(), rtol=1e-12, atol=1e-14)
    assert merged.num_batches == seq.num_batches == 6
    with pytest.raises(ValueError, match="mixes"):
        a.update(feats[:, :10])
    with pytest.raises(ValueError, match="at least 4"):
        M.MinibatchCKA().update(feats[:, :3])


# ------------------------------------------------------------------ token similarity
def test_token_similarity_identical_tokens_one_and_orthogonal_tokens_zero():
    p = 1
    same = torch.ones(2, 3, 1 + 4, 6, dtype=DT)
    torch.testing.assert_close(M.token_similarity(same, num_prefix=p), torch.ones(2, 3, dtype=DT))
    ortho = torch.zeros(1, 1, 1 + 4, 6, dtype=DT)
    ortho[0, 0, 1:, :4] = torch.eye(4, dtype=DT)
    assert M.token_similarity(ortho, num_prefix=p).item() == pytest.approx(0.0, abs=1e-12)
    # two of three tokens equal, third orthogonal: pairs (1,1,0) -> 1/3
    t = torch.zeros(1, 1, 3, 2, dtype=DT)
    t[0, 0, 0] = t[0, 0, 1] = torch.tensor([1.0, 0.0])
    t[0, 0, 2] = torch.tensor([0.0, 2.0])
    assert M.token_similarity(t, num_prefix=0).item() == pytest.approx(1 / 3)


def test_token_similarity_across_depth_and_heads():
    tok = rand(3, 2, 5, 4)
    tok[2] = -tok[1]
    depth = M.token_similarity(make_trace(grid=(2, 2), tokens=tok), across="depth")
    assert depth.shape == (3, 3)
    torch.testing.assert_close(torch.diagonal(depth), torch.ones(3, dtype=DT))
    assert depth[1, 2].item() == pytest.approx(-1.0)
    heads = torch.ones(2, 4, 7, 3, dtype=DT)  # [B, H, N, Dh] all heads equal
    torch.testing.assert_close(M.token_similarity(heads, across="heads"), torch.ones(2, dtype=DT))


# ------------------------------------------------------------------ Fourier / variance
def latents_from_map(m: torch.Tensor, num_prefix=1) -> torch.Tensor:
    """A [gh, gw] map as latents [1, 1, P + G, 1]."""
    flat = m.reshape(1, 1, -1, 1).to(DT)
    return torch.cat([torch.full((1, 1, num_prefix, 1), 99.0, dtype=DT), flat], 2)


def test_fourier_profile_of_constant_map():
    gh = gw = 8
    c = 2.5
    prof = M.fourier_profile(latents_from_map(torch.full((gh, gw), c)), grid=(gh, gw), num_prefix=1)
    # |F| = G*c at zero frequency, 0 elsewhere
    drop = math.log(1e-6) - math.log(64 * c + 1e-6)
    expected = torch.tensor([0.0] + [drop] * 4, dtype=DT)
    assert prof.shape == (1, 5)
    torch.testing.assert_close(prof[0], expected, rtol=0, atol=1e-9)


def test_fourier_profile_of_checkerboard_peaks_at_highest_frequency():
    g = 8
    r, c = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
    board = 1.0 + 2.0 * (-1.0) ** (r + c)  # DC 64*1, Nyquist (pi, pi) amplitude 64*2
    prof = M.fourier_profile(latents_from_map(board), grid=(g, g), num_prefix=1)[0]
    floor = math.log(1e-6) - math.log(64 + 1e-6)
    expected = [0.0, floor, floor, floor, math.log(128 + 1e-6) - math.log(64 + 1e-6)]
    torch.testing.assert_close(prof, torch.tensor(expected, dtype=DT), rtol=0, atol=1e-9)
    assert prof[-1].item() == pytest.approx(math.log(2), abs=1e-6)
    freqs = M.fourier_frequencies((g, g))
    assert freqs[-1].tolist() == [1.0, 1.0]
    # Park & Kim 2022's reading (towards the bottom-right) stops one bin before pi on an even grid
    park = M.fourier_profile(
        latents_from_map(board), grid=(g, g), num_prefix=1, include_nyquist=False
    )
    torch.testing.assert_close(park[0], torch.tensor(expected[:4], dtype=DT), rtol=0, atol=1e-9)


def test_fourier_profile_uses_trace_latents_and_handles_non_square_grid():
    lat = rand(5, 2, 1 + 12, 3)
    tr = make_trace(grid=(3, 4), tokens=rand(3, 2, 13, 3), latents=lat)
    prof = M.fourier_profile(tr)
    assert prof.shape == (5, 2)  # min(3//2, 4//2) + 1
    assert torch.equal(prof[:, 0], torch.zeros(5, dtype=DT))


def test_feature_variance_of_checkerboard_and_constant():
    g = 4
    r, c = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
    board = (-1.0) ** (r + c)
    lat = torch.cat([latents_from_map(board), latents_from_map(torch.full((g, g), 3.0))], 0)
    var = M.feature_variance(lat, grid=(g, g), num_prefix=1)
    torch.testing.assert_close(var, torch.tensor([16 / 15, 0.0], dtype=DT))
    var0 = M.feature_variance(lat, grid=(g, g), num_prefix=1, correction=0)
    torch.testing.assert_close(var0, torch.tensor([1.0, 0.0], dtype=DT))


# ------------------------------------------------------------------ PCA / clustering
def test_pca_rgb_first_component_follows_the_dominant_direction():
    grid = (2, 3)
    coord = torch.arange(6, dtype=DT)
    tokens = torch.zeros(1, 6, 5, dtype=DT)
    tokens[0, :, 0] = -10 * coord  # dominant direction, sign to be fixed positive
    tokens[0, :, 1] = torch.tensor([1.0, -1, 1, -1, 1, -1])  # second direction
    tokens[0, :, 2] = 0.01 * rand(6, seed=3)
    rgb = M.pca_rgb(tokens, grid=grid)
    assert rgb.shape == (1, 2, 3, 3)
    assert rgb.min() >= 0 and rgb.max() <= 1
    first = rgb[0, ..., 0].flatten()
    # largest loading made positive: component +e0, projection -10*(coord - mean), decreasing
    torch.testing.assert_close(first, 1 - coord / 5, rtol=0, atol=2e-3)
    tr = make_trace(grid=grid, tokens=rand(3, 2, 7, 4))
    assert M.pca_rgb(tr, layer=None).shape == (3, 2, 2, 3, 3)


def test_cluster_tokens_recovers_separated_groups_across_images():
    grid = (2, 2)
    centres = torch.tensor([[5.0, 0, 0], [0, 5.0, 0]], dtype=DT)
    part = torch.tensor([[0, 0, 1, 1], [1, 0, 1, 0], [1, 1, 1, 0]])
    tokens = centres[part] + 0.1 * rand(3, 4, 3, seed=4)
    labels = M.cluster_tokens(tokens, 2, grid=grid)
    assert labels.shape == (3, 2, 2)
    flat = labels.flatten()
    same = flat[part.flatten() == 0]
    assert (same == same[0]).all() and (flat[part.flatten() == 1] != same[0]).all()


def test_representation_bad_inputs():
    with pytest.raises(ValueError, match="mode"):
        M.layer_features(rand(2, 3, 4, 5), "pooled")
    with pytest.raises(ValueError, match="same samples"):
        M.cka_matrix(rand(1, 5, 3), rand(1, 6, 3))
    with pytest.raises(ValueError, match="grid"):
        M.fourier_profile(rand(2, 1, 5, 3))
    with pytest.raises(ValueError, match="across"):
        M.token_similarity(rand(2, 1, 5, 3), across="space", num_prefix=1)
