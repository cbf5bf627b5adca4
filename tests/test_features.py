"""Per-layer patch features of a session and the FeatureExplorer's analyses
(vitwidgets.core.features): the facets equal the model's own tensors, the shipped similarity
basis keeps the cosines within its stated bound, the foreground rule, best matches and PCK."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

import vitwidgets as vw
from vitwidgets.core import metrics
from vitwidgets.core.errors import UserError
from vitwidgets.core.features import (
    FLOAT16_DOT_ERROR,
    SessionFeatures,
    border_patches,
    check_keypoints,
    foreground,
    similarity_basis,
)
from vitwidgets.core.session import Session


def _model(seed: int = 0):
    torch.manual_seed(seed)
    net = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=4,
                            mlp_ratio=2.0)
    return vw.load_model(net, device="cpu")


def _images(count: int = 3, seed: int = 1):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(count)]


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture
def feats(model):
    return SessionFeatures(Session.from_model(model, _images(), cache="64MB"))


def _cosines(x: torch.Tensor) -> torch.Tensor:
    u = F.normalize(x.reshape(-1, x.shape[-1]).double(), dim=-1)
    return u @ u.T


# -- facets -------------------------------------------------------------------------------------
def test_token_facet_is_the_block_output_of_the_trace(model, feats):
    tr = model.trace(_images(), attention=False)
    for layer in (0, 2):
        torch.testing.assert_close(feats.features(layer, "tokens"), tr.tokens[layer + 1, :, 1:])
    torch.testing.assert_close(feats.features(-1), tr.tokens[-1, :, 1:])


def test_key_and_query_facets_are_every_heads_channels_side_by_side(model, feats):
    captured = {}
    px = model.preprocess(_images()[1:2])
    model.capture_qk(px, lambda layer, q, k: captured.setdefault(layer, (q[0], k[0])))
    q, k = captured[1]  # [H, N, d], unscaled
    torch.testing.assert_close(feats.image_features(1, 1, "keys"),
                               k.permute(1, 0, 2).reshape(k.shape[1], -1)[1:])
    torch.testing.assert_close(feats.image_features(1, 1, "queries"),
                               q.permute(1, 0, 2).reshape(q.shape[1], -1)[1:])


def test_tokens_are_computed_once_per_image_and_kept_in_the_cache(feats):
    feats.features(0)
    info = feats.session.cache_info()
    tokens = [key for key, _ in info.entries if key[0] == "tokens"]
    assert len(tokens) == 3 * 3  # every block of every image, from one pass per image
    before = info.misses
    feats.features(2)
    assert feats.session.cache_info().misses == before


def test_unknown_facet_and_trace_sessions_without_keys_say_what_to_do(model):
    s = Session(model.trace(_images(), tokens=False), model=model)
    with pytest.raises(UserError, match="facet must be one of tokens, keys, queries"):
        SessionFeatures(s).features(0, "values")
    with pytest.raises(UserError, match="holds no tokens"):
        SessionFeatures(s).features(0, "tokens")
    with pytest.raises(UserError, match="Session.from_model"):
        SessionFeatures(s).features(0, "keys")


# -- the similarity basis ----------------------------------------------------------------------
def test_basis_without_truncation_gives_the_cosines():
    x = torch.randn(2, 6, 5, generator=torch.Generator().manual_seed(0))
    basis = similarity_basis(x, max_dims=8)
    c = basis.coords.reshape(12, 5).double()
    torch.testing.assert_close(c @ c.T, _cosines(x), atol=1e-6, rtol=0)
    assert (basis.dims, basis.full_dims, basis.error_bound) == (5, 5, FLOAT16_DOT_ERROR)


def test_truncated_basis_of_rank_k_features_is_exact():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 8, 2, generator=g) @ torch.randn(2, 16, generator=g)  # rank 2 in 16 dims
    basis = similarity_basis(x, max_dims=2)
    c = basis.coords.reshape(24, 2).double()
    torch.testing.assert_close(c @ c.T, _cosines(x), atol=1e-5, rtol=0)
    assert basis.error_bound < FLOAT16_DOT_ERROR + 1e-5


def test_float16_cosines_of_a_truncated_basis_stay_within_the_stated_bound():
    x = torch.randn(4, 49, 96, generator=torch.Generator().manual_seed(2)) + 0.5
    basis = similarity_basis(x, max_dims=24)
    c = basis.coords.reshape(-1, 24).half().float().double()  # what the browser multiplies
    err = float((c @ c.T - _cosines(x)).abs().max())
    assert 0.05 < err <= basis.error_bound  # a real truncation, and the bound holds
    assert basis.dims == 24 and basis.full_dims == 96


# -- foreground ----------------------------------------------------------------------------------
def _blob_features(sign: float) -> torch.Tensor:
    """Two 4x4 images: the centre 2x2 patches along +v, the rest along -v (times sign)."""
    g = torch.Generator().manual_seed(3)
    v = torch.randn(8, generator=g)
    centre = torch.zeros(4, 4, dtype=torch.bool)
    centre[1:3, 1:3] = True
    x = torch.where(centre.flatten()[:, None], v, -v) * sign
    return torch.stack([x, x]) + 0.01 * torch.randn(2, 16, 8, generator=g), centre.flatten()


def test_border_patches_are_the_outer_ring():
    assert border_patches((3, 4)).reshape(3, 4).tolist() == [
        [True, True, True, True], [True, False, False, True], [True, True, True, True]]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_foreground_is_the_centre_whatever_sign_the_pca_gives(sign):
    x, centre = _blob_features(sign)
    fg = foreground(x, (4, 4))
    assert fg.mask.tolist() == [centre.tolist()] * 2
    assert fg.border_foreground == 0.0
    torch.testing.assert_close(fg.score.abs(), metrics.pca_project(x.reshape(32, 8), 1)
                               .reshape(2, 16).abs())


def test_the_orientation_flips_exactly_one_of_opposite_features():
    flips = {foreground(_blob_features(s)[0], (4, 4)).flipped for s in (1.0, -1.0)}
    assert flips == {True, False}


def test_foreground_rule_finds_shapeworld_objects_with_real_dinov2(dinov2_weights):
    from vitwidgets.data.shapeworld import ShapeWorld

    m = vw.load_model("vit_small_patch14_dinov2", checkpoint=dinov2_weights, img_size=224,
                      device="cpu")
    ds = ShapeWorld(6, seed=1, image_size=224, max_objects=1)
    images, records = zip(*[ds[i] for i in range(6)], strict=True)
    sf = SessionFeatures(Session.from_model(m, list(images)))
    grid = sf.session.grid
    masks = torch.tensor(np.stack([r["object_masks"].any(0) for r in records]), dtype=torch.float)
    truth = (F.adaptive_avg_pool2d(masks, grid) > 0.5).reshape(6, -1)
    fg = foreground(sf.features(7), grid)  # a middle block (layer 7 of 12)
    iou = float((fg.mask & truth).sum() / (fg.mask | truth).sum())
    chance = float(fg.mask.double().mean() * truth.double().mean()
                   / (fg.mask.double().mean() + truth.double().mean()))
    assert iou > 0.45 and iou > 4 * chance, (iou, chance)


# -- matches and PCK -----------------------------------------------------------------------------
def test_matches_are_the_cores_correspondence_in_every_image(feats):
    m = feats.matches(1, 5, 2)
    f = feats.features(2)
    for j in (0, 2):
        c = metrics.correspondence(f[1], f[j], torch.tensor([[12.0, 12.0]]), grid=(4, 4),
                                   patch_size=8)
        assert int(m.patch[j]) == int(c.patch[0, 0] * 4 + c.patch[0, 1])
        assert bool(m.mutual[j]) == bool(c.mutual[0])
        torch.testing.assert_close(m.similarity[j], c.similarity[0])
    assert int(m.patch[1]) == 5 and bool(m.mutual[1])
    torch.testing.assert_close(m.similarity[1], torch.tensor(1.0), atol=1e-6, rtol=0)


def test_matches_run_on_one_cpu_thread_and_restore_the_thread_count(feats, monkeypatch):
    seen = []
    real = metrics.correspondence
    monkeypatch.setattr(metrics, "correspondence",
                        lambda *a, **k: seen.append(torch.get_num_threads()) or real(*a, **k))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        feats.matches(0, 3, 1)
        assert seen == [1, 1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_pck_is_one_for_an_image_and_its_copy_and_zero_for_far_targets(model):
    img = _images(1)[0]
    sf = SessionFeatures(Session.from_model(model, [img, img.copy()]))
    points = [(4.0, 4.0), (20.0, 28.0), (12.0, 20.0)]  # patch centres
    assert sf.pck_per_layer([points, points]).tolist() == [1.0, 1.0, 1.0]
    far = [(28.0, 28.0) if y < 16 else (4.0, 4.0) for y, _ in points]
    assert sf.pck_per_layer([points, far], alpha=0.1).tolist() == [0.0, 0.0, 0.0]


def test_pck_counts_only_names_both_images_have(model):
    img = _images(1)[0]
    sf = SessionFeatures(Session.from_model(model, [img, img.copy()]))
    a = {"eye": (4.0, 4.0), "tail": (28.0, 28.0)}
    b = {"eye": (4.0, 4.0), "nose": (12.0, 12.0)}
    assert sf.pck_per_layer([a, b]).tolist() == [1.0, 1.0, 1.0]


def test_bad_keypoints_get_clear_errors():
    with pytest.raises(UserError, match="one entry per image"):
        check_keypoints("nope", 2, (32, 32))
    with pytest.raises(UserError, match="2 entries for 3 images"):
        check_keypoints([[], []], 3, (32, 32))
    with pytest.raises(UserError, match=r"keypoint 'a' of image 1 .* outside the 32x32"):
        check_keypoints([{}, {"a": (40, 3)}], 2, (32, 32))
    with pytest.raises(UserError, match="pair"):
        check_keypoints([[(1, 2, 3)]], 1, (32, 32))
    assert check_keypoints([[(1, 2)], {"x": (3, 4)}], 2, (32, 32)) == [
        {"0": (1.0, 2.0)}, {"x": (3.0, 4.0)}]
