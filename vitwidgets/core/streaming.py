"""Dataset-level metrics: stream a dataset once through the model, keep only accumulators.

Data can be an iterable of batches (lists of images, ``[B, 3, H, W]`` tensors, ``(images,
labels[, masks])`` tuples or dicts with ``"image"``/``"label"``/``"masks"``), a torch
``Dataset`` (samples are batched here) or a ``DataLoader``. Every batch runs through
``model.trace`` once, with a tqdm progress bar; the accumulators update on the model's device
(GPU when present) and no trace is kept after its batch.

    acc = {"heads": HeadStatsAccumulator(), "cka": CKAAccumulator("cls")}
    out = stream_metrics(m, loader, acc)     # {"heads": HeadStats, "cka": [L, L]}

An accumulator is any object with ``needs`` (which captures it wants, e.g.
``{"tokens": True}``), ``update(trace, batch)`` and ``result()`` (see :class:`Accumulator`).
The accumulators of the metrics live next to the metric they accumulate
(:class:`~vitwidgets.core.metrics.attention.HeadStatsAccumulator`,
:class:`~vitwidgets.core.metrics.representation.CKAAccumulator`, ``FourierAccumulator``,
``FeatureAccumulator``) and are re-exported here; this module is the dataset driver.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader, Dataset

from vitwidgets.core.indexing import LayersArg, block_indices
from vitwidgets.core.metrics.attention import HeadStats, HeadStatsAccumulator
from vitwidgets.core.metrics.concepts import ConceptIoU, ConceptLabels, QuantileThreshold
from vitwidgets.core.metrics.probing import ProbeResult, knn_per_layer, linear_probe_per_layer
from vitwidgets.core.metrics.representation import (
    CKAAccumulator,
    FeatureAccumulator,
    FourierAccumulator,
)
from vitwidgets.core.trace import Trace

__all__ = [
    "Batch",
    "Accumulator",
    "iter_batches",
    "stream_traces",
    "stream_metrics",
    "HeadStatsAccumulator",
    "CKAAccumulator",
    "FourierAccumulator",
    "FeatureAccumulator",
    "dataset_head_stats",
    "dataset_cka",
    "dataset_fourier",
    "dataset_features",
    "dataset_knn",
    "dataset_linear_probe",
    "dataset_label_units",
]

_IMAGE_KEYS = ("image", "images", "img", "pixel_values")
_LABEL_KEYS = ("label", "labels", "target", "targets", "y")
_MASK_KEYS = ("masks", "mask", "concept_masks")


@dataclass
class Batch:
    """One batch: ``images`` (anything ``model.trace`` accepts), optional ``labels [B]`` and
    ``masks [B, C, H, W]``."""

    images: Any
    labels: torch.Tensor | None = None
    masks: torch.Tensor | None = None


def _first(d: dict, keys) -> Any:
    for k in keys:
        if k in d:
            return d[k]
    return None


def _split(item: Any) -> tuple[Any, Any, Any]:
    if isinstance(item, dict):
        images = _first(item, _IMAGE_KEYS)
        if images is None:
            raise ValueError(f"a dict batch needs one of the keys {_IMAGE_KEYS}, got {list(item)}")
        return images, _first(item, _LABEL_KEYS), _first(item, _MASK_KEYS)
    if (  # torch's default collate turns (images, labels) samples into a list
        isinstance(item, list)
        and 2 <= len(item) <= 3
        and isinstance(item[0], torch.Tensor)
        and item[0].ndim == 4
        and not (isinstance(item[1], torch.Tensor) and item[1].ndim >= 3)
    ):
        item = tuple(item)
    if isinstance(item, tuple):
        if not 1 <= len(item) <= 3:
            raise ValueError(
                "a tuple batch must be (images,), (images, labels) or "
                f"(images, labels, masks); got {len(item)} elements"
            )
        return (*item, None, None)[:3]
    return item, None, None


def _as_labels(y: Any) -> torch.Tensor | None:
    if y is None:
        return None
    return torch.as_tensor(y).reshape(-1)


def _collate(samples: list) -> Batch:
    parts = [_split(s) for s in samples]
    images = [p[0] for p in parts]
    labels = None if parts[0][1] is None else _as_labels([int(p[1]) for p in parts])
    masks = None if parts[0][2] is None else torch.stack([torch.as_tensor(p[2]) for p in parts])
    return Batch(images, labels, masks)


def _num_batches(data: Any, batch_size: int) -> int | None:
    if isinstance(data, Dataset) and not isinstance(data, DataLoader):
        return math.ceil(len(data) / batch_size) if hasattr(data, "__len__") else None
    if isinstance(data, torch.Tensor):
        return math.ceil(data.shape[0] / batch_size)
    try:
        return len(data)
    except TypeError:
        return None


def iter_batches(data: Any, batch_size: int = 16) -> Iterator[Batch]:
    """Normalise any supported dataset form into :class:`Batch` objects (see module doc).

    A ``[N, 3, H, W]`` tensor is cut into batches of ``batch_size``; a map-style torch
    ``Dataset``'s samples are grouped by ``batch_size``; any other iterable (a DataLoader, a
    list, a generator) yields one batch per element.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if isinstance(data, torch.Tensor):
        if data.ndim != 4:
            raise ValueError(f"a tensor dataset must be [N, 3, H, W], got {tuple(data.shape)}")
        for s in range(0, data.shape[0], batch_size):
            yield Batch(data[s : s + batch_size])
        return
    if isinstance(data, Dataset) and not isinstance(data, DataLoader):
        if not hasattr(data, "__len__"):
            raise TypeError("an iterable-style Dataset: wrap it in a DataLoader")
        for s in range(0, len(data), batch_size):
            yield _collate([data[i] for i in range(s, min(s + batch_size, len(data)))])
        return
    if not isinstance(data, Iterable):
        raise TypeError(
            "data must be an iterable of batches, a torch Dataset, a DataLoader or a "
            f"[N, 3, H, W] tensor; got {type(data).__name__}"
        )
    for item in data:
        images, labels, masks = _split(item)
        yield Batch(images, _as_labels(labels), None if masks is None else torch.as_tensor(masks))


