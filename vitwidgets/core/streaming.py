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

Every accumulator also has ``merge(other)``, which adds another accumulator's batches with the
same arithmetic as ``update``: folding one-batch accumulators in batch order gives bitwise the
single-process result. That is how a distributed engine runs the same analyses
(``engine="ray"``: :mod:`vitwidgets.engines.ray`, the ``vitwidgets[ray]`` extra): workers
return one state per batch and the driver merges them in batch order. Engines are named in
:data:`ENGINES` and imported only when asked for (as pandas names its plotting backends), so
the core never imports them.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vitwidgets.core.errors import UserTypeError, UserValueError
from vitwidgets.core.indexing import LayersArg
from vitwidgets.core.metrics.attention import HeadStats, HeadStatsAccumulator
from vitwidgets.core.metrics.concepts import (
    ConceptLabels,
    UnitIoUAccumulator,
    UnitThresholdAccumulator,
)
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
    "Engine",
    "Job",
    "ENGINES",
    "resolve_engine",
    "run_accumulators",
    "batch_from_columns",
    "iter_batches",
    "dataset_batch",
    "is_ray_dataset",
    "trace_batch",
    "update_all",
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


def dataset_batch(data: Dataset, index: int, batch_size: int) -> Batch:
    """Batch ``index`` of a map-style torch ``Dataset``: its samples
    ``index * batch_size .. (index + 1) * batch_size - 1`` collated (see :func:`iter_batches`)."""
    start = index * batch_size
    return _collate([data[i] for i in range(start, min(start + batch_size, len(data)))])


def is_ray_dataset(data: Any) -> bool:
    """Whether ``data`` is a ``ray.data.Dataset`` (told from its type, without importing Ray)."""
    return any(
        c.__name__ == "Dataset" and c.__module__.startswith("ray.data") for c in type(data).__mro__
    )


def ordered_ray_dataset(data: Any) -> Any:
    """A copy of a Ray Dataset that yields its rows in their order (Ray Data's
    ``preserve_order``), so that its batches of ``batch_size`` consecutive rows are the same in
    every run, in this process and on an engine. The user's dataset is left as it is."""
    ds = type(data).copy(data, _deep_copy=True)
    ds.context.execution_options.preserve_order = True
    return ds


def _column_images(images: Any, preprocessed: bool) -> Any:
    if preprocessed:
        return torch.as_tensor(np.stack(list(images)) if images.dtype == object else images)
    return list(images)  # numpy HWC images (one per row; sizes may differ)


def batch_from_columns(columns: dict[str, Any], preprocessed: bool = False) -> Batch:
    """A :class:`Batch` from a column batch (a dict of arrays with one row per image, as Ray
    Data's ``batch_format="numpy"`` gives, e.g. from ``ray.data.read_images``): images from the
    ``"image"`` column (numpy ``[H, W, C]`` per row; the model's input ``[3, H, W]`` when
    ``preprocessed``), labels from a ``"label"`` column, masks ``[C, H, W]`` per row from a
    ``"masks"`` column (other spellings as for dict batches, see the module doc)."""
    images = _first(columns, _IMAGE_KEYS)
    if images is None:
        raise UserValueError(
            f"a column batch needs one of the columns {_IMAGE_KEYS} for the images; got "
            f"{sorted(columns)}"
        )
    labels, masks = _first(columns, _LABEL_KEYS), _first(columns, _MASK_KEYS)
    labels = None if labels is None else np.array(labels)  # Ray's arrays are read-only
    if masks is not None:
        masks = torch.as_tensor(np.stack(list(masks)) if masks.dtype == object else masks)
    return Batch(_column_images(images, preprocessed), _as_labels(labels), masks)


def _num_batches(data: Any, batch_size: int) -> int | None:
    if is_ray_dataset(data):
        return None  # counting may read the whole dataset once more
    if isinstance(data, Dataset) and not isinstance(data, DataLoader):
        return math.ceil(len(data) / batch_size) if hasattr(data, "__len__") else None
    if isinstance(data, torch.Tensor):
        return math.ceil(data.shape[0] / batch_size)
    try:
        return len(data)
    except TypeError:
        return None


