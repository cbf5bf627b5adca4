"""Layer-wise unit labelling with ground-truth concept masks (Dorszewski et al. 2025, "From
Colors to Classes").

Network-Dissection-style (Bau et al. 2017): each unit's activation map is thresholded at its
top-quantile over the dataset, upsampled to the mask resolution, and compared with every concept
mask by IoU accumulated over the dataset; the unit gets the concept of highest IoU when it
passes ``iou_threshold``. Generic over any concept masks ``[B, C, H, W]`` (ShapeWorld's
colours, textures, shapes, parts and classes, or a user's own).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vitwidgets.core.indexing import LayersArg, block_indices

from ._common import as_float, check_grid, check_patch_tokens

__all__ = [
    "label_units",
    "ConceptLabels",
    "QuantileThreshold",
    "ConceptIoU",
    "UnitThresholdAccumulator",
    "UnitIoUAccumulator",
    "top_images",
    "unit_maps",
    "UnitPeakAccumulator",
    "UnitTopMapsAccumulator",
]


def _acts(a, grid) -> torch.Tensor:
    """Per-layer patch activations ``[B, G, D]`` as float (checked)."""
    return check_patch_tokens(a, grid, name="activations")


class QuantileThreshold:
    """Exact per-unit top-quantile threshold over a stream of activations.

    ``T_d`` is the ``ceil(quantile * n)``-th smallest of the ``n`` activations of unit ``d``
    (so a share of about ``1 - quantile`` exceeds it). Only the ``n - k + 1`` largest values per
    unit are kept, so ``total`` (the number of activations per unit the stream will hold:
    images x positions) must be known up front.
    """

    def __init__(self, quantile: float, total: int) -> None:
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        if total < 1:
            raise ValueError(f"total must be positive, got {total}")
        self.k = min(total, max(1, math.ceil(quantile * total - 1e-9)))
        self.keep = total - self.k + 1
        self.total = total
        self.seen = 0
        self.top: torch.Tensor | None = None

    def update(self, acts: torch.Tensor) -> QuantileThreshold:
        """``acts [..., D]``: every leading position is one activation per unit."""
        flat = as_float(acts).reshape(-1, acts.shape[-1])
        self.seen += flat.shape[0]
        if self.seen > self.total:
            raise ValueError(f"more activations ({self.seen}) than announced total {self.total}")
        self._keep_top(flat)
        return self

    def _keep_top(self, values: torch.Tensor) -> None:
        cat = values if self.top is None else torch.cat([self.top, values.to(self.top.device)])
        self.top = cat.topk(min(self.keep, cat.shape[0]), dim=0).values

    def merge(self, other: QuantileThreshold) -> QuantileThreshold:
        """Add ``other``'s activations (in place; returns it). Exact in any order: the kept
        values are the top ``keep`` of the union."""
        if (other.total, other.keep) != (self.total, self.keep):
            raise ValueError("cannot merge thresholds of different quantiles or totals")
        if other.top is not None:
            self.seen += other.seen
            if self.seen > self.total:
                raise ValueError(f"more activations ({self.seen}) than announced total "
                                 f"{self.total}")
            self._keep_top(other.top)
        return self

    def result(self) -> torch.Tensor:
        if self.seen != self.total or self.top is None:
            raise ValueError(f"saw {self.seen} activations per unit, expected {self.total}")
        return self.top[-1]


class ConceptIoU:
    """Dataset IoU accumulator between thresholded unit maps and concept masks.

    ``IoU[d, c] = sum_images |M_d & C_c| / sum_images |M_d | C_c|`` with ``M_d`` the unit's
    map bilinearly upsampled to the mask resolution and thresholded (``> T_d``). The state
    (intersections ``[D, C]``, unit areas ``[D]``, concept areas ``[C]``) is a sum over images:
    ``merge`` adds it.
    """

    def __init__(self, thresholds: torch.Tensor, grid: tuple[int, int], chunk: int = 4):
        self.thresholds = torch.as_tensor(thresholds)
        self.grid = check_grid(grid)
        self.chunk = chunk
        self.inter: torch.Tensor | None = None
        self.unit_area: torch.Tensor | None = None
        self.concept_area: torch.Tensor | None = None

    def update(self, acts: torch.Tensor, masks: torch.Tensor) -> ConceptIoU:
        a = _acts(acts, self.grid)
        m = torch.as_tensor(masks, device=a.device)
        if m.ndim != 4 or m.shape[0] != a.shape[0]:
            raise ValueError(
                f"masks must be [B, C, H, W] bool with B = {a.shape[0]}, got {tuple(m.shape)}"
            )
        b, _, d = a.shape
        hw = m.shape[-2:]
        t = self.thresholds.to(a.device, a.dtype).view(1, d, 1, 1)
        maps = a.transpose(1, 2).reshape(b, d, *self.grid)
        inter = torch.zeros(d, m.shape[1], dtype=torch.float64, device=a.device)
        area = torch.zeros(d, dtype=torch.float64, device=a.device)
        for s in range(0, b, self.chunk):  # image chunks bound the [b, D, H, W] upsampled maps
            up = F.interpolate(
                maps[s : s + self.chunk], size=hw, mode="bilinear", align_corners=False
            )
            unit = (up > t).flatten(2).to(torch.float32)  # [b, D, HW]
            conc = m[s : s + self.chunk].flatten(2).to(torch.float32)  # [b, C, HW]
            inter += (unit @ conc.transpose(1, 2)).sum(0).double()
            area += unit.sum((0, 2)).double()
        carea = m.flatten(2).sum((0, 2)).double()
        if self.inter is None:
            self.inter, self.unit_area, self.concept_area = inter, area, carea
        else:
            self.inter += inter
            self.unit_area += area
            self.concept_area += carea
        return self

    def merge(self, other: ConceptIoU) -> ConceptIoU:
        out = ConceptIoU(self.thresholds, self.grid, self.chunk)
        out.inter = self.inter + other.inter.to(self.inter.device)
        out.unit_area = self.unit_area + other.unit_area.to(self.inter.device)
        out.concept_area = self.concept_area + other.concept_area.to(self.inter.device)
        return out

    __add__ = merge

    def iou(self) -> torch.Tensor:
        """``[D, C]`` IoU over everything accumulated."""
        if self.inter is None:
            raise ValueError("no batch accumulated yet")
        union = self.unit_area[:, None] + self.concept_area[None, :] - self.inter
        return torch.where(union > 0, self.inter / union.clamp_min(1), torch.zeros_like(union))


class UnitThresholdAccumulator:
    """First pass of streamed unit labelling: the exact per-unit top-quantile threshold
    (:class:`QuantileThreshold`) of the residual units after each block ``layers`` (as
    :func:`vitwidgets.core.indexing.block_indices`) over ``num_images`` images. An accumulator
    of :func:`vitwidgets.core.streaming.stream_metrics`; ``merge`` is exact in any order.
    ``result()``: ``(blocks, grid, {block: thresholds [D]})``."""

    needs = {"tokens": True}

    def __init__(self, quantile: float, num_images: int, layers: LayersArg = None) -> None:
        self.quantile, self.num_images, self.layers = quantile, int(num_images), layers
        self.blocks: tuple[int, ...] | None = None
        self.grid: tuple[int, int] | None = None
        self.thresholds: dict[int, QuantileThreshold] = {}

    def update(self, trace, batch=None) -> None:
        """``trace``: a :class:`~vitwidgets.core.trace.Trace` with ``tokens``."""
        if self.blocks is None:
            owner = trace.model_name or "the model"
            self.blocks = block_indices(self.layers, trace.num_layers, owner=owner)
            self.grid = tuple(trace.grid)
            total = self.num_images * trace.num_patches
            self.thresholds = {b: QuantileThreshold(self.quantile, total) for b in self.blocks}
        for b in self.blocks:
            self.thresholds[b].update(trace.patch_tokens(b))

    def merge(self, other: UnitThresholdAccumulator) -> UnitThresholdAccumulator:
        """Add ``other``'s images (in place; returns it)."""
        if other.blocks is None:
            return self
        if self.blocks is None:
            self.blocks, self.grid, self.thresholds = other.blocks, other.grid, {}
        for b in self.blocks:
            mine = self.thresholds.get(b)
            self.thresholds[b] = other.thresholds[b] if mine is None else mine.merge(
                other.thresholds[b])
        return self

    def result(self) -> tuple[tuple[int, ...], tuple[int, int], dict[int, torch.Tensor]]:
        if self.blocks is None:
            raise ValueError("no batch streamed")
        return self.blocks, self.grid, {b: t.result() for b, t in self.thresholds.items()}


