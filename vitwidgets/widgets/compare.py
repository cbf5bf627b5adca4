"""``compare(models, images)``: the attention explorers of several models side by side, linked by
image, query patch and relative depth, with the representation map across the first two.

Walmer et al. 2023 ("Teaching Matters") and Raghu et al. 2021 compare models layer by layer at
the same relative depth; here a person does it by pointing: choosing block 5 of a 12-block
model shows block 11 of a 24-block one, pinning a patch pins the patch under the same place of
the image in every other model, and a click on a cell of the CKA map sends both models to that
pair of blocks. Layout only: the linking is :func:`link_models`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets
import traitlets

from vitwidgets.core.errors import UserTypeError, UserValueError
from vitwidgets.core.indexing import block_at_relative_depth, token_across_grids
from vitwidgets.loading import load_model

from ._base import options_of, reject_unknown
from .explorer import AttentionExplorer
from .representation_map import RepresentationMap

__all__ = ["Comparison", "compare", "link_models"]


def _shape(view) -> tuple[int, tuple[int, int], int]:
    s = view.session
    return s.num_layers, tuple(s.grid), s.num_prefix


class _LayerSync:
    """Keeps the ``layer`` of views of different models at the same relative depth
    (:func:`~vitwidgets.core.indexing.block_at_relative_depth`): whichever view moves, the
    others follow. With a :class:`RepresentationMap` of the first two models, a click on a cell
    sends the first view to its row's block and the second to its column's (any pair, not only
    equal depths), and a move of either view moves the map's selected cell."""

    def __init__(self, views: Sequence, representation_map: RepresentationMap | None = None):
        self.views, self.map = list(views), representation_map
        self._busy = False
        for v in self.views:
            v.observe(self._from_view, "layer")
        if self.map is not None:
            self.map.observe(self._from_map, ["layer", "layer_b"])
            self._show_on_map()

    def _guarded(self, fn) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            fn()
        finally:
            self._busy = False

    def _from_view(self, change) -> None:
        def follow():
            src = change["owner"]
            for v in self.views:
                if v is not src:
                    v.layer = block_at_relative_depth(
                        change["new"], src.session.num_layers, v.session.num_layers)
            self._show_on_map()
        self._guarded(follow)

    def _from_map(self, _change) -> None:
        def follow():
            first, second = self.views[0], self.views[1]
            first.layer, second.layer = self.map.layer, self.map.layer_b
            for v in self.views[2:]:
                v.layer = block_at_relative_depth(
                    first.layer, first.session.num_layers, v.session.num_layers)
        self._guarded(follow)

    def _show_on_map(self) -> None:
        if self.map is not None:
            with self.map.hold_trait_notifications():
                self.map.layer, self.map.layer_b = self.views[0].layer, self.views[1].layer

    def unlink(self) -> None:
        for v in self.views:
            v.unobserve(self._from_view, "layer")
        if self.map is not None:
            self.map.unobserve(self._from_map, ["layer", "layer_b"])


def _place_link(a, b) -> traitlets.link:
    """``query`` of ``a`` and ``b`` on the same place of the image."""
    (_, ga, pa), (_, gb, pb) = _shape(a), _shape(b)
    return traitlets.link((a, "query"), (b, "query"), transform=(
        lambda t: token_across_grids(t, ga, pa, gb, pb),
        lambda t: token_across_grids(t, gb, pb, ga, pa)))


def link_models(*views: traitlets.HasTraits,
                representation_map: RepresentationMap | None = None) -> list:
    """Link views of *different* models (each with a ``session``, e.g. ``AttentionExplorer``
    or ``FeatureExplorer``) as :func:`compare` does: the same image, the block at the same
    relative depth (:func:`~vitwidgets.core.indexing.block_at_relative_depth`) and the query
    token at the same place of the image
    (:func:`~vitwidgets.core.indexing.token_across_grids`). Heads are not linked (models
    differ in their heads). With ``representation_map`` (of the first two views' models), its
    selected cell and the first two views' blocks follow each other.

    Returns:
        The links; ``.unlink()`` one to stop it.
    """
    if len(views) < 2:
        raise UserValueError(f"link_models needs at least two views, got {len(views)}")
    for v in views:
        if not hasattr(v, "session"):
            raise UserTypeError(
                f"link_models links views of a model (with a session, such as "
                f"AttentionExplorer); got {type(v).__name__}"
            )
    first = views[0]
    links: list = [traitlets.link((first, "image_index"), (v, "image_index")) for v in views[1:]]
    links += [_place_link(first, v) for v in views[1:]]
    links.append(_LayerSync(views, representation_map))
    return links


