"""``explore(model, images)``: the explorer, the layer metrics and the head annotator in one
output, linked through Python traits (image, layer, head)."""

from __future__ import annotations

import os
from typing import Any

import ipywidgets
import traitlets

from vitwidgets.core.session import Session

from .annotator import HeadAnnotator
from .explorer import AttentionExplorer, as_session
from .layer_metrics import LayerMetrics, load_bokehjs


class Dashboard(ipywidgets.VBox):
    """The composed views. Attributes: ``explorer``, ``metrics``, ``annotator``, ``session``,
    and ``links`` (the traitlets links that keep them in step)."""

    def __init__(
        self,
        session: Session,
        *,
        annotations: str | os.PathLike | None = None,
        explorer_options: dict | None = None,
    ):
        self.session = session
        self.explorer = AttentionExplorer(session, **(explorer_options or {}))
        self.metrics = LayerMetrics(session)
        self.annotator = HeadAnnotator(session, path=annotations)
        self.links = []
        for name in ("layer", "head"):
            self.links.append(traitlets.link((self.explorer, name), (self.metrics, name)))
            self.links.append(traitlets.link((self.explorer, name), (self.annotator, name)))
        self.links.append(
            traitlets.link((self.explorer, "image_index"), (self.metrics, "image_index"))
        )
        self.annotator.observe(self._annotations_changed, "annotations")
        self._annotations_changed(None)
        header = ipywidgets.Label(
            f"{session.name} · {session.num_layers} layers × {session.num_heads} heads · "
            f"grid {session.grid[0]}×{session.grid[1]} · patch {session.patch_size} px · "
            f"{session.num_images} image(s)"
        )
        lower = ipywidgets.HBox(
            [self.metrics, self.annotator],
            layout=ipywidgets.Layout(align_items="flex-start", flex_flow="row wrap"),
        )
        self.metrics.layout = ipywidgets.Layout(margin="0 16px 8px 0")
        self.annotator.layout = ipywidgets.Layout(flex="1 1 640px", min_width="600px")
        super().__init__([header, self.explorer, lower])
        self.add_class("vw-dashboard")

    def _annotations_changed(self, _change) -> None:
        self.explorer.head_tags = {
            k: v["tag"] for k, v in self.annotator.annotations.items() if v.get("tag")
        }

    def _repr_mimebundle_(self, **kwargs):
        load_bokehjs()
        return super()._repr_mimebundle_(**kwargs)


def explore(
    model: Any,
    images: Any = None,
    *,
    annotations: str | os.PathLike | None = None,
    **explorer_options: Any,
) -> Dashboard:
    """Look inside a ViT: attention per head, metrics per layer and head annotation, linked.

    Args:
        model: a ``ViTModel`` (``vw.load_model(...)``), a timm name or module, or a Session.
        images: one image or a list (a strip of thumbnails switches between them).
        annotations: the head-annotation JSON file (default ``./<model name>.heads.json``);
            edits are saved to it atomically as they happen.
        **explorer_options: initial explorer traits (``layer``, ``head``, ``mode``,
            ``colormap``, ``opacity``, ``log_scale``).

    Returns:
        A :class:`Dashboard` (display it, or let the notebook show it as the cell's value).
    """
    return Dashboard(as_session(model, images), annotations=annotations,
                     explorer_options=explorer_options)