class UnitIoUAccumulator:
    """Second pass of streamed unit labelling: dataset IoUs (:class:`ConceptIoU`) between the
    units of ``blocks`` thresholded at ``thresholds`` (``{block: [D]}``, from
    :class:`UnitThresholdAccumulator`) and the batches' concept masks ``[B, C, H, W]``. An
    accumulator of :func:`vitwidgets.core.streaming.stream_metrics`; ``merge`` adds the sums
    as ``update`` does. ``result()``: IoU ``[len(blocks), D, C]``."""

    needs = {"tokens": True}

    def __init__(self, thresholds: dict[int, torch.Tensor], grid: tuple[int, int]) -> None:
        self.ious = {b: ConceptIoU(t, grid) for b, t in thresholds.items()}

    def update(self, trace, batch) -> None:
        """``batch``: a :class:`vitwidgets.core.streaming.Batch` with ``masks``."""
        if batch.masks is None:
            raise ValueError("label_units needs concept masks in every batch")
        for b, iou in self.ious.items():
            iou.update(trace.patch_tokens(b), batch.masks.to(trace.device))

    def merge(self, other: UnitIoUAccumulator) -> UnitIoUAccumulator:
        """Add ``other``'s sums (in place; returns it)."""
        for b, theirs in other.ious.items():
            mine = self.ious[b]
            if theirs.inter is not None:
                self.ious[b] = theirs if mine.inter is None else mine.merge(theirs)
        return self

    def result(self) -> torch.Tensor:
        return torch.stack([iou.iou() for iou in self.ious.values()])


