"""DepthProfile: every curve is the core's number for the same images (Fourier and variance per
sub-layer latent, attention distance and NMI, token similarity, k-NN and linear probe per
block), computed in one pass per model; the wire carries them with their depths; several
models share a depth axis; a click's ``layer`` links to other views."""

from __future__ import annotations

import asyncio
import os

import pytest
import torch
import traitlets
from factories import IDENTITY, in_own_loop, tiny_vit, toy_trace

import vitwidgets as vw
from vitwidgets.core import streaming as S
from vitwidgets.core.metrics.probing import knn_per_layer, linear_probe_per_layer
from vitwidgets.core.metrics.representation import token_similarity
from vitwidgets.core.profiles import depth_profile, latent_depths
from vitwidgets.core.session import Session
from vitwidgets.widgets import AttentionExplorer, DepthProfile
from vitwidgets.widgets.depth_profile import profile_wire

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def model():
    return tiny_vit(3, 0)


@pytest.fixture(scope="module")
def images():
    return torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))


LABELS = torch.arange(16) % 2


@pytest.fixture(scope="module")
def view(model, images):
    return DepthProfile(model, images, labels=LABELS, batch_size=8, background=False)


def test_fourier_and_variance_are_the_cores_per_sub_layer_latent(model, images, view):
    (p,) = view.profiles
    fourier, variance = S.dataset_fourier(model, images, batch_size=8, progress=False)
    assert p.sub_layers and fourier.shape[0] == 2 * 3 + 1
    torch.testing.assert_close(p.fourier, fourier.cpu())
    torch.testing.assert_close(p.high_frequency, fourier[:, -1].cpu())
    torch.testing.assert_close(p.variance, variance.cpu())


def test_attention_distance_and_nmi_are_the_cores_head_means(model, images, view):
    (p,) = view.profiles
    stats = S.dataset_head_stats(model, images, batch_size=8, progress=False)
    torch.testing.assert_close(p.distance_px, stats.distance_pixels.mean(1).cpu())
    torch.testing.assert_close(p.nmi, stats.nmi.mean(1).cpu())
    expected = token_similarity(model.trace(images)).double().mean(1)
    torch.testing.assert_close(p.token_similarity, expected, rtol=1e-6, atol=1e-7)


def test_probes_are_the_cores_on_the_cls_features_with_the_best_block(model, images, view):
    (p,) = view.profiles
    feats, _ = S.dataset_features(model, images, "cls", batch_size=8, progress=False)
    knn = knn_per_layer(feats, LABELS, layers=(0, 1, 2))
    lin = linear_probe_per_layer(feats, LABELS, layers=(0, 1, 2))
    torch.testing.assert_close(p.knn.accuracy, knn.accuracy)
    torch.testing.assert_close(p.linear_probe.accuracy, lin.accuracy)
    assert (p.knn.best_layer, p.linear_probe.best_layer) == (knn.best_layer, lin.best_layer)
    assert view.has_labels


def test_the_wire_carries_the_profiles_numbers_and_depths(view):
    (p,) = view.profiles
    (w,) = view._profiles
    assert w == profile_wire("VisionTransformer", p)
    assert w["depths"] == [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    assert w["high_frequency"] == p.fourier[:, -1].tolist()
    assert w["nmi"] == p.nmi.tolist() and w["knn"] == p.knn.accuracy.tolist()
    assert w["knn_best"] == p.knn.best_layer and w["probe_best"] == p.linear_probe.best_layer
    assert (view.done, view.status, view.error) == (True, "", "")


def test_latent_depths_put_attention_halfway_between_block_outputs():
    assert latent_depths(2, True).tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert latent_depths(2, False).tolist() == [-1.0, 0.0, 1.0]


def test_labels_in_the_batches_count_like_labels_given(model, images):
    batches = [(images[:8], LABELS[:8]), (images[8:], LABELS[8:])]
    p = depth_profile(model, batches, probe=False)
    given = depth_profile(model, images, labels=LABELS, batch_size=8, probe=False)
    torch.testing.assert_close(p.knn.accuracy, given.knn.accuracy)
    assert p.linear_probe is None


def test_several_models_share_a_relative_axis_when_their_depths_differ(images):
    a, b = tiny_vit(3, 0), tiny_vit(5, 2)
    view = DepthProfile({"three": a, "five": b}, images, batch_size=8, background=False)
    assert view.names == ["three", "five"] and view.depth_axis == "relative"
    assert [w["num_layers"] for w in view._profiles] == [3, 5]
    assert not view.has_labels and view._profiles[0]["knn"] is None
    same = DepthProfile([a, a], images, batch_size=8, depth_axis="block", background=False)
    assert same.names == ["VisionTransformer", "VisionTransformer (2)"]
    assert same._profiles[0] == same._profiles[1] | {"name": "VisionTransformer"}


def test_a_click_sets_layer_which_links_to_other_views(view):
    ex = AttentionExplorer(Session(toy_trace(), identity=IDENTITY))
    vw.link(view, ex)
    view.layer = 2  # what a click near block 2 sets
    assert ex.layer == 2
    with pytest.raises(traitlets.TraitError, match="out of range"):
        view.layer = 3


def test_bad_arguments_and_streaming_errors_say_what_was_expected(model, images):
    with pytest.raises(ValueError, match="labels has 3 entries but the data has 16 images"):
        DepthProfile(model, images, labels=[0, 1, 0], batch_size=8, background=False)
    with pytest.raises(ValueError, match="give at least one model"):
        DepthProfile({}, images)
    with pytest.raises(TypeError, match="unexpected keyword argument 'axis'"):
        DepthProfile(model, images, axis="relative")

    async def run():
        view = DepthProfile(model, images, labels=[0, 1, 0], batch_size=8)
        assert view.status == "computing depth profiles: 0 batches…"
        for _ in range(200):
            if view.error or view.done:
                break
            await asyncio.sleep(0.05)
        return view

    view = in_own_loop(run)
    assert view.error == "ValueError: labels has 3 entries but the data has 16 images"
    assert view.status == "" and not view.done


def test_a_post_norm_model_profiles_its_residual_stream_instead_of_sub_layers(images):
    from timm.models.vision_transformer import ResPostBlock, VisionTransformer

    from vitwidgets.core.metrics.representation import feature_variance, fourier_profile
    from vitwidgets.core.model import ViTModel

    torch.manual_seed(0)
    post = ViTModel(VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=3,
                                      num_heads=2, num_classes=3, block_fn=ResPostBlock))
    view = DepthProfile(post, images, batch_size=8, background=False)
    (p,) = view.profiles
    trace = post.trace(images, attention=False)  # tokens [L+1, ...]: no latents
    assert not p.sub_layers and p.fourier.shape[0] == 4
    torch.testing.assert_close(p.fourier, fourier_profile(trace), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(p.variance, feature_variance(trace), rtol=1e-5, atol=1e-6)
    assert view._profiles[0]["depths"] == [-1.0, 0.0, 1.0, 2.0]