def stream_traces(
    model: Any,
    data: Any,
    *,
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "streaming",
    preprocessed: bool = False,
    **trace_kwargs: Any,
) -> Iterator[tuple[Trace, Batch]]:
    """Yield ``(trace, batch)`` for every batch, tracing each once under ``inference_mode``
    with a tqdm bar. Do not keep the traces: update accumulators and let them go.

    ``preprocessed=True``: the batches are already the model's input ``[B, 3, H, W]``
    (normalised, e.g. from a DataLoader with the model's transforms): no preprocessing."""
    from tqdm.auto import tqdm

    total = _num_batches(data, batch_size)
    bar = tqdm(iter_batches(data, batch_size), total=total, desc=desc, disable=not progress)
    with torch.inference_mode():
        for batch in bar:
            if preprocessed:
                yield model.trace(None, pixels=torch.as_tensor(batch.images), **trace_kwargs), batch
            else:
                yield model.trace(batch.images, **trace_kwargs), batch


class Accumulator(Protocol):
    """What :func:`stream_metrics` feeds: ``needs`` names the captures the accumulator reads
    (keys of ``model.trace``: ``attention``, ``tokens``, ``latents``), ``update`` sees every
    batch's trace once, ``result`` gives the dataset-level value."""

    needs: dict[str, bool]

    def update(self, trace: Trace, batch: Batch) -> None: ...

    def result(self) -> Any: ...


def _trace_kwargs(accumulators: Iterable[Accumulator], extra: dict) -> dict:
    kw = {"attention": False, "tokens": False, "latents": False}
    for acc in accumulators:
        kw.update({k: True for k, v in acc.needs.items() if v})
    kw.update(extra)
    return kw


def stream_metrics(
    model: Any,
    data: Any,
    accumulators: dict[str, Accumulator],
    *,
    batch_size: int = 16,
    progress: bool = True,
    preprocessed: bool = False,
    **trace_kwargs: Any,
) -> dict[str, Any]:
    """Stream ``data`` once through ``model`` feeding every accumulator; returns
    ``{name: accumulator.result()}``. ``trace_kwargs`` go to ``model.trace`` (e.g.
    ``attn_dtype=torch.float16``, ``layers=[...]``); ``preprocessed`` as in
    :func:`stream_traces`."""
    if not accumulators:
        raise ValueError("no accumulator given")
    kw = _trace_kwargs(accumulators.values(), trace_kwargs)
    for trace, batch in stream_traces(
        model, data, batch_size=batch_size, progress=progress, preprocessed=preprocessed, **kw
    ):
        for acc in accumulators.values():
            acc.update(trace, batch)
        del trace
    return {name: acc.result() for name, acc in accumulators.items()}


def dataset_head_stats(model: Any, data: Any, **kwargs: Any) -> HeadStats:
    """Per-head attention statistics over a dataset (input of ``propose_head_tags``)."""
    return stream_metrics(model, data, {"h": HeadStatsAccumulator()}, **kwargs)["h"]


def dataset_cka(
    model: Any,
    data: Any,
    model_b: Any | None = None,
    *,
    mode: str = "cls",
    layers: LayersArg = None,
    batch_size: int = 16,
    progress: bool = True,
    preprocessed: bool = False,
) -> torch.Tensor:
    """Minibatch CKA ``[K, K]`` within ``model`` or ``[K, K']`` between ``model`` and
    ``model_b`` on the same images (Nguyen, Raghu & Kornblith 2021); ``mode`` and ``layers``
    (residual-stream entries, default the ``L`` block outputs; may contain ``"embedding"``) as
    :func:`~vitwidgets.core.metrics.representation.layer_features`. With ``preprocessed``
    both models get the same pixel tensors (same input size and normalisation needed);
    otherwise each preprocesses the raw images itself."""
    acc = CKAAccumulator(mode, layers)
    common = {"batch_size": batch_size, "progress": progress, "preprocessed": preprocessed}
    if model_b is None:
        return stream_metrics(model, data, {"c": acc}, **common)["c"]
    kw = {"attention": False, "tokens": True, "latents": False}
    for trace, batch in stream_traces(model, data, desc="CKA", **common, **kw):
        with torch.inference_mode():
            if preprocessed:  # both models must take the same input
                other = model_b.trace(None, pixels=torch.as_tensor(batch.images), **kw)
            else:  # each model preprocesses the raw images its own way
                other = model_b.trace(batch.images, **kw)
        acc.update(trace, batch, other)
    return acc.result()