def _named_models(models: Any) -> tuple[list[str] | None, list[Any]]:
    if isinstance(models, Mapping):
        return [str(k) for k in models], list(models.values())
    if isinstance(models, (str, bytes)) or not isinstance(models, Sequence):
        raise UserTypeError(
            "compare takes a list of models (or a dict name -> model): "
            "vw.compare([model_a, model_b], images)"
        )
    return None, list(models)


class Comparison(ipywidgets.VBox):
    """The explorers of several models side by side and the CKA map across the first two.

    Attributes: ``explorers`` (one :class:`AttentionExplorer` per model, in order),
    ``representation_map`` (a :class:`RepresentationMap`, or None), ``links``.
    """

    def __init__(self, explorers: list[AttentionExplorer],
                 representation_map: RepresentationMap | None, links: list) -> None:
        self.explorers, self.representation_map, self.links = explorers, representation_map, links
        titled = []
        for ex, name in zip(explorers, self.names, strict=True):
            title = ipywidgets.HTML()
            title.value = f"<b>{_escape(name)}</b>"
            # side by side: equal shares of the row, each explorer wrapping inside its share
            titled.append(ipywidgets.VBox([title, ex], layout=ipywidgets.Layout(
                margin="0 16px 8px 0", flex="1 1 0", min_width="420px")))
        row = ipywidgets.Box(titled, layout=ipywidgets.Layout(display="flex", flex_flow="row wrap"))
        children = [row] + ([representation_map] if representation_map is not None else [])
        super().__init__(children)
        self.add_class("vw-compare")

    @property
    def names(self) -> list[str]:
        return [ex.model_name for ex in self.explorers]


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def compare(
    models: Any,
    images: Any,
    *,
    cka_data: Any = None,
    cka_mode: str = "cls",
    cache: str | int | None = None,
    **explorer_options: Any,
) -> Comparison:
    """Look at several models side by side, linked by image, query patch and relative depth.

    Args:
        models: a list of models (``ViTModel``, timm names, ``"zoo:..."``, checkpoints: what
            :func:`vw.load_model` takes), or a dict ``{name: model}`` whose names are shown.
        images: the images every explorer shows (each model preprocesses them its own way).
        cka_data: the data the CKA map across the first two models streams over (default: the
            images, which need at least 4; a longer list or a dataset gives a steadier map).
            ``False``: no map.
        cka_mode: features per image for the CKA map: ``"cls"``, ``"mean_patch"``,
            ``"all_tokens"``.
        cache: byte budget of each model's session (``"2GB"``; default a share of the device).
        **explorer_options: initial traits of every explorer (``mode``, ``colormap``, ``layer``
            of the first model, ...); unknown keywords raise ``TypeError``.

    Returns:
        A :class:`Comparison`: the explorers (``.explorers``) and the map
        (``.representation_map``), linked.
    """
    from vitwidgets.core.session import Session

    reject_unknown("vw.compare()", explorer_options, options_of(AttentionExplorer) - {"layout"})
    names, given = _named_models(models)
    if len(given) < 2:
        raise UserValueError(f"compare needs at least two models, got {len(given)}")
    loaded = [load_model(m) for m in given]
    sessions = [Session.from_model(m, images, cache=cache) for m in loaded]
    first_layer = explorer_options.pop("layer", None)
    explorers = [AttentionExplorer(s, **explorer_options) for s in sessions]
    for ex, name in zip(explorers, names or [m.name for m in loaded], strict=True):
        ex.model_name = name
    rmap = None
    if cka_data is not False:
        rmap = RepresentationMap(loaded[0], images if cka_data is None else cka_data, loaded[1],
                                 mode=cka_mode)
    links = link_models(*explorers, representation_map=rmap)
    if first_layer is not None:
        explorers[0].layer = first_layer
    return Comparison(explorers, rmap, links)
