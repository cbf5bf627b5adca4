"""AttentionExplorer: the image with its patch grid and every head's attention, linked by
Python traits (``image_index``, ``layer``, ``head``, ``query``)."""

from __future__ import annotations

from typing import Any

import traitlets

from vitwidgets.core.indexing import block_index, check_head, check_image
from vitwidgets.core.session import Session
from vitwidgets.core.vocab import COLORMAPS, MODE_INFO, MODES

from ._base import CommandWidget, as_session, bundle, command, trait_check, widget_session
from ._wire import encode_array, png_bytes

THUMBNAIL_SIDE = 96
#: parts of a layer the browser may ask for (``layer_data``'s ``include``)
LAYER_PARTS = ("attention", "rollout", "aligned")


def _derived(trait: traitlets.TraitType) -> traitlets.TraitType:
    """A synced trait that comes from the session (not a user option)."""
    return trait.tag(sync=True, derived=True)


class AttentionExplorer(CommandWidget):
    """Per-head attention of a ViT over its image, answered in the browser on hover.

    Hovering a patch shows, for the selected layer, that query's attention to every token for
    all heads (small multiples) and for the focused head (large view). The browser holds the
    selected layer's attention ``[H, N, N]`` as float16 and asks the kernel only when the
    image, layer or mode changes (about ``H * N^2 * 2`` bytes per layer: 0.93 MB for ViT-B/16
    at 224 px).

    Args:
        model: a ``ViTModel`` (or anything ``vw.load_model`` takes, or a :class:`Session`).
        images: one image or a list (PIL, path, numpy ``HxWx3``, torch ``3xHxW``).
        **options: initial trait values (``layer``, ``head``, ``mode``, ``colormap``, ...);
            an unknown keyword raises ``TypeError`` listing the valid ones.

    Traits (semantic selection, link them to other widgets with ``vw.link``):
        image_index: which image. layer: block index ``0..L-1``. head: focused head.
        query: pinned query token (prefix tokens first, then patches row-major), ``-1`` = the
            query follows the pointer.
        mode: one of ``vitwidgets.core.vocab.MODES``.
    """

    _bundle_name = "explorer"
    _esm = bundle(_bundle_name)

    session = traitlets.Instance(Session).tag(derived=True)
    # the model's shape (from the session)
    model_name = _derived(traitlets.Unicode(""))
    num_layers = _derived(traitlets.Int(1))
    num_heads = _derived(traitlets.Int(1))
    grid = _derived(traitlets.List(traitlets.Int(), [1, 1]))
    patch_size = _derived(traitlets.Int(16))
    prefix_names = _derived(traitlets.List(traitlets.Unicode()))
    num_images = _derived(traitlets.Int(1))
    # semantic selection
    image_index = traitlets.Int(0).tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query = traitlets.Int(-1).tag(sync=True)
    mode = traitlets.Enum(MODES, "row").tag(sync=True)
    # display
    colormap = traitlets.Enum(COLORMAPS, "viridis").tag(sync=True)
    opacity = traitlets.Float(0.7, min=0.0, max=1.0).tag(sync=True)
    log_scale = traitlets.Bool(False).tag(sync=True)
    #: labels under the head maps: {"layer:head": tag}, e.g. from the HeadAnnotator
    head_tags = traitlets.Dict(traitlets.Unicode()).tag(sync=True)
    request_timeout_ms = traitlets.Int(60_000).tag(sync=True)
    # the vocabulary the frontend shows (its one home is vitwidgets.core.vocab)
    _modes = traitlets.List(
        [{"id": i, "label": label, "title": title} for i, label, title in MODE_INFO]
    ).tag(sync=True)
    _colormaps = traitlets.List(list(COLORMAPS)).tag(sync=True)
    _image = traitlets.Bytes(b"").tag(sync=True)
    _image_format = traitlets.Unicode("image/png").tag(sync=True)
    _thumbnails = traitlets.List(traitlets.Bytes()).tag(sync=True)
    #: bumped when the session (model or images) is replaced: the browser drops its cache
    _session_version = traitlets.Int(0).tag(sync=True)

    def __init__(self, model: Any, images: Any = None, **options: Any):
        session = widget_session(type(self), model, images, options)
        super().__init__(session=session, **self._shape_of(session), **options)
        self._show_images()

    @staticmethod
    def _shape_of(session: Session) -> dict[str, Any]:
        return {
            "model_name": session.name,
            "num_layers": session.num_layers,
            "num_heads": session.num_heads,
            "grid": list(session.grid),
            "patch_size": session.patch_size,
            "prefix_names": list(session.prefix_names),
            "num_images": session.num_images,
        }

    def _show_images(self) -> None:
        s = self.session
        self._image = png_bytes(s.image_rgb(self.image_index))
        self._thumbnails = (
            [png_bytes(s.image_rgb(i), THUMBNAIL_SIDE) for i in range(s.num_images)]
            if s.num_images > 1 else []
        )

    def set_session(self, model: Any, images: Any = None) -> None:
        """Show another model and/or other images (a :class:`Session`, or a model and images).
        The selection is reset to image 0, layer 0, head 0, no pinned query."""
        session = as_session(model, images)
        with self.hold_trait_notifications():
            self.session = session
            self.image_index, self.layer, self.head, self.query = 0, 0, 0, -1
            if self.mode == "cls" and session.num_prefix == 0:
                self.mode = "row"
            for name, value in self._shape_of(session).items():
                setattr(self, name, value)
            self._session_version += 1
        self._show_images()

    # -- validation (against the shape traits, set in the same hold as the selection) --------
    @traitlets.validate("image_index")
    def _valid_image(self, proposal):
        return trait_check(check_image, proposal["value"], self.num_images, owner="this view")

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return trait_check(block_index, proposal["value"], self.num_layers,
                               owner=self.model_name, negative=False)

    @traitlets.validate("head")
    def _valid_head(self, proposal):
        return trait_check(check_head, proposal["value"], self.num_heads)

    @traitlets.validate("mode")
    def _valid_mode(self, proposal):
        if proposal["value"] == "cls" and not self.prefix_names:
            raise traitlets.TraitError("mode 'cls' needs a prefix token; this model has none")
        return proposal["value"]

    @traitlets.validate("query")
    def _valid_query(self, proposal):
        q = proposal["value"]
        n = len(self.prefix_names) + self.grid[0] * self.grid[1]
        if not -1 <= q < n:
            raise traitlets.TraitError(f"query token {q} out of range -1..{n - 1}")
        return q

    @traitlets.observe("image_index")
    def _image_changed(self, change):
        self._image = png_bytes(self.session.image_rgb(change["new"]))

    # -- commands from the frontend -----------------------------------------------------------
    @command("layer_data")
    def layer_data(
        self, image: int, layer: int, mode: str = "row", include: Any = ("attention",)
    ) -> tuple[dict, list[bytes]]:
        """What the browser needs to draw ``layer`` of image number ``image`` in ``mode``.

        ``include`` lists the parts wanted: ``"attention"`` (``[H, N, N]`` float16) and at most
        one of ``"rollout"`` (``[N, N]`` float16, blocks 0..layer) or ``"aligned"``
        (``[H, 2gh-1, 2gw-1]`` float16). Returns the reply's JSON result and the buffers, in
        the order of ``result["arrays"]`` (``{name, shape, dtype}`` each; attention first).
        """
        s = self.session
        parts = self._check_layer_request(image, layer, mode, include)
        encoded = [encode_array(part, self._layer_part(part, image, layer)) for part in parts]
        arrays = [desc for desc, _ in encoded]
        shapes = {desc["name"]: desc["shape"] for desc in arrays}
        extra = next((p for p in parts if p != "attention"), None)
        result = {
            "image": image, "layer": s.check_layer(layer), "mode": mode, "arrays": arrays,
            "attention_shape": shapes.get("attention"),
            "extra_shape": shapes.get(extra), "extra_mode": extra,
        }
        return result, [data for _, data in encoded]

    def _check_layer_request(self, image, layer, mode, include) -> list[str]:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        if mode == "cls" and self.session.num_prefix == 0:
            raise ValueError("mode 'cls' needs a prefix token; this model has none")
        parts = list(include)
        unknown = set(parts) - set(LAYER_PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; parts: {', '.join(LAYER_PARTS)}")
        if {"rollout", "aligned"} <= set(parts):
            raise ValueError("ask for one of 'rollout' or 'aligned' per request, not both")
        self.session.check_image(image)
        self.session.check_layer(layer)
        return [p for p in LAYER_PARTS if p in parts]

    def _layer_part(self, part: str, image: int, layer: int):
        s = self.session
        if part == "attention":
            return s.layer_attention(image, layer)
        return s.rollout(image, layer) if part == "rollout" else s.aligned(image, layer)