def iter_batches(data: Any, batch_size: int = 16, preprocessed: bool = False) -> Iterator[Batch]:
    """Normalise any supported dataset form into :class:`Batch` objects (see module doc).

    A ``[N, 3, H, W]`` tensor is cut into batches of ``batch_size``; a map-style torch
    ``Dataset``'s samples are grouped by ``batch_size``; a ``ray.data.Dataset`` is read in its
    row order in batches of ``batch_size`` rows (:func:`batch_from_columns`); any other
    iterable (a DataLoader, a list, a generator) yields one batch per element.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if isinstance(data, torch.Tensor):
        if data.ndim != 4:
            raise ValueError(f"a tensor dataset must be [N, 3, H, W], got {tuple(data.shape)}")
        for s in range(0, data.shape[0], batch_size):
            yield Batch(data[s : s + batch_size])
        return
    if is_ray_dataset(data):
        ds = ordered_ray_dataset(data)
        for columns in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
            yield batch_from_columns(columns, preprocessed)
        return
    if isinstance(data, Dataset) and not isinstance(data, DataLoader):
        if not hasattr(data, "__len__"):
            raise TypeError("an iterable-style Dataset: wrap it in a DataLoader")
        for k in range(math.ceil(len(data) / batch_size)):
            yield dataset_batch(data, k, batch_size)
        return
    if not isinstance(data, Iterable):
        raise TypeError(
            "data must be an iterable of batches, a torch Dataset, a DataLoader, a "
            f"ray.data.Dataset or a [N, 3, H, W] tensor; got {type(data).__name__}"
        )
    for item in data:
        images, labels, masks = _split(item)
        yield Batch(images, _as_labels(labels), None if masks is None else torch.as_tensor(masks))


def trace_batch(model: Any, batch: Batch, preprocessed: bool, trace_kwargs: dict) -> Trace:
    """``model.trace`` of one batch under ``inference_mode`` (``preprocessed``: the images are
    already the model's input ``[B, 3, H, W]``)."""
    with torch.inference_mode():
        if preprocessed:
            return model.trace(None, pixels=torch.as_tensor(batch.images), **trace_kwargs)
        return model.trace(batch.images, **trace_kwargs)


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
    batches = iter_batches(data, batch_size, preprocessed)
    for batch in tqdm(batches, total=total, desc=desc, disable=not progress):
        yield trace_batch(model, batch, preprocessed, trace_kwargs), batch


class Accumulator(Protocol):
    """What :func:`stream_metrics` feeds: ``needs`` names the captures the accumulator reads
    (keys of ``model.trace``: ``attention``, ``tokens``, ``latents``), ``update`` sees every
    batch's trace once, ``merge`` adds another accumulator's batches (in place, with the same
    arithmetic as ``update``), ``result`` gives the dataset-level value."""

    needs: dict[str, bool]

    def update(self, trace: Trace, batch: Batch) -> None: ...

    def merge(self, other: Any) -> Any: ...

    def result(self) -> Any: ...


def update_all(
    accumulators: dict[str, Accumulator], trace: Trace, batch: Batch, other: Trace | None = None
) -> None:
    """Feed one batch to every accumulator (``other``: the second model's trace of the same
    batch, for cross-model accumulators)."""
    for acc in accumulators.values():
        if other is None:
            acc.update(trace, batch)
        else:
            acc.update(trace, batch, other)


@dataclass
class Job:
    """One streaming pass for an engine: trace every batch of ``data`` (``batch_size`` images;
    ``preprocessed`` as in :func:`stream_traces`) through ``model`` (and ``model_b`` on the
    same batches) with ``trace_kwargs`` (already resolved from the accumulators' ``needs``),
    feeding ``accumulators``; ``progress`` and ``desc`` for its bar."""

    model: Any
    data: Any
    accumulators: dict[str, Accumulator]
    batch_size: int = 16
    progress: bool = True
    desc: str = "streaming"
    preprocessed: bool = False
    model_b: Any | None = None
    trace_kwargs: dict = field(default_factory=dict)


class Engine(Protocol):
    """Runs a :class:`Job` somewhere else than this process (e.g. on Ray:
    :class:`vitwidgets.engines.ray.RayEngine`): returns the job's accumulators holding every
    batch, merged in batch order, or raises when any batch is missing."""

    def run(self, job: Job) -> dict[str, Accumulator]: ...


#: engines by name, as ``"module:attribute"`` of a class built with no arguments; imported
#: only when a dataset function is asked for one (the core never imports an engine itself)
ENGINES: dict[str, str] = {"ray": "vitwidgets.engines.ray:RayEngine"}


def resolve_engine(engine: str | Engine | None) -> Engine | None:
    """``None`` or ``"local"``: this process (returns ``None``); a name of :data:`ENGINES`:
    that engine with its defaults; an object with a ``run`` method: itself."""
    if engine is None or engine == "local":
        return None
    if isinstance(engine, str):
        if engine not in ENGINES:
            raise UserValueError(
                f"unknown engine {engine!r}: use None (this process), one of {sorted(ENGINES)}, "
                "or an engine object such as vitwidgets.engines.ray.RayEngine(num_workers=4)"
            )
        module, _, attr = ENGINES[engine].partition(":")
        return getattr(importlib.import_module(module), attr)()
    if not callable(getattr(engine, "run", None)):
        raise UserTypeError(
            f"engine must be None, a name in {sorted(ENGINES)} or an object with a run() "
            f"method; got {type(engine).__name__}"
        )
    return engine


def _trace_kwargs(accumulators: Iterable[Accumulator], extra: dict) -> dict:
    kw = {"attention": False, "tokens": False, "latents": False}
    for acc in accumulators:
        kw.update({k: True for k, v in acc.needs.items() if v})
    kw.update(extra)
    return kw


def run_accumulators(
    model: Any,
    data: Any,
    accumulators: dict[str, Accumulator],
    *,
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "streaming",
    preprocessed: bool = False,
    model_b: Any | None = None,
    engine: str | Engine | None = None,
    **trace_kwargs: Any,
) -> dict[str, Accumulator]:
    """Stream ``data`` once through ``model`` (and ``model_b`` on the same batches, for
    cross-model accumulators) feeding every accumulator; returns the accumulators. ``engine``:
    where (see :func:`resolve_engine`); every engine gives the same numbers as this
    process."""
    if not accumulators:
        raise ValueError("no accumulator given")
    kw = _trace_kwargs(accumulators.values(), trace_kwargs)
    runner = resolve_engine(engine)
    if runner is not None:
        return runner.run(Job(model, data, accumulators, batch_size, progress, desc,
                              preprocessed, model_b, kw))
    for trace, batch in stream_traces(
        model, data, batch_size=batch_size, progress=progress, desc=desc,
        preprocessed=preprocessed, **kw,
    ):
        other = None if model_b is None else trace_batch(model_b, batch, preprocessed, kw)
        update_all(accumulators, trace, batch, other)
        del trace, other
    return accumulators


def stream_metrics(
    model: Any,
    data: Any,
    accumulators: dict[str, Accumulator],
    *,
    batch_size: int = 16,
    progress: bool = True,
    preprocessed: bool = False,
    engine: str | Engine | None = None,
    **trace_kwargs: Any,
) -> dict[str, Any]:
    """Stream ``data`` once through ``model`` feeding every accumulator; returns
    ``{name: accumulator.result()}``. ``trace_kwargs`` go to ``model.trace`` (e.g.
    ``attn_dtype=torch.float16``, ``layers=[...]``); ``preprocessed`` as in
    :func:`stream_traces`; ``engine`` as in :func:`run_accumulators` (``"ray"``: on Ray, the
    same numbers)."""
    accs = run_accumulators(
        model, data, accumulators, batch_size=batch_size, progress=progress,
        preprocessed=preprocessed, engine=engine, **trace_kwargs,
    )
    return {name: acc.result() for name, acc in accs.items()}


def dataset_head_stats(model: Any, data: Any, **kwargs: Any) -> HeadStats:
    """Per-head attention statistics over a dataset (input of ``propose_head_tags``).
    ``kwargs`` as :func:`stream_metrics` (``batch_size``, ``progress``, ``engine="ray"``)."""
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
    engine: str | Engine | None = None,
) -> torch.Tensor:
    """Minibatch CKA ``[K, K]`` within ``model`` or ``[K, K']`` between ``model`` and
    ``model_b`` on the same images (Nguyen, Raghu & Kornblith 2021); ``mode`` and ``layers``
    (residual-stream entries, default the ``L`` block outputs; may contain ``"embedding"``) as
    :func:`~vitwidgets.core.metrics.representation.layer_features`. With ``preprocessed``
    both models get the same pixel tensors (same input size and normalisation needed);
    otherwise each preprocesses the raw images itself. ``engine="ray"``: on Ray (the same
    batches, the same numbers)."""
    accs = run_accumulators(
        model, data, {"c": CKAAccumulator(mode, layers)}, batch_size=batch_size,
        progress=progress, desc="CKA", preprocessed=preprocessed, model_b=model_b, engine=engine,
    )
    return accs["c"].result()


