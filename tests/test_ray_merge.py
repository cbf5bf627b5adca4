"""What the Ray engine rests on, without Ray: every accumulator's ``merge`` repeats ``update``'s
arithmetic, so one-batch accumulators merged in batch order are bitwise the streamed result;
engine names resolve, or fail saying what exists and what to install."""

from __future__ import annotations

import copy
import sys

import pytest
import torch

import vitwidgets.metrics as M
from vitwidgets.core import streaming as S
from vitwidgets.core.errors import UserValueError
from vitwidgets.engines import EngineUnavailableError
from vitwidgets.engines.errors import spans


@pytest.fixture(scope="module")
def model():
    from timm.models.vision_transformer import VisionTransformer

    from vitwidgets.core.model import ViTModel

    torch.manual_seed(0)
    net = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2,
                            num_classes=3)
    return ViTModel(net, device="cpu")


@pytest.fixture(scope="module")
def batches(model):
    g = torch.Generator().manual_seed(1)
    out = []
    for n in (6, 5, 7):
        x = torch.rand(n, 3, 32, 32, generator=g)
        b = S.Batch(x, torch.arange(n) % 3, torch.rand(n, 2, 32, 32, generator=g) > 0.5)
        out.append((model.trace(x, attention=True, latents=True), b))
    return out


def _bitwise(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and bool(torch.equal(a, b))
    if isinstance(a, (tuple, list)):
        return all(_bitwise(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_bitwise(a[k], b[k]) for k in a)
    if isinstance(a, M.HeadStats):
        return all(_bitwise(getattr(a, f), getattr(b, f)) for f in M.HeadStats._FIELDS)
    return a == b


def _streamed_and_merged(template, batches):
    streamed = copy.deepcopy(template)
    merged = copy.deepcopy(template)
    for trace, batch in batches:
        streamed.update(trace, batch)
        part = copy.deepcopy(template)
        part.update(trace, batch)
        merged.merge(part)
    return streamed.result(), merged.result()


@pytest.mark.parametrize("template", [
    M.HeadStatsAccumulator(), M.CKAAccumulator("mean_patch"), M.CKAAccumulator("cls", [0, 2]),
    M.FourierAccumulator(), M.FeatureAccumulator(), M.UnitThresholdAccumulator(0.9, 18, 2),
], ids=lambda a: type(a).__name__)
def test_one_batch_accumulators_merged_in_batch_order_equal_the_stream_bitwise(template, batches):
    streamed, merged = _streamed_and_merged(template, batches)
    assert _bitwise(streamed, merged)


def test_unit_iou_accumulators_merge_as_they_update(model, batches):
    thresholds = M.UnitThresholdAccumulator(0.9, 18)
    for trace, batch in batches:
        thresholds.update(trace, batch)
    blocks, grid, t = thresholds.result()
    streamed, merged = _streamed_and_merged(M.UnitIoUAccumulator(t, grid), batches)
    assert blocks == (0, 1, 2) and streamed.shape == (3, 32, 2) and _bitwise(streamed, merged)


def test_quantile_thresholds_merge_exactly_in_any_order():
    acts = torch.randn(3, 40, 8, generator=torch.Generator().manual_seed(3))
    whole = M.QuantileThreshold(0.9, 120).update(acts.reshape(-1, 8)).result()
    parts = [M.QuantileThreshold(0.9, 120).update(a) for a in acts]
    merged = parts[2].merge(parts[0]).merge(parts[1]).result()
    assert torch.equal(merged, whole)
    with pytest.raises(ValueError, match="more activations"):
        merged_again = M.QuantileThreshold(0.9, 120).update(acts[0])
        merged_again.merge(parts[1]).merge(parts[2]).merge(parts[0])


def test_cross_model_cka_accumulators_merge_as_they_update(model, batches):
    streamed, merged = M.CKAAccumulator(), M.CKAAccumulator()
    for trace, batch in batches:
        streamed.update(trace, batch, trace)
        part = M.CKAAccumulator()
        part.update(trace, batch, trace)
        merged.merge(part)
    assert _bitwise(streamed.result(), merged.result())
    assert torch.allclose(torch.diagonal(merged.result()), torch.ones(3, dtype=torch.float64))


def test_engine_names_resolve_and_unknown_ones_are_rejected(model):
    assert S.resolve_engine(None) is None and S.resolve_engine("local") is None
    with pytest.raises(UserValueError, match=r"unknown engine 'spark'.*\['ray'\]"):
        M.dataset_fourier(model, torch.rand(4, 3, 32, 32), engine="spark", progress=False)
    with pytest.raises(TypeError, match="run"):
        M.dataset_fourier(model, torch.rand(4, 3, 32, 32), engine=42, progress=False)


def test_engine_ray_without_ray_installed_says_which_extra_to_install(monkeypatch, model):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EngineUnavailableError, match=r"pip install 'vitwidgets\[ray\]'"):
        M.dataset_fourier(model, torch.rand(4, 3, 32, 32), engine="ray", progress=False)


def test_spans_joins_consecutive_batch_indices():
    assert spans([7, 0, 1, 2, 5, 8]) == "0-2, 5, 7-8"
    assert spans([3]) == "3" and spans([]) == ""


def test_a_workers_span_runs_from_its_earliest_start_to_its_latest_end_whatever_the_order():
    from vitwidgets.engines.ray import RunInfo

    info = RunInfo()
    row = {"rows": 32, "state": b"x", "pid": 7, "memory": [1, 2, 3, 4]}
    info.record({**row, "began": 20.0, "ended": 30.0}, 1.0)  # the later batch arrives first
    info.record({**row, "began": 10.0, "ended": 20.0}, 2.0)
    w = info.workers[7]
    assert (w["began"], w["ended"], w["rows"]) == (10.0, 30.0, 64)


def test_a_batch_cut_from_a_big_tensor_travels_without_the_rest_of_it():
    """A batch of a tensor is a view; torch.save of a view writes its whole storage, so each
    of 8 batches shipped all 8 (the driver's memory grew with the square of the batches)."""
    from vitwidgets.engines.ray import _loads, batch_payload

    x = torch.rand(8 * 4, 3, 16, 16)
    batches = list(S.iter_batches(x, 4))
    sizes = [len(batch_payload(b)) for b in batches]
    one_batch = x[:4].numel() * 4
    assert max(sizes) < 1.5 * one_batch, (sizes, one_batch)
    assert torch.equal(_loads(batch_payload(batches[3])).images, x[12:16])
