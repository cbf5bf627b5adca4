"""Dataset streaming: one pass, accumulators only, equal to the metrics on all images at once."""

from __future__ import annotations

import os

import pytest
import torch

import vitwidgets.metrics as M
from vitwidgets.core import streaming as S

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def model():
    from timm.models.vision_transformer import VisionTransformer

    from vitwidgets.core.model import ViTModel

    torch.manual_seed(0)
    net = VisionTransformer(
        img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=3
    )
    return ViTModel(net)


@pytest.fixture(scope="module")
def images():
    return torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))


class Samples(torch.utils.data.Dataset):
    def __init__(self, images, labels, masks=None):
        self.images, self.labels, self.masks = images, labels, masks

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if self.masks is None:
            return self.images[i], int(self.labels[i])
        return {"image": self.images[i], "label": int(self.labels[i]), "masks": self.masks[i]}


def test_streamed_head_stats_equal_head_stats_of_all_images_at_once(model, images):
    whole = M.head_stats(model.trace(images))
    batches = [images[:5], images[5:9], images[9:]]
    streamed = S.dataset_head_stats(model, batches, progress=False)
    assert streamed.num_images == 12
    for f in M.HeadStats._FIELDS:
        torch.testing.assert_close(getattr(streamed, f), getattr(whole, f), rtol=1e-5, atol=1e-6)
    tags = M.propose_head_tags(streamed)
    assert len(tags) == 3 * 2


def test_streamed_fourier_and_variance_equal_whole_batch(model, images):
    tr = model.trace(images, latents=True)
    prof, var = S.dataset_fourier(model, images, batch_size=5, progress=False)
    torch.testing.assert_close(prof, M.fourier_profile(tr), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(var, M.feature_variance(tr), rtol=1e-4, atol=1e-6)
    assert prof.shape[0] == 2 * 3 + 1


def test_streamed_cka_equals_minibatch_accumulation_and_cross_model_diagonal(model, images):
    acc = M.MinibatchCKA()
    for s in range(0, 12, 4):
        acc.update(M.layer_features(model.trace(images[s : s + 4]), "mean_patch"))
    streamed = S.dataset_cka(model, images, mode="mean_patch", batch_size=4, progress=False)
    torch.testing.assert_close(streamed, acc.result(), rtol=1e-6, atol=1e-8)
    cross = S.dataset_cka(model, images, model, batch_size=6, progress=False)
    torch.testing.assert_close(torch.diagonal(cross), torch.ones(3, dtype=torch.float64))


def test_dataset_features_and_knn_from_a_torch_dataset_and_a_dataloader(model, images):
    labels = torch.arange(12) % 2
    ds = Samples(images, labels)
    feats, y = S.dataset_features(model, ds, batch_size=5, progress=False)
    assert feats.shape == (3, 12, 32) and torch.equal(y, labels)
    torch.testing.assert_close(feats, M.layer_features(model.trace(images), "cls").float())
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    res = S.dataset_knn(model, loader, k=3, progress=False)
    assert res.accuracy.shape == (3,) and 0 <= res.best_layer < 3


def test_dataset_label_units_two_passes_equal_in_memory_labelling(model, images):
    masks = torch.rand(12, 2, 32, 32, generator=torch.Generator().manual_seed(2)) > 0.5
    ds = Samples(images, torch.zeros(12), masks)
    concepts = [("a", "colour"), ("b", "shape")]
    streamed = S.dataset_label_units(
        model, ds, concepts, quantile=0.9, iou_threshold=0.0, batch_size=5, progress=False
    )
    tr = model.trace(images)
    ref = M.label_units(tr.patch_tokens()[1:], masks, concepts, tr.grid, quantile=0.9,
                        iou_threshold=0.0)  # fmt: skip
    torch.testing.assert_close(streamed.iou, ref.iou)
    assert streamed.layers == (0, 1, 2)


def test_preprocessed_batches_skip_preprocessing_and_match_raw_images(model, images):
    pixels = model.preprocess(images)
    raw = S.dataset_features(model, [images[:6], images[6:]], progress=False)[0]
    pre = S.dataset_features(model, pixels, batch_size=6, progress=False, preprocessed=True)[0]
    torch.testing.assert_close(pre, raw)
    assert M.dataset_cka is S.dataset_cka  # public re-export


def test_bad_data_is_rejected(model):
    with pytest.raises(TypeError, match="iterable of batches"):
        list(S.iter_batches(42))
    with pytest.raises(ValueError, match="keys"):
        list(S.iter_batches([{"pixels": 1}]))
