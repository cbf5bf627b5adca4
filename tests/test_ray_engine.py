"""The dataset analyses on Ray (``engine="ray"``): bitwise the single-process numbers for every
analysis, on every input form, with a worker killed mid-run; clear errors without Ray or its
cluster. One local Ray (2 CPUs, no dashboard, offline) serves the whole module."""

from __future__ import annotations

import math
import os
import sys

import pytest
import torch

import vitwidgets.metrics as M
from vitwidgets.core import streaming as S

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray", reason="the Ray engine's tests need the [ray] extra")

from vitwidgets.engines import EngineUnavailableError, MissingBatchesError  # noqa: E402
from vitwidgets.engines.errors import spans  # noqa: E402
from vitwidgets.engines.ray import RayEngine  # noqa: E402

pytestmark = pytest.mark.slow
N, BS = 22, 5  # five batches, the last one short
CONCEPTS = [("a", "colour"), ("b", "shape")]


@pytest.fixture(scope="module")
def local_ray():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test datasets
    RayEngine(init_kwargs={"num_cpus": 2}).connect()  # ray.init, no dashboard, retried once
    assert ray.cluster_resources()["CPU"] == 2
    yield
    ray.shutdown()


def _vit(seed: int):
    from timm.models.vision_transformer import VisionTransformer

    from vitwidgets.core.model import ViTModel

    torch.manual_seed(seed)
    net = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2,
                            num_classes=3)
    return ViTModel(net, device="cpu")


@pytest.fixture(scope="module")
def model():
    return _vit(0)


@pytest.fixture(scope="module")
def images():
    return torch.rand(N, 3, 32, 32, generator=torch.Generator().manual_seed(1))


class Samples(torch.utils.data.Dataset):
    """Map-style samples ``{"image", "label", "masks"}``; sample ``die_at`` ends its process
    (a worker dying mid-run) every time, or only the first time when ``marker`` is a path."""

    def __init__(self, images, die_at: int | None = None, marker: str | None = None):
        self.images, self.die_at, self.marker = images, die_at, marker
        self.masks = torch.rand(len(images), 2, 32, 32, generator=torch.Generator().manual_seed(2))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if i == self.die_at and not (self.marker and os.path.exists(self.marker)):
            if self.marker:
                open(self.marker, "w").close()
            os._exit(1)
        return {"image": self.images[i], "label": i % 3, "masks": self.masks[i] > 0.5}


def _accumulators():
    return {"heads": M.HeadStatsAccumulator(), "cka": M.CKAAccumulator("mean_patch"),
            "fourier": M.FourierAccumulator(), "features": M.FeatureAccumulator()}


def _assert_bitwise(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), f"{where}: max diff {(a - b).abs().max()}"
    elif isinstance(a, (tuple, list)):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_bitwise(x, y, f"{where}[{i}]")
    elif isinstance(a, M.HeadStats):
        for f in M.HeadStats._FIELDS:
            _assert_bitwise(getattr(a, f), getattr(b, f), f"{where}.{f}")
        assert a.num_images == b.num_images
    else:
        assert a == b, where