def dataset_fourier(
    model: Any, data: Any, *, include_nyquist: bool = True, **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fourier_profile [2L+1, n], feature_variance [2L+1])`` over a dataset (Park & Kim
    2022)."""
    acc = FourierAccumulator(include_nyquist)
    return stream_metrics(model, data, {"f": acc}, **kwargs)["f"]


def dataset_features(
    model: Any, data: Any, mode: str = "cls", **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(features [L, n, D], labels [n] | None)`` of the block outputs over a dataset."""
    return stream_metrics(model, data, {"f": FeatureAccumulator(mode)}, **kwargs)["f"]


def _labelled(model, data, mode, what, kwargs):
    feats, labels = dataset_features(model, data, mode, **kwargs)
    if labels is None:
        raise ValueError(f"the {what} data yields no labels: give (images, labels) batches")
    return feats, labels


def dataset_knn(
    model: Any,
    train: Any,
    test: Any | None = None,
    *,
    k: int = 20,
    temperature: float = 0.07,
    mode: str = "cls",
    **kwargs: Any,
) -> ProbeResult:
    """k-NN accuracy per layer (Walmer et al. 2023; leave-one-out on ``train`` when ``test`` is
    None)."""
    xtr, ytr = _labelled(model, train, mode, "train", kwargs)
    xte, yte = (None, None) if test is None else _labelled(model, test, mode, "test", kwargs)
    return knn_per_layer(xtr, ytr, xte, yte, k=k, temperature=temperature)


def dataset_linear_probe(
    model: Any, train: Any, test: Any | None = None, *, mode: str = "cls", **kwargs: Any
) -> ProbeResult:
    """Linear-probe accuracy per layer (held-out split of ``train`` when ``test`` is None)."""
    xtr, ytr = _labelled(model, train, mode, "train", kwargs)
    xte, yte = (None, None) if test is None else _labelled(model, test, mode, "test", kwargs)
    return linear_probe_per_layer(xtr, ytr, xte, yte)


def dataset_label_units(
    model: Any,
    data: Any,
    concepts: list[tuple[str, str]],
    *,
    layers: LayersArg = None,
    quantile: float = 0.995,
    iou_threshold: float = 0.04,
    num_images: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> ConceptLabels:
    """Network-Dissection labels of the residual units after each block (Dorszewski et al.
    2025), in two streaming passes: exact per-unit quantile thresholds, then dataset IoUs with
    the masks. ``layers``: the blocks, as :func:`vitwidgets.core.indexing.block_indices`
    (``None`` all, an int ``n`` the last ``n``, or block indices; ``-1`` = the last block).

    ``data`` must be re-iterable and yield masks (``(images, labels, masks)`` or dict batches);
    ``num_images`` is needed when its length is unknown (the exact quantile keeps only the
    top values, which needs the total count up front).
    """
    if num_images is None:
        if isinstance(data, DataLoader):
            num_images = len(data.dataset)
        elif isinstance(data, (Dataset, torch.Tensor)):
            num_images = len(data)
        else:
            raise ValueError("give num_images= (total images) for an iterable of batches")
    kw = {"attention": False, "tokens": True, "latents": False}
    thresholds: dict[int, QuantileThreshold] = {}
    sel: list[int] | None = None
    grid = None
    for trace, _ in stream_traces(
        model, data, batch_size=batch_size, progress=progress, desc="unit thresholds", **kw
    ):
        if sel is None:
            owner = trace.model_name or "the model"
            sel = list(block_indices(layers, trace.num_layers, owner=owner))
            grid = trace.grid
            total = num_images * trace.num_patches
            thresholds = {b: QuantileThreshold(quantile, total) for b in sel}
        for b in sel:
            thresholds[b].update(trace.patch_tokens(b))
    if sel is None:
        raise ValueError("no batch streamed")
    ious = {b: ConceptIoU(thresholds[b].result(), grid) for b in sel}
    for trace, batch in stream_traces(
        model, data, batch_size=batch_size, progress=progress, desc="unit IoU", **kw
    ):
        if batch.masks is None:
            raise ValueError("label_units needs concept masks in every batch")
        for b in sel:
            ious[b].update(trace.patch_tokens(b), batch.masks.to(trace.device))
    iou = torch.stack([ious[b].iou() for b in sel])
    return ConceptLabels.from_iou(iou, concepts, sel, iou_threshold)
