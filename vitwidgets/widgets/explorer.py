"""AttentionExplorer: the image with its patch grid and every head's attention, linked by
Python traits (``image_index``, ``layer``, ``head``, ``query``)."""

from __future__ import annotations

from typing import Any

import traitlets

from vitwidgets.core.session import Session

from ._base import RequestWidget, bundle, check_bundle, png_bytes

#: display modes: query -> keys (a row of A), keys <- all queries (a column of A), the CLS row,
#: attention rollout of blocks 0..layer, the query-aligned average map of each head
MODES = ("row", "column", "cls", "rollout", "aligned")
COLORMAPS = ("viridis", "magma", "inferno", "gray")
THUMBNAIL_SIDE = 96


def as_session(model_or_session: Any, images: Any = None) -> Session:
    """A :class:`Session` from a session, or from a model and images."""
    if isinstance(model_or_session, Session):
        if images is not None:
            raise ValueError("pass images when giving a model, not with a Session")
        return model_or_session
    if images is None:
        raise ValueError("give the images to look at: AttentionExplorer(model, image)")
    return Session(model_or_session, images)


class AttentionExplorer(RequestWidget):
    """Per-head attention of a ViT over its image, answered in the browser on hover.

    Hovering a patch shows, for the selected layer, that query's attention to every token for
    all heads (small multiples) and for the focused head (large view). The browser holds the
    selected layer's attention ``[H, N, N]`` as float16 and asks the kernel only when the
    image, layer or mode changes (about ``H * N^2 * 2`` bytes per layer: 0.93 MB for ViT-B/16
    at 224 px).

    Args:
        model: a ``ViTModel`` (or a timm name / module, or a :class:`Session`).
        images: one image or a list (PIL, path, numpy ``HxWx3``, torch ``3xHxW``).
        **kwargs: initial trait values (``layer``, ``head``, ``mode``, ``colormap``, ...).

    Traits (semantic selection, link them to other widgets):
        image_index: which image. layer: block index ``0..L-1``. head: focused head.
        query: pinned query token (prefix tokens first, then patches row-major), ``-1`` = the
            query follows the pointer.
        mode: one of ``MODES``.
    """

    _esm = bundle("explorer")

    # the model's shape (set from the session)
    model_name = traitlets.Unicode("").tag(sync=True)
    num_layers = traitlets.Int(1).tag(sync=True)
    num_heads = traitlets.Int(1).tag(sync=True)
    grid = traitlets.List(traitlets.Int(), [1, 1]).tag(sync=True)
    patch_size = traitlets.Int(16).tag(sync=True)
    prefix_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    num_images = traitlets.Int(1).tag(sync=True)
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
    _image = traitlets.Bytes(b"").tag(sync=True)
    _image_format = traitlets.Unicode("image/png").tag(sync=True)
    _thumbnails = traitlets.List(traitlets.Bytes()).tag(sync=True)
    #: bumped when the session (model or images) is replaced: the browser drops its cache
    _session_version = traitlets.Int(0).tag(sync=True)

    def __init__(self, model: Any, images: Any = None, **kwargs: Any):
        check_bundle("explorer")
        session = as_session(model, images)
        self.session = session
        super().__init__(**self._shape_of(session), **kwargs)
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

    # -- validation -------------------------------------------------------------------------
    @traitlets.validate("image_index")
    def _valid_image(self, proposal):
        return self._session_or_none("check_image", proposal["value"])

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return self._session_or_none("check_layer", proposal["value"])

    @traitlets.validate("head")
    def _valid_head(self, proposal):
        h = proposal["value"]
        if not 0 <= h < self.num_heads:
            raise traitlets.TraitError(f"head {h} out of range 0..{self.num_heads - 1}")
        return h

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

    def _session_or_none(self, check: str, value: int) -> int:
        session = getattr(self, "session", None)
        if session is None:
            return value
        try:
            return getattr(session, check)(value)
        except ValueError as e:
            raise traitlets.TraitError(str(e)) from None

    @traitlets.observe("image_index")
    def _image_changed(self, change):
        self._image = png_bytes(self.session.image_rgb(change["new"]))

    # -- requests from the frontend -----------------------------------------------------------
    def _methods(self):
        return {"layer_data": self.layer_data}

    def layer_data(
        self, image: int, layer: int, mode: str = "row", include: Any = ("attention",)
    ) -> tuple[dict, list[bytes]]:
        """What the browser needs to draw ``layer`` of ``image`` in ``mode``.

        ``include`` lists the parts wanted: ``"attention"`` (``[H, N, N]`` float16),
        ``"rollout"`` (``[N, N]`` float16, blocks 0..layer) or ``"aligned"``
        (``[H, 2gh-1, 2gw-1]`` float16). Returns the reply's JSON result (shapes) and buffers
        in that order (attention first).
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        if mode == "cls" and self.session.num_prefix == 0:
            raise ValueError("mode 'cls' needs a prefix token; this model has none")
        include = list(include)
        unknown = set(include) - {"attention", "rollout", "aligned"}
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}")
        s = self.session
        s.check_image(image)
        s.check_layer(layer)
        result: dict[str, Any] = {"image": image, "layer": layer, "mode": mode,
                                  "attention_shape": None, "extra_shape": None, "extra_mode": None}
        buffers: list[bytes] = []
        if "attention" in include:
            a = s.layer_attention(image, layer)
            result["attention_shape"] = list(a.shape)
            buffers.append(a.tobytes())
        for extra in ("rollout", "aligned"):
            if extra in include:
                x = s.rollout(image, layer) if extra == "rollout" else s.aligned(image, layer)
                result.update(extra_shape=list(x.shape), extra_mode=extra)
                buffers.append(x.tobytes())
                break
        return result, buffers
