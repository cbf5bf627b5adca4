"""ConceptMap: which concepts the units of each block detect, Network-Dissection style (Bau et
al. 2017), per layer as in Dorszewski et al. 2025 ("From Colors to Classes"): per block the
share of labelled units per concept category (colour, texture, shape, part, class) with the
number of distinct concepts, the unit list of the selected block, and a clicked unit's
activation maps on its top images.

The kernel labels the units (:func:`vitwidgets.core.dissection.concept_map`, the labels of
:func:`vitwidgets.metrics.dataset_label_units`) in two streaming passes with visible progress,
and ships the labels once (a few thousand numbers: the bars, the list and its filter are
answered in the browser). A click on a unit asks the kernel for that unit's maps (float16)
and its top images (PNG), latest click wins. A click on a block sets ``layer``, which links to
other views::

    cm = vw.ConceptMap(model, vw.data.ShapeWorld(256, split="test"))
    vw.link(cm, vw.RepresentationMap(model, images))
"""

from __future__ import annotations

from typing import Any

import torch
import traitlets

from vitwidgets.core.dissection import (
    ConceptBatches,
    ConceptMapResult,
    concept_map,
    is_concept_dataset,
)
from vitwidgets.core.errors import UserValueError
from vitwidgets.core.indexing import block_index, block_indices
from vitwidgets.core.vocab import COLORMAPS

from ._background import batches_text, run_job
from ._base import bundle, command, trait_check
from ._study import StudyView, derived, study_models
from ._wire import encode_array, png_bytes

__all__ = ["ConceptMap", "labels_wire"]

#: the side in px of the top images the browser shows (the model input is shrunk to it)
IMAGE_SIDE = 160


def labels_wire(result: ConceptMapResult) -> dict:
    """The labels as JSON for the browser: per labelled block its summary
    (:meth:`~vitwidgets.core.metrics.concepts.ConceptLabels.summary`), every unit's concept
    (index into ``concepts``, ``-1`` unlabelled) and its best IoU (float64 as computed)."""
    lab = result.labels
    summary = lab.summary()
    for li, s in enumerate(summary):
        s["best"] = lab.best_concept[li].tolist()
        s["iou"] = lab.best_iou[li].double().tolist()
    return {"blocks": list(lab.layers), "concepts": [list(p) for p in zip(
        lab.concepts, lab.categories, strict=True)], "summary": summary}