def dataset_fourier(
    model: Any, data: Any, *, include_nyquist: bool = True, **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fourier_profile [2L+1, n], feature_variance [2L+1])`` over a dataset (Park & Kim
    2022). ``kwargs`` as :func:`stream_metrics` (``engine="ray"`` included)."""
    acc = FourierAccumulator(include_nyquist)
    return stream_metrics(model, data, {"f": acc}, **kwargs)["f"]


def dataset_features(
    model: Any, data: Any, mode: str = "cls", **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(features [L, n, D], labels [n] | None)`` of the block outputs over a dataset, in the
    data's order. ``kwargs`` as :func:`stream_metrics` (``engine="ray"`` included)."""
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
    None). The features stream as :func:`dataset_features` (``engine="ray"`` included); the
    k-NN runs here."""
    xtr, ytr = _labelled(model, train, mode, "train", kwargs)
    xte, yte = (None, None) if test is None else _labelled(model, test, mode, "test", kwargs)
    return knn_per_layer(xtr, ytr, xte, yte, k=k, temperature=temperature)


def dataset_linear_probe(
    model: Any, train: Any, test: Any | None = None, *, mode: str = "cls", **kwargs: Any
) -> ProbeResult:
    """Linear-probe accuracy per layer (held-out split of ``train`` when ``test`` is None). The
    features stream as :func:`dataset_features` (``engine="ray"`` included)."""
    xtr, ytr = _labelled(model, train, mode, "train", kwargs)
    xte, yte = (None, None) if test is None else _labelled(model, test, mode, "test", kwargs)
    return linear_probe_per_layer(xtr, ytr, xte, yte)


def _count_images(data: Any, num_images: int | None) -> int:
    if num_images is not None:
        return int(num_images)
    if isinstance(data, DataLoader):
        return len(data.dataset)
    if isinstance(data, (Dataset, torch.Tensor)):
        return len(data)
    if is_ray_dataset(data):
        return int(data.count())
    raise ValueError("give num_images= (total images) for an iterable of batches")


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
    engine: str | Engine | None = None,
) -> ConceptLabels:
    """Network-Dissection labels of the residual units after each block (Dorszewski et al.
    2025), in two streaming passes: exact per-unit quantile thresholds
    (:class:`~vitwidgets.core.metrics.concepts.UnitThresholdAccumulator`), then dataset IoUs
    with the masks (:class:`~vitwidgets.core.metrics.concepts.UnitIoUAccumulator`). ``layers``:
    the blocks, as :func:`vitwidgets.core.indexing.block_indices` (``None`` all, an int ``n``
    the last ``n``, or block indices; ``-1`` = the last block). ``engine="ray"``: both passes
    on Ray (the same numbers).

    ``data`` must be re-iterable and yield masks (``(images, labels, masks)`` or dict batches);
    ``num_images`` is needed when its length is unknown (the exact quantile keeps only the
    top values, which needs the total count up front).
    """
    total = _count_images(data, num_images)
    common = {"batch_size": batch_size, "progress": progress, "engine": engine}
    first = {"t": UnitThresholdAccumulator(quantile, total, layers)}
    blocks, grid, thresholds = run_accumulators(
        model, data, first, desc="unit thresholds", **common
    )["t"].result()
    second = {"i": UnitIoUAccumulator(thresholds, grid)}
    iou = run_accumulators(model, data, second, desc="unit IoU", **common)["i"].result()
    return ConceptLabels.from_iou(iou, concepts, blocks, iou_threshold)
