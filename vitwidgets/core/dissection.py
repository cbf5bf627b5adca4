"""What the ConceptMap view shows, streamed with progress: the Network-Dissection labels of
the residual units after each block (Bau et al. 2017; per layer in Dorszewski et al. 2025,
"From Colors to Classes") with every unit's activation maps on its top images.

Two streaming passes, as :func:`vitwidgets.core.streaming.dataset_label_units` makes them and
with its accumulators (so the labels are the same numbers): the exact per-unit quantile
thresholds and, in the same pass, each image's peak activation per unit
(:class:`~vitwidgets.core.metrics.concepts.UnitPeakAccumulator`); then the dataset IoUs with
the concept masks and, in the same pass, the maps of every unit on its ``top_k`` images
(:class:`~vitwidgets.core.metrics.concepts.UnitTopMapsAccumulator`). ``on_batch(done, total,
None)`` is called after every batch of both passes (a widget shows the progress).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vitwidgets.core.errors import UserValueError
from vitwidgets.core.indexing import LayersArg, block_indices
from vitwidgets.core.metrics.concepts import (
    ConceptLabels,
    UnitIoUAccumulator,
    UnitPeakAccumulator,
    UnitThresholdAccumulator,
    UnitTopMapsAccumulator,
    top_images,
)
from vitwidgets.core.profiles import OnBatch, count_batches
from vitwidgets.core.streaming import _count_images, stream_traces

__all__ = ["ConceptMapResult", "concept_map", "ConceptBatches"]


@dataclass
class ConceptMapResult:
    """The labels (:class:`~vitwidgets.core.metrics.concepts.ConceptLabels`, one entry per
    labelled block in ``labels.layers``), each image's peak activation per unit ``peaks [L, N,
    D]``, every unit's top images ``top [L, D, k]`` (image indices in stream order, highest
    peak first), their activation maps ``maps [L, D, k, gh, gw]`` (the residual units after
    the block, per patch) and the model input of those images ``images {index: [H, W, 3]
    uint8}``; each unit's quantile threshold ``thresholds [L, D]``, the patch ``grid`` and
    the ``num_images`` streamed. Memory: ``L*D*k*G`` floats of maps (ViT-B/16, ``k = 4``:
    29 MB) plus each top image once (at most ``N``, 150 kB each at 224 px)."""

    labels: ConceptLabels
    peaks: torch.Tensor
    top: torch.Tensor
    maps: torch.Tensor
    images: dict[int, torch.Tensor]
    grid: tuple[int, int]
    thresholds: torch.Tensor
    num_images: int


class ConceptBatches:
    """A map dataset whose samples are ``(PIL image, record)`` with ``record["concept_masks"]``
    (``[C, H, W]`` bool, e.g. :class:`vitwidgets.data.ShapeWorld`) as re-iterable batches
    ``(images [b, 3, H, W] uint8, masks [b, C, H, W])`` that the streaming passes take."""

    def __init__(self, dataset: Any, batch_size: int) -> None:
        self.dataset, self.batch_size = dataset, int(batch_size)

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, None, torch.Tensor]]:
        n = len(self.dataset)
        for s in range(0, n, self.batch_size):
            recs = [self.dataset[i] for i in range(s, min(s + self.batch_size, n))]
            images = np.stack([np.asarray(im.convert("RGB")) for im, _ in recs])
            masks = np.stack([r["concept_masks"] for _, r in recs])
            yield torch.from_numpy(images).permute(0, 3, 1, 2), None, torch.from_numpy(masks)


def is_concept_dataset(data: Any) -> bool:
    """Whether ``data`` is a map dataset of ``(image, record with concept_masks)`` samples
    that names its concepts (``data.concepts``), as :class:`vitwidgets.data.ShapeWorld`."""
    return (hasattr(data, "concepts") and hasattr(data, "__getitem__")
            and hasattr(data, "__len__") and not isinstance(data, (list, tuple, torch.Tensor)))


def _num_images(data: Any, num_images: int | None) -> int:
    """Images in ``data``: given, counted by the streaming driver, or summed over a list of
    ``(images, ...)`` batches."""
    if num_images is None and isinstance(data, ConceptBatches):
        return len(data.dataset)
    if num_images is None and isinstance(data, (list, tuple)) and data and all(
            isinstance(b, (tuple, list)) and hasattr(b[0], "__len__") for b in data):
        return sum(len(b[0]) for b in data)
    try:
        return _count_images(data, num_images)
    except ValueError as e:
        raise UserValueError(f"{e}: the exact unit thresholds need it up front") from None


def concept_map(
    model: Any,
    data: Any,
    concepts: Sequence[tuple[str, str]],
    *,
    layers: LayersArg = None,
    quantile: float = 0.995,
    iou_threshold: float = 0.04,
    top_k: int = 4,
    num_images: int | None = None,
    batch_size: int = 16,
    on_batch: OnBatch | None = None,
) -> ConceptMapResult:
    """Unit labels per block and every unit's maps on its ``top_k`` images, in two passes.

    Args:
        model: a ``ViTModel``.
        data: re-iterable batches with concept masks (``(images, labels, masks)`` tuples, dict
            batches, a Dataset or DataLoader yielding them; see
            :func:`vitwidgets.core.streaming.iter_batches`), or a :class:`ConceptBatches`.
        concepts: the ``C`` pairs ``(name, category)`` of the masks' channels.
        layers, quantile, iou_threshold, num_images, batch_size: as
            :func:`vitwidgets.core.streaming.dataset_label_units` (the same labels).
        top_k: images kept per unit (highest peak activation first).
        on_batch: called after every batch of both passes with ``(done, total, None)``.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise UserValueError(f"top_k must be a positive whole number, got {top_k!r}")
    total = _num_images(data, num_images)
    per_pass = count_batches(data, batch_size)
    steps = None if per_pass is None else 2 * per_pass
    done = [0]

    def stream(accs: dict[str, Any], desc: str) -> None:
        for trace, batch in stream_traces(model, data, batch_size=batch_size, progress=False,
                                          desc=desc, tokens=True, attention=False):
            for acc in accs.values():
                acc.update(trace, batch)
            del trace
            done[0] += 1
            if on_batch is not None:
                on_batch(done[0], steps, None)

    blocks = block_indices(layers, model.num_layers, owner=model.name)
    first = UnitThresholdAccumulator(quantile, total, blocks)
    peaks = UnitPeakAccumulator(blocks)
    stream({"t": first, "p": peaks}, "unit thresholds")
    if first.blocks is None:
        raise UserValueError("the data yielded no images")
    _, grid, thresholds = first.result()
    peaks = peaks.result()
    top = torch.stack([top_images(p, top_k) for p in peaks])  # [L, D, k]
    second = {"i": UnitIoUAccumulator(thresholds, grid),
              "m": UnitTopMapsAccumulator(blocks, top, grid)}
    stream(second, "unit IoU")
    labels = ConceptLabels.from_iou(second["i"].result(), concepts, blocks, iou_threshold)
    maps, images = second["m"].result()
    return ConceptMapResult(
        labels=labels, peaks=peaks, top=top, maps=maps, images=images, grid=tuple(grid),
        thresholds=torch.stack([thresholds[b].float().cpu() for b in blocks]),
        num_images=total,
    )