@dataclass
class ConceptLabels:
    """Unit labels per layer.

    ``iou [L, D, C]``; ``best_concept [L, D]`` index into ``concepts`` of each unit's highest
    IoU, ``-1`` when below ``iou_threshold``; ``best_iou [L, D]``. :meth:`summary` gives per
    layer the number of labelled units, the number of distinct concepts, the share of labelled
    units per category and the distinct concepts per category (JSON-ready).
    """

    layers: tuple[int, ...]
    concepts: tuple[str, ...]
    categories: tuple[str, ...]
    iou_threshold: float
    iou: torch.Tensor
    best_concept: torch.Tensor
    best_iou: torch.Tensor

    def summary(self) -> list[dict]:
        cats = sorted(set(self.categories))
        out = []
        for li, layer in enumerate(self.layers):
            labelled = [c for c in self.best_concept[li].tolist() if c >= 0]
            distinct = sorted(set(labelled))
            n = len(labelled)
            out.append(
                {
                    "layer": int(layer),
                    "num_units": int(self.best_concept.shape[1]),
                    "num_labelled": n,
                    "num_concepts": len(distinct),
                    "category_share": {
                        c: (sum(self.categories[i] == c for i in labelled) / n if n else 0.0)
                        for c in cats
                    },
                    "concepts_per_category": {
                        c: sum(self.categories[i] == c for i in distinct) for c in cats
                    },
                    "concepts": sorted({self.concepts[i] for i in distinct}),
                }
            )
        return out

    @classmethod
    def from_iou(
        cls,
        iou: torch.Tensor,
        concepts: Sequence[tuple[str, str]],
        layers: Sequence[int],
        iou_threshold: float,
    ) -> ConceptLabels:
        """Labels from IoUs ``[L, D, C]`` (e.g. :meth:`ConceptIoU.iou` of every layer, stacked):
        each unit's highest-IoU concept, ``-1`` below ``iou_threshold``. ``concepts``: the
        ``C`` pairs ``(name, category)``; ``layers``: names of the ``L`` layers."""
        names, cats = _check_concepts(concepts, iou.shape[-1])
        best_iou, best = iou.max(-1)
        best = torch.where(best_iou >= iou_threshold, best, torch.full_like(best, -1))
        return cls(tuple(layers), names, cats, iou_threshold, iou, best, best_iou)


