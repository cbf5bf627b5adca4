"""``explore(model, images)``: the explorer, the layer metrics and the head annotator in one
output, linked with :func:`vitwidgets.link` and laid out by :class:`Dashboard`."""

from __future__ import annotations

import os
from typing import Any

import ipywidgets

from ._base import as_session, options_of, reject_unknown
from .annotator import HeadAnnotator
from .explorer import AttentionExplorer
from .layer_metrics import LayerMetrics
from .link import link


class Dashboard(ipywidgets.VBox):
    """Lays out an explorer above its layer metrics and head annotator (layout only: the
    views are linked by :func:`vitwidgets.link`).

    Attributes: ``explorer``, ``layer_metrics``, ``annotator``, ``session``, and ``links``
    (what keeps them in step, when made by :func:`explore`).
    """

    def __init__(
        self, explorer: AttentionExplorer, layer_metrics: LayerMetrics, annotator: HeadAnnotator,
        *, links: list | None = None,
    ):
        self.explorer, self.layer_metrics, self.annotator = explorer, layer_metrics, annotator
        self.session = s = explorer.session
        self.links = list(links or [])
        header = ipywidgets.Label(
            f"{s.name} · {s.num_layers} layers × {s.num_heads} heads · "
            f"grid {s.grid[0]}×{s.grid[1]} · patch {s.patch_size} px · {s.num_images} image(s)"
        )
        lower = ipywidgets.HBox(
            [layer_metrics, annotator],
            layout=ipywidgets.Layout(align_items="flex-start", flex_flow="row wrap"),
        )
        layer_metrics.layout = ipywidgets.Layout(margin="0 16px 8px 0")
        annotator.layout = ipywidgets.Layout(flex="1 1 640px", min_width="600px")
        super().__init__([header, explorer, lower])
        self.add_class("vw-dashboard")


def explore(
    model: Any,
    images: Any = None,
    *,
    annotations: str | os.PathLike | None = None,
    cache: str | int | None = None,
    **explorer_options: Any,
) -> Dashboard:
    """Look inside a ViT: attention per head, metrics per layer and head annotation, linked.

    Args:
        model: a ``ViTModel`` (``vw.load_model(...)``), a timm name or module, or a Session.
        images: one image or a list (a strip of thumbnails switches between them).
        annotations: the head-annotation JSON file (default ``./<model name>.heads.json``);
            edits are saved to it atomically as they happen.
        cache: byte budget of what the analysis keeps (``"2GB"``, ``"512 MiB"``, bytes;
            default a share of the device's memory); see ``session.cache_info()``.
        **explorer_options: initial explorer traits (``layer``, ``head``, ``mode``,
            ``colormap``, ``opacity``, ``log_scale``, ...); an unknown keyword raises
            ``TypeError`` listing the valid ones.

    Returns:
        A :class:`Dashboard` (display it, or let the notebook show it as the cell's value).
    """
    reject_unknown("vw.explore()", explorer_options, options_of(AttentionExplorer) - {"layout"})
    session = as_session(model, images, cache, caller="vw.explore")
    explorer = AttentionExplorer(session, **explorer_options)
    layer_metrics = LayerMetrics(session)
    annotator = HeadAnnotator(session, path=annotations)
    links = link(explorer, layer_metrics, annotator)
    return Dashboard(explorer, layer_metrics, annotator, links=links)