@pytest.mark.filterwarnings("ignore:CKA skipped 2 images")
def test_head_stats_cka_fourier_and_features_on_two_ray_workers_equal_one_process_bitwise(
    local_ray, model
):
    data = Samples(torch.rand(N, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    here = S.stream_metrics(model, data, _accumulators(), batch_size=BS, progress=False)
    engine = RayEngine(num_workers=2)
    there = S.stream_metrics(model, data, _accumulators(), batch_size=BS, progress=False,
                             engine=engine)
    for name in here:
        _assert_bitwise(here[name], there[name], name)
    assert engine.last_run.batches == math.ceil(N / BS) and engine.last_run.rows == N
    assert there["features"][0].shape == (3, N, 32)
    assert torch.equal(there["features"][1], torch.arange(N) % 3)  # the data's order


def test_cross_model_cka_from_a_list_of_batches_on_ray_equals_one_process(local_ray, images):
    a, b = _vit(0), _vit(1)
    batches = [images[:8], images[8:16], images[16:]]
    here = M.dataset_cka(a, batches, b, progress=False)
    there = M.dataset_cka(a, batches, b, progress=False, engine=RayEngine(num_workers=1))
    assert there.shape == (3, 3)
    _assert_bitwise(here, there, "cka")
    assert not torch.allclose(there, M.dataset_cka(a, batches, progress=False))  # two models


def test_label_units_both_passes_on_ray_equal_one_process(local_ray, model, images):
    data = Samples(images)
    kw = {"quantile": 0.9, "iou_threshold": 0.0, "batch_size": BS, "progress": False}
    here = M.dataset_label_units(model, data, CONCEPTS, **kw)
    there = M.dataset_label_units(model, data, CONCEPTS, engine=RayEngine(num_workers=1), **kw)
    _assert_bitwise(here.iou, there.iou, "iou")
    assert torch.equal(here.best_concept, there.best_concept) and there.layers == (0, 1, 2)


def _write_images(folder, n: int) -> list[int]:
    """``n`` ShapeWorld images as PNG files ``<class>/<i>.png``; their labels in file order."""
    from PIL import Image

    from vitwidgets.data import ShapeWorld

    sw = ShapeWorld(n, image_size=32)
    for i, img in enumerate(sw.images()):
        (folder / f"c{sw.labels[i]}").mkdir(exist_ok=True)
        Image.fromarray(img).save(folder / f"c{sw.labels[i]}" / f"{i:03d}.png")
    return [int(p.parent.name[1:]) for p in sorted(folder.rglob("*.png"))]


def _with_label(row: dict) -> dict:
    row["label"] = int(os.path.basename(os.path.dirname(row["path"]))[1:])
    return row


def test_features_from_ray_read_images_on_ray_equal_one_process_in_file_order(
    local_ray, model, tmp_path
):
    expected = _write_images(tmp_path, 18)
    ds = ray.data.read_images(str(tmp_path), include_paths=True, mode="RGB").map(_with_label)
    engine = RayEngine(num_workers=1)  # leaves a CPU to read the files
    feats, labels = M.dataset_features(model, ds, batch_size=BS, progress=False)
    feats_r, labels_r = M.dataset_features(model, ds, batch_size=BS, progress=False,
                                           engine=engine)
    assert labels.tolist() == expected  # the files in order, in batches of consecutive rows
    _assert_bitwise((feats, labels), (feats_r, labels_r), "features")
    assert engine.last_run.batches == math.ceil(18 / BS)
    knn = M.dataset_knn(model, ds, k=3, batch_size=BS, progress=False)  # the local path
    assert torch.equal(knn.accuracy, M.knn_per_layer(feats_r, labels_r, k=3).accuracy)


def test_a_worker_killed_mid_run_gets_its_batch_retried_and_the_result_is_complete(
    local_ray, model, images, tmp_path
):
    here = M.dataset_head_stats(model, Samples(images), batch_size=BS, progress=False)
    dying = Samples(images, die_at=7, marker=str(tmp_path / "died"))
    engine = RayEngine(num_workers=1, max_retries=2)
    there = M.dataset_head_stats(model, dying, batch_size=BS, progress=False, engine=engine)
    assert (tmp_path / "died").exists()  # the worker did die on batch 1
    _assert_bitwise(here, there, "head stats")
    assert engine.last_run.batches == math.ceil(N / BS)


def test_a_batch_that_kills_every_worker_fails_the_run_naming_the_missing_batch(
    local_ray, model, images
):
    engine = RayEngine(num_workers=1, max_retries=0)
    with pytest.raises(MissingBatchesError, match=r"missing batches [0-9, -]*") as e:
        M.dataset_head_stats(model, Samples(images, die_at=7), batch_size=BS, progress=False,
                             engine=engine)
    assert 1 in e.value.missing  # sample 7 is in batch 1
    assert spans(e.value.missing) in str(e.value)
    assert "no partial result" in str(e.value)


def test_an_unreachable_cluster_is_a_clear_error_within_seconds(monkeypatch):
    engine = RayEngine(address="127.0.0.1:9", connect_timeout_s=2.0)  # the discard port
    monkeypatch.setattr(engine.ray, "is_initialized", lambda: False)
    with pytest.raises(EngineUnavailableError, match=r"cannot reach the Ray cluster at 127"):
        engine.connect()


def test_bad_engine_options_are_rejected():
    with pytest.raises(ValueError, match="num_workers"):
        RayEngine(num_workers=0)
    with pytest.raises(ValueError, match="num_cpus"):
        RayEngine(num_cpus=0)


def test_default_pool_is_one_worker_per_cpu_less_one_for_reading_files(local_ray):
    assert RayEngine()._resources(reads=False) == (2, 0.0)
    assert RayEngine()._resources(reads=True) == (1, 0.0)  # a Ray Dataset's reads need a CPU
    assert RayEngine(num_workers=3, num_cpus=0.5)._resources(reads=True) == (3, 0.0)