def _check_concepts(concepts, num: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        pairs = [(str(n), str(c)) for n, c in concepts]
    except (TypeError, ValueError):
        raise TypeError("concepts must be a sequence of (name, category) pairs") from None
    if len(pairs) != num:
        raise ValueError(f"{len(pairs)} concepts given for masks with {num} channels")
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def label_units(
    activations: torch.Tensor | Sequence[torch.Tensor],
    masks: torch.Tensor,
    concepts: Sequence[tuple[str, str]],
    grid: tuple[int, int],
    *,
    quantile: float = 0.995,
    iou_threshold: float = 0.04,
    layers: Sequence[int] | None = None,
) -> ConceptLabels:
    """Label every unit of every layer with a concept (Dorszewski et al. 2025; in memory).

    Args:
        activations: per layer patch maps ``[B, G, D]`` (a list, or a tensor ``[L, B, G, D]``,
            e.g. ``trace.patch_tokens()[1:]`` for the residual dims after each block).
        masks: ``[B, C, H, W]`` bool concept masks of the same images.
        concepts: ``C`` pairs ``(name, category)``, e.g. ``("red", "colour")``.
        grid: ``(gh, gw)`` of the patch maps.
        quantile: per-unit activation quantile over the dataset (NetDissect: 0.995, i.e. the
            top 0.5% of positions).
        iou_threshold: minimum IoU for a unit to count as labelled (NetDissect: 0.04).
        layers: names of the layers (default ``0..L-1``).

    For datasets too large for memory use
    :func:`vitwidgets.core.streaming.dataset_label_units`, which streams twice (thresholds,
    then IoUs) with the same accumulators.
    """
    grid = check_grid(grid)
    acts = list(activations)  # a [L, B, G, D] tensor or a sequence of [B, G, D]
    if not acts:
        raise ValueError("no layer given")
    masks = torch.as_tensor(masks)
    if masks.ndim != 4:
        raise ValueError(f"masks must be [B, C, H, W] bool, got {tuple(masks.shape)}")
    _check_concepts(concepts, masks.shape[1])
    ious = []
    for a in acts:  # one layer at a time (layers may differ in width)
        a = _acts(a, grid)
        thr = QuantileThreshold(quantile, a.shape[0] * a.shape[1]).update(a).result()
        ious.append(ConceptIoU(thr, grid).update(a, masks.to(a.device)).iou())
    widths = {t.shape[0] for t in ious}
    if len(widths) != 1:
        raise ValueError(f"layers of different widths {sorted(widths)}: label them separately")
    layers = tuple(range(len(acts))) if layers is None else tuple(layers)
    return ConceptLabels.from_iou(torch.stack(ious), concepts, layers, iou_threshold)


# ------------------------------------------------------------------ the units' top images
def top_images(peaks: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` images of highest peak activation of every unit (Bau et al. 2017 show a
    unit by them): ``peaks [N, D]`` (per image, a unit's largest activation over the patches,
    :class:`UnitPeakAccumulator`) -> image indices ``[D, min(k, N)]``, highest first (ties:
    the earlier image first)."""
    if peaks.ndim != 2:
        raise ValueError(f"peaks must be [N, D], got {tuple(peaks.shape)}")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    order = torch.sort(as_float(peaks), dim=0, descending=True, stable=True).indices
    return order[: min(k, peaks.shape[0])].T.contiguous()


def unit_maps(activations: torch.Tensor, grid: tuple[int, int], unit: int) -> torch.Tensor:
    """Unit ``unit``'s activation map on every image: patch activations ``[B, G, D]`` ->
    ``[B, gh, gw]`` (row-major patches; what :class:`ConceptIoU` upsamples and thresholds)."""
    a = _acts(activations, grid)
    if not 0 <= unit < a.shape[-1]:
        raise ValueError(f"unit {unit} out of range 0..{a.shape[-1] - 1}")
    return a[..., unit].reshape(a.shape[0], *check_grid(grid))


class UnitPeakAccumulator:
    """Per image and unit, the largest activation over the patches of the residual units
    after each of ``blocks``, in stream order: ``result()`` ``[len(blocks), N, D]`` float32
    (the input of :func:`top_images`). ``merge`` appends ``other``'s images after these."""

    needs = {"tokens": True}

    def __init__(self, blocks: Sequence[int]) -> None:
        self.blocks = tuple(int(b) for b in blocks)
        self.parts: list[torch.Tensor] = []

    def update(self, trace, batch=None) -> None:
        """``trace``: a :class:`~vitwidgets.core.trace.Trace` with ``tokens``."""
        peaks = [as_float(trace.patch_tokens(b)).amax(1).float().cpu() for b in self.blocks]
        self.parts.append(torch.stack(peaks))  # [L, B, D]

    def merge(self, other: UnitPeakAccumulator) -> UnitPeakAccumulator:
        self.parts.extend(other.parts)
        return self

    def result(self) -> torch.Tensor:
        if not self.parts:
            raise ValueError("no batch streamed")
        return torch.cat(self.parts, 1)


class UnitTopMapsAccumulator:
    """The activation maps of every unit on its top images, caught while the data streams in
    the order :class:`UnitPeakAccumulator` saw it: ``wanted [L, D, k]`` (image indices per
    block and unit, from :func:`top_images`) -> ``maps [L, D, k, gh, gw]`` float32
    (:func:`unit_maps` of those images) and ``images`` ``{index: [H, W, 3] uint8}``, the
    model input of every wanted image (:meth:`~vitwidgets.core.trace.Trace.images_uint8`)."""

    needs = {"tokens": True}

    def __init__(self, blocks: Sequence[int], wanted: torch.Tensor, grid: tuple[int, int]):
        self.blocks = tuple(int(b) for b in blocks)
        self.wanted = torch.as_tensor(wanted, dtype=torch.long)
        if self.wanted.ndim != 3 or self.wanted.shape[0] != len(self.blocks):
            raise ValueError(f"wanted must be [{len(self.blocks)}, D, k], got "
                             f"{tuple(self.wanted.shape)}")
        self.grid = check_grid(grid)
        self.maps = torch.full((*self.wanted.shape, *self.grid), float("nan"))
        self.images: dict[int, torch.Tensor] = {}
        self.seen = 0

    def update(self, trace, batch=None) -> None:
        n = trace.batch_size
        local = self.wanted - self.seen  # [L, D, k] index into this batch
        here = (local >= 0) & (local < n)
        if here.any():
            for li, b in enumerate(self.blocks):
                sel = here[li].nonzero(as_tuple=True)  # (units, slots)
                if not sel[0].numel():
                    continue
                acts = as_float(trace.patch_tokens(b)).float().cpu()  # [B, G, D]
                rows = acts[local[li][sel], :, sel[0]]  # [n, G]
                self.maps[li][sel] = rows.reshape(-1, *self.grid)
            rgb = trace.images_uint8()
            for i in torch.unique(local[here]).tolist():
                self.images[self.seen + i] = rgb[i].clone()
        self.seen += n

    def result(self) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        if torch.isnan(self.maps).any():
            raise ValueError(f"streamed {self.seen} images, fewer than the wanted indices need")
        return self.maps, self.images
