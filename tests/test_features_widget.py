"""The FeatureExplorer widget: its replies carry the core's numbers
(vitwidgets.core.features and vitwidgets.metrics), strict keywords, traits that validate, PCK
per layer from keypoints, and linking with the AttentionExplorer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import traitlets
from timm.models.vision_transformer import VisionTransformer

import vitwidgets as vw
from vitwidgets.core import metrics
from vitwidgets.core.features import SessionFeatures
from vitwidgets.core.session import Session
from vitwidgets.widgets.features import feature_dims


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=4,
                            mlp_ratio=2.0)
    return vw.load_model(net, device="cpu")


def _images(count: int = 3):
    rng = np.random.default_rng(4)
    return [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(count)]


@pytest.fixture
def fx(model):
    return vw.FeatureExplorer(model, _images())


def _ask(widget, method, **params):
    reply, buffers = widget.handle_request({"kind": "request", "id": "t", "method": method,
                                            "params": params})
    assert reply["ok"], reply.get("error")
    return reply["result"], buffers


def _arrays(result, buffers):
    return {d["name"]: torch.from_numpy(np.frombuffer(b, np.float16).copy()).float()
            .reshape(d["shape"]) for d, b in zip(result["arrays"], buffers, strict=True)}


def test_defaults_show_the_last_block_and_layer_minus_one_means_it(model, fx):
    assert (fx.layer, fx.facet, fx.k, fx.query, fx.num_prefix) == (2, "tokens", 3, -1, 1)
    assert vw.FeatureExplorer(model, _images(), layer=-2).layer == 1
    assert len(fx._images) == 3 and all(b.startswith(b"\x89PNG") for b in fx._images)


def test_layer_data_carries_the_cores_numbers(fx):
    result, buffers = _ask(fx, "layer_data", layer=1, facet="tokens", k=2)
    a = _arrays(result, buffers)
    feats = SessionFeatures(fx.session).features(1)
    torch.testing.assert_close(a["pca"], metrics.pca_rgb(feats, grid=(4, 4)).reshape(3, 16, 3),
                               atol=1e-3, rtol=0)
    labels = metrics.cluster_tokens(feats, 2, grid=(4, 4)).reshape(3, 16).float()
    assert torch.equal(a["clusters"], labels)
    units = F.normalize(feats.reshape(48, 32), dim=-1)
    coords = a["coords"].reshape(48, 32)
    err = (coords @ coords.T - units @ units.T).abs().max()
    assert err <= result["cosine_error"]  # the bound the widget states holds
    assert (result["dims"], result["full_dims"]) == (32, 32)
    assert "first principal component > 0" in result["foreground_rule"]


def test_a_small_byte_budget_ships_fewer_dims_and_says_how_exact_they_are(model):
    fx = vw.FeatureExplorer(model, _images(), max_feature_bytes=2 * 3 * 16 * 8)
    result, buffers = _ask(fx, "layer_data", layer=2, facet="tokens", k=3)
    coords = _arrays(result, buffers)["coords"].reshape(48, 8)
    units = F.normalize(SessionFeatures(fx.session).features(2).reshape(48, 32), dim=-1)
    err = float((coords @ coords.T - units @ units.T).abs().max())
    assert result["dims"] == 8 and err <= result["cosine_error"] < 1.0
    assert feature_dims(8, 196, 768, 4_000_000) is None  # ViT-B/16 over 8 images: exact
    assert feature_dims(8, 1369, 1024, 4_000_000) == 182  # ViT-L/14 at 518 px: 182 dims


def test_the_browsers_brightest_patch_is_the_cores_best_match(fx):
    result, buffers = _ask(fx, "layer_data", layer=2, facet="keys", k=3)
    coords = _arrays(result, buffers)["coords"]  # what the browser multiplies
    sims = coords[0, 5] @ coords.reshape(48, -1).T
    answer, _ = _ask(fx, "matches", image=0, patch=5, layer=2, facet="keys")
    core = SessionFeatures(fx.session).matches(0, 5, 2, "keys")
    assert answer["best"] == core.patch.tolist()
    assert answer["mutual"] == core.mutual.tolist()
    assert [int(s.argmax()) for s in sims.reshape(3, 16)] == answer["best"]


def test_matches_equal_the_cores_correspondence(fx):
    answer, _ = _ask(fx, "matches", image=1, patch=6, layer=0, facet="tokens")
    feats = SessionFeatures(fx.session).features(0)
    c = metrics.correspondence(feats[1], feats[2], torch.tensor([[12.0, 20.0]]), grid=(4, 4),
                               patch_size=8)
    assert answer["best"][2] == int(c.patch[0, 0] * 4 + c.patch[0, 1])
    assert answer["mutual"][2] == bool(c.mutual[0])
    assert answer["similarity"][2] == pytest.approx(float(c.similarity[0]), abs=1e-6)


def test_bad_requests_get_error_replies(fx):
    reply, _ = fx.handle_request({"kind": "request", "id": "x", "method": "layer_data",
                                  "params": {"layer": 7, "facet": "tokens", "k": 3}})
    assert not reply["ok"] and "layer 7 out of range" in reply["error"]
    reply, _ = fx.handle_request({"kind": "request", "id": "y", "method": "matches",
                                  "params": {"image": 0, "patch": 99, "layer": 0,
                                             "facet": "tokens"}})
    assert not reply["ok"] and "patch 99 is not a patch index 0..15" in reply["error"]
    assert fx.last_error.startswith("ValueError")


def test_unknown_keywords_and_bad_traits_are_errors(model, fx):
    with pytest.raises(TypeError, match="'facets' .*did you mean 'facet'"):
        vw.FeatureExplorer(model, _images(), facets="keys")
    with pytest.raises(traitlets.TraitError, match="query token 17 out of range -1..16"):
        fx.query = 17
    with pytest.raises(traitlets.TraitError):
        fx.k = 1
    with pytest.raises(traitlets.TraitError, match="layer 3 out of range"):
        fx.layer = 3


def test_keypoints_give_pck_per_layer_and_the_best_layer(model):
    img = _images(1)[0]
    points = [(4.0, 4.0), (20.0, 28.0)]
    fx = vw.FeatureExplorer(model, [img, img.copy()], keypoints=[points, points])
    assert fx.pck == [1.0, 1.0, 1.0] and fx.best_layer == 0
    session = Session.from_model(model, [img, img.copy()])
    far = [(28.0, 28.0), (4.0, 4.0)]
    fx.keypoints = [points, far]
    assert fx.pck == SessionFeatures(session).pck_per_layer([points, far]).tolist()
    assert vw.FeatureExplorer(model, _images()).pck == []


def test_link_keeps_image_layer_and_query_in_step_with_the_attention_explorer(model):
    images = _images()
    fx = vw.FeatureExplorer(model, images)
    ex = vw.AttentionExplorer(model, images)
    links = vw.link(fx, ex)
    fx.image_index, fx.layer, fx.query = 2, 1, 6
    assert (ex.image_index, ex.layer, ex.query) == (2, 1, 6)
    ex.query = 0  # the CLS token pinned there: no patch here
    assert fx.query == 0
    for lk in links:
        lk.unlink()
