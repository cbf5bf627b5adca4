"""AttentionExplorer: the image with its patch grid and every head's attention, linked by
Python traits (``image_index``, ``layer``, ``head``, ``query``)."""

from __future__ import annotations

from typing import Any

import traitlets

from vitwidgets.core.indexing import block_index, check_head, check_image
from vitwidgets.core.session import Session
from vitwidgets.core.vocab import COLORMAPS, MODE_INFO, MODES, SCALE_INFO, SCALES

from ._base import (
    FRONTEND_TIMEOUT_S,
    SessionView,
    as_session,
    bundle,
    command,
    derived,
    trait_check,
    widget_session,
)
from ._export import PngSave, start_png_save
from ._recall import RECALLED, SELECTIONS
from ._wire import encode_array, png_bytes

THUMBNAIL_SIDE = 96
#: parts of a layer the browser may ask for (``layer_data``'s ``include``)
LAYER_PARTS = ("attention", "rollout", "aligned")
#: what the ``rows`` command answers: attention rows, attention columns, rollout rows
ROW_KINDS = ("row", "column", "rollout")
#: tokens one ``rows`` request may ask for
MAX_ROW_TOKENS = 16
#: a layer's attention at most this big is shipped as it is (exact and simplest), even when
#: its queries and keys would be smaller
DENSE_LAYER_BYTES = 2**20


#: how a layer's attention reaches the browser: chosen by size, or forced
LAYER_FORMS = ("auto", "dense", "qk", "kernel")


def attention_form(session: Session, max_layer_bytes: int, forced: str = "auto") -> str:
    """How the browser gets a layer's attention: ``"dense"`` (``[H, N, N]`` float16) when it
    is at most :data:`DENSE_LAYER_BYTES`, or at most ``max_layer_bytes`` and the session has no
    queries and keys; else ``"qk"`` (q, k ``[H, N, d]`` float16 and the log-sum-exp ``[H, N]``
    float32: ``2 * H * N * (2 d + 2)`` bytes) when that is at most ``max_layer_bytes``; else
    ``"kernel"``: the browser asks for the rows it shows (``rows``). ``forced`` (not
    ``"auto"``) picks the form regardless of size."""
    if forced == "qk" and not session.lazy:
        raise ValueError("layer_form='qk' needs queries and keys: a session from a model "
                         "(Session.from_model), not from a trace of attention")
    if forced != "auto":
        return forced
    h, n = session.num_heads, session.num_tokens
    dense = h * n * n * 2
    if dense <= min(DENSE_LAYER_BYTES, max_layer_bytes) or (
        not session.lazy and dense <= max_layer_bytes
    ):
        return "dense"
    if session.lazy and 2 * h * n * (2 * session.head_dim + 2) <= max_layer_bytes:
        return "qk"
    return "kernel"


def rollout_form(session: Session, max_layer_bytes: int) -> str:
    """``"dense"`` (``[N, N]`` float16) when it fits ``max_layer_bytes``, else ``"kernel"``."""
    return "dense" if session.num_tokens**2 * 2 <= max_layer_bytes else "kernel"