class ConceptMap(StudyView):
    """Network-Dissection labels of the units after each block, over ``data`` with concept
    masks, and every unit's activation maps on its top images.

    Args:
        model: a ``ViTModel`` (or anything ``vw.load_model`` takes).
        data: a dataset of ``(image, record)`` samples whose records carry ``concept_masks``
            and that names its ``concepts`` (:class:`vitwidgets.data.ShapeWorld`), or
            re-iterable batches ``(images, labels, masks)`` (masks ``[B, C, H, W]`` bool) with
            ``concepts`` given.
        concepts: the ``C`` pairs ``(name, category)`` of the masks' channels (default:
            ``data.concepts``).
        layers: the blocks to label (``None`` all; as
            :func:`vitwidgets.core.indexing.block_indices`).
        quantile, iou_threshold: Network Dissection's top-quantile of each unit's activations
            and the IoU a unit needs to count as labelled (0.995 and 0.04, Bau et al. 2017).
        top_k: top images per unit (highest peak activation first).
        num_images: images in ``data`` when it has no length (an iterable of batches).
        batch_size: images per batch.
        background: as :class:`~vitwidgets.widgets.RepresentationMap`'s (``None``: in a
            background thread when an event loop runs, else before this returns).
        **options: initial ``layer``, ``unit``, ``category``, ``colormap`` or ``layout``.

    Traits: ``layer`` (a block, at first the last labelled one: click a bar; link it to other
    views), ``unit`` (a unit of that block, ``-1`` none: click it in the list), ``category``
    (the list's filter, ``""`` all). Results: :attr:`result`
    (:class:`~vitwidgets.core.dissection.ConceptMapResult`), :attr:`labels` (its
    :class:`~vitwidgets.core.metrics.concepts.ConceptLabels`).
    """

    _bundle_name = "concepts"
    _esm = bundle(_bundle_name)
    _what = "unit labels"

    model_name = derived(traitlets.Unicode(""))
    num_layers = derived(traitlets.Int(1))
    num_images = derived(traitlets.Int(0))
    top_k = derived(traitlets.Int(4))
    quantile = derived(traitlets.Float(0.995))
    iou_threshold = derived(traitlets.Float(0.04))
    #: the categories in the order of the concepts (bottom to top in the bars)
    categories = derived(traitlets.List(traitlets.Unicode()))
    layer = traitlets.Int(0).tag(sync=True)
    unit = traitlets.Int(-1).tag(sync=True)
    category = traitlets.Unicode("").tag(sync=True)
    colormap = traitlets.Enum(COLORMAPS, "inferno").tag(sync=True)
    request_timeout_ms = traitlets.Int(120_000).tag(sync=True)
    _labels = traitlets.Dict().tag(sync=True)

    def __init__(
        self, model: Any, data: Any, concepts: Any = None, *, layers: Any = None,
        quantile: float = 0.995, iou_threshold: float = 0.04, top_k: int = 4,
        num_images: int | None = None, batch_size: int = 16, background: bool | None = None,
        **options: Any,
    ):
        (m,) = study_models(type(self), options, model)
        if concepts is None:
            concepts = getattr(data, "concepts", None)
            if concepts is None:
                raise UserValueError(
                    "give concepts=[(name, category), ...] for the masks' channels (or data "
                    "that names them, as vw.data.ShapeWorld)")
        if is_concept_dataset(data):
            data = ConceptBatches(data, batch_size)
        concepts = [tuple(c) for c in concepts]
        self.model = m
        self.result: ConceptMapResult | None = None
        options.setdefault("layer", block_indices(layers, m.num_layers, owner=m.name)[-1])
        super().__init__(
            model_name=m.name, num_layers=m.num_layers, top_k=top_k, quantile=quantile,
            iou_threshold=iou_threshold,
            categories=list(dict.fromkeys(str(c) for _, c in concepts)), **options,
        )
        self.status = batches_text(self._what, 0, None)
        kw = {"layers": layers, "quantile": quantile, "iou_threshold": iou_threshold,
              "top_k": top_k, "num_images": num_images, "batch_size": batch_size}
        run_job(lambda report: concept_map(m, data, concepts, on_batch=report, **kw),
                on_progress=self._progress, on_done=self._finished, on_error=self._failed,
                name="vitwidgets-concepts", background=background)

    @property
    def labels(self):
        """The units' labels (``None`` until both passes are done)."""
        return None if self.result is None else self.result.labels

    def _finished(self, result: ConceptMapResult) -> None:
        self.result = result
        with self.hold_trait_notifications():
            self.num_images = result.num_images
            self._labels = labels_wire(result)
            self.status, self.done = "", True

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return trait_check(block_index, proposal["value"], self.num_layers,
                           owner=self.model_name, negative=False)

    @traitlets.validate("unit")
    def _valid_unit(self, proposal):
        u = proposal["value"]
        if u < -1 or u >= self.model.embed_dim:
            raise traitlets.TraitError(f"unit {u} out of range -1..{self.model.embed_dim - 1} "
                                       f"(-1: none)")
        return u

    @traitlets.validate("category")
    def _valid_category(self, proposal):
        c = proposal["value"]
        if c and c not in self.categories:
            raise traitlets.TraitError(f"category must be one of {self.categories} or '' (all), "
                                       f"got {c!r}")
        return c

    def _position(self, layer: int) -> int:
        """The index of block ``layer`` among the labelled blocks."""
        if self.result is None:
            raise UserValueError("the units are not labelled yet: wait for the status line")
        blocks = list(self.result.labels.layers)
        if layer not in blocks:
            raise UserValueError(f"block {layer} was not labelled (labelled: {blocks})")
        return blocks.index(layer)

    @command("unit_maps")
    def unit_maps(self, layer: int, unit: int) -> tuple[dict, list[bytes]]:
        """Unit ``unit`` of block ``layer`` on its top images: ``maps`` ``[k, gh, gw]``
        float16 (the residual unit's activation per patch,
        :func:`vitwidgets.core.metrics.concepts.unit_maps`), then ``k`` PNGs of the images
        (the model input); ``images`` (dataset indices), ``peaks`` (each map's largest
        value), ``threshold`` (the unit's quantile threshold) and its best concepts by IoU."""
        r, li = self.result, self._position(int(layer))
        d = r.maps.shape[1]
        if not 0 <= unit < d:
            raise UserValueError(f"unit {unit} out of range 0..{d - 1}")
        maps, images = r.maps[li, unit], r.top[li, unit].tolist()
        iou = r.labels.iou[li, unit]
        best = torch.sort(iou, descending=True, stable=True).indices[:3].tolist()
        desc, data = encode_array("maps", maps)
        result = {
            "layer": int(layer), "unit": int(unit), "images": images,
            "peaks": r.peaks[li, images, unit].double().tolist(),
            "threshold": float(r.thresholds[li, unit]),
            "concept": int(r.labels.best_concept[li, unit]),
            "top_concepts": [[c, float(iou[c])] for c in best], "arrays": [desc],
        }
        pngs = [png_bytes(r.images[i], IMAGE_SIDE) for i in images]
        return result, [data, *pngs]