class AttentionExplorer(SessionView):
    """Per-head attention of a ViT over its image, answered in the browser on hover.

    Hovering a patch shows, for the selected layer, that query's attention to every token for
    all heads (small multiples) and for the focused head (large view). Hover is answered in
    the browser from what the kernel sends once per image and layer (:func:`attention_form`):
    the layer's attention ``[H, N, N]`` float16 for small layers (0.93 MB for ViT-B/16 at 224
    px), its queries and keys for big ones (5.6 MB instead of 60 MB for DINOv2-L/14 at 518
    px; rows are ``softmax(q k^T)`` of the float16 q and k, within about 1e-3 of the kernel's
    rows), and beyond ``max_layer_bytes`` the kernel answers the hovered query's rows
    (``[H, N]`` float16, at most one request in flight, the newest hover winning).

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

    Display traits: ``colormap``, ``opacity`` (of the maps over the image, 0..1),
    ``log_scale``, ``scale`` (what the brightest colour stands for: ``"map"`` each map's own
    largest patch value, ``"layer"`` one value for every head of the layer, ``"absolute"``
    100 % attention; the colour bar shows it in %), ``dim`` (0..1: the image darkened under the
    maps so that low values show), ``grid_lines`` (lines between the patches), ``contour``
    (0..1: outline the cells in that upper share of the colour scale; 0 = none).

    Re-running the cell that made an explorer brings the new one back to the latest
    selection (image, layer, head, mode, pinned query) of an explorer of the same model,
    except for what is passed explicitly (see ``vitwidgets/widgets/_recall.py``).
    """

    _bundle_name = "explorer"
    _esm = bundle(_bundle_name)

    # the model's shape beyond SessionView's (from the session)
    num_heads = derived(traitlets.Int(1))
    prefix_names = derived(traitlets.List(traitlets.Unicode()))
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
    #: what the brightest colour stands for: one of ``vitwidgets.core.vocab.SCALES``
    scale = traitlets.Enum(SCALES, "map").tag(sync=True)
    #: share 0..1 of the image darkened to black under the maps (low values show over a photo)
    dim = traitlets.Float(0.0, min=0.0, max=1.0).tag(sync=True)
    #: lines between the patch cells (drawn where cells are at least 6 px)
    grid_lines = traitlets.Bool(True).tag(sync=True)
    #: outline the cells at or above this share of the colour scale (0.5: the upper half of
    #: the colour bar, whatever the scale; 0: no outline)
    contour = traitlets.Float(0.0, min=0.0, max=1.0).tag(sync=True)
    #: labels under the head maps: {"layer:head": tag}, e.g. from the HeadAnnotator
    head_tags = traitlets.Dict(traitlets.Unicode()).tag(sync=True)
    request_timeout_ms = traitlets.Int(60_000).tag(sync=True)
    #: the most bytes one layer may send the browser (attention, or queries and keys); beyond
    #: it hover asks the kernel for rows (the default stays under jupyter-server's 10 MB
    #: websocket message limit)
    max_layer_bytes = traitlets.Int(8_000_000, min=0)
    #: ``"auto"`` (by size, see :func:`attention_form`), or force ``"dense"``, ``"qk"`` or
    #: ``"kernel"`` (e.g. to compare them)
    layer_form = traitlets.Enum(LAYER_FORMS, "auto")
    # the vocabulary the frontend shows (its one home is vitwidgets.core.vocab)
    _modes = traitlets.List(
        [{"id": i, "label": label, "title": title} for i, label, title in MODE_INFO]
    ).tag(sync=True)
    _colormaps = traitlets.List(list(COLORMAPS)).tag(sync=True)
    _scales = traitlets.List(
        [{"id": i, "label": label, "title": title} for i, label, title in SCALE_INFO]
    ).tag(sync=True)
    _image = traitlets.Bytes(b"").tag(sync=True)
    _image_format = traitlets.Unicode("image/png").tag(sync=True)
    _thumbnails = traitlets.List(traitlets.Bytes()).tag(sync=True)
    #: bumped when the session (model or images) is replaced: the browser drops its cache
    _session_version = traitlets.Int(0).tag(sync=True)

    def __init__(self, model: Any, images: Any = None, **options: Any):
        session = widget_session(type(self), model, images, options)
        self._recall_slot = SELECTIONS.slot(session)
        recalled = SELECTIONS.recall(self._recall_slot, session, options)
        super().__init__(session=session, **self._shape_of(session), **recalled, **options)
        self._remember()
        self.observe(self._remember, list(RECALLED))
        self._show_images()

    def _remember(self, _change: Any = None) -> None:
        """Keep the selection for the next run of the cell that made this explorer."""
        SELECTIONS.remember(self._recall_slot, {k: getattr(self, k) for k in RECALLED})

    @staticmethod
    def _shape_of(session: Session) -> dict[str, Any]:
        return {**SessionView._shape_of(session), "num_heads": session.num_heads,
                "prefix_names": list(session.prefix_names)}

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
        session = as_session(model, images, caller="AttentionExplorer.set_session")
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

    @traitlets.observe("max_layer_bytes", "layer_form")
    def _form_changed(self, _change):
        self._session_version += 1  # the browser drops what it holds in the old form

    @traitlets.observe("image_index")
    def _image_changed(self, change):
        self._image = png_bytes(self.session.image_rgb(change["new"]))

    # -- commands from the frontend -----------------------------------------------------------
    def save_png(
        self, path: Any, *, scale: int = 2, timeout: float = FRONTEND_TIMEOUT_S
    ) -> PngSave:
        """Write a PNG of what the explorer shows (as its PNG button downloads): a title line,
        the focused head's map with its title and colour bar, and every head's small map with
        its label, on white. In a notebook cell: ``await explorer.save_png("fig.png")``.

        The browser draws the PNG, so the explorer must be displayed (and drawn) in a notebook
        with a running kernel. The browser's reply can reach the kernel while the cell awaits
        (a cell blocked in a plain call would keep it out): hence ``await``. Not awaited, the
        PNG is written once the cell ends (the way for kernels that take no reply while a
        cell runs, such as older ipykernel versions).

        Args:
            path: a file name ending in ``.png`` in an existing folder (replaced if it exists).
            scale: px per CSS px, a whole number 1..8 (2: a 380 px map becomes 760 px, sharp).
            timeout: seconds to wait for the browser; then ``TimeoutError`` says to display
                the widget first.

        Returns:
            a :class:`~vitwidgets.widgets._export.PngSave`; awaiting it gives the ``Path``
            written, or raises ``TimeoutError`` (no view answered) or ``RuntimeError`` (the
            view could not draw it, e.g. its data is still loading).
        """
        return start_png_save(self, path, scale=scale, timeout=timeout)

    @command("layer_data")
    def layer_data(
        self, image: int, layer: int, mode: str = "row", include: Any = ("attention",)
    ) -> tuple[dict, list[bytes]]:
        """What the browser needs to draw ``layer`` of image number ``image`` in ``mode``.

        ``include`` lists the parts wanted: ``"attention"`` (in the form
        :func:`attention_form` chooses, named in ``result["attention_form"]``) and at most one
        of ``"rollout"`` (``[N, N]`` float16, blocks 0..layer, or ``"kernel"`` in
        ``result["rollout_form"]``) or ``"aligned"`` (``[H, 2gh-1, 2gw-1]`` float16). Returns
        the reply's JSON result and the buffers, in the order of ``result["arrays"]``
        (``{name, shape, dtype}`` each).
        """
        s = self.session
        parts = self._check_layer_request(image, layer, mode, include)
        layer = s.check_layer(layer)
        result: dict[str, Any] = {"image": image, "layer": layer, "mode": mode}
        encoded = []
        for part in parts:
            encoded += self._encode_part(part, image, layer, result)
        arrays = [desc for desc, _ in encoded]
        shapes = {desc["name"]: desc["shape"] for desc in arrays}
        extra = next((p for p in parts if p != "attention"), None)
        result.update(arrays=arrays, attention_shape=shapes.get("attention"),
                      extra_shape=shapes.get(extra), extra_mode=extra)
        return result, [data for _, data in encoded]

    def _encode_part(self, part: str, image: int, layer: int, result: dict) -> list:
        s = self.session
        if part == "aligned":
            return [encode_array(part, s.aligned(image, layer))]
        if part == "rollout":
            form = result["rollout_form"] = rollout_form(s, self.max_layer_bytes)
            return [encode_array(part, s.rollout(image, layer))] if form == "dense" else []
        form = result["attention_form"] = attention_form(s, self.max_layer_bytes,
                                                         self.layer_form)
        if form == "dense":
            return [encode_array(part, s.layer_attention(image, layer))]
        if form == "kernel":
            return []
        qk, lse = s.layer_qk(image, layer)
        result["head_dim"] = int(qk.q.shape[-1])
        return [encode_array("q", qk.q), encode_array("k", qk.k),
                encode_array("lse", lse, "float32")]

    @command("rows")
    def rows(self, image: int, layer: int, kind: str, tokens: list) -> tuple[dict, list[bytes]]:
        """The kernel's answer to a hover it must compute: ``[T, H, N]`` float16 for the
        tokens asked (``kind`` ``"row"``: each query's attention rows; ``"column"``: each key's
        attention columns; ``"rollout"``: ``[T, 1, N]`` rollout rows of blocks 0..layer)."""
        s = self.session
        if kind not in ROW_KINDS:
            raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(ROW_KINDS)}")
        if not isinstance(tokens, list) or not 1 <= len(tokens) <= MAX_ROW_TOKENS:
            raise ValueError(f"tokens must be a list of 1..{MAX_ROW_TOKENS} token indices, "
                             f"got {tokens!r}")
        image, layer = s.check_image(image), s.check_layer(layer)
        if kind == "row":
            values = s.attention_rows(image, layer, tokens).transpose(0, 1)
        elif kind == "column":
            values = s.attention_columns(image, layer, tokens).transpose(0, 1)
        else:
            values = s.rollout_rows(image, layer, tokens)[:, None]
        desc, data = encode_array("rows", values)
        result = {"image": image, "layer": layer, "kind": kind, "tokens": tokens,
                  "arrays": [desc]}
        return result, [data]

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
