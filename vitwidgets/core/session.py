"""The analysis session the widgets ask: a model, its images and what was computed about them.

Widgets never compute metrics themselves; they hold a :class:`Session` and ask it for the
attention of a layer, rollout, aligned maps, per-head statistics and tag proposals. Answers are
torch tensors on the model's device (the widgets encode them for the browser). A session made
with :meth:`Session.from_model` is lazy (:mod:`vitwidgets.core.sources`): images are traced
when first asked about and only per-block queries and keys are kept; everything computed lives
in one byte-bounded cache (:meth:`Session.cache_info`).

Shapes: ``L`` blocks, ``H`` heads, ``N = P + G`` tokens with the ``P`` prefix tokens first and
the ``G = gh * gw`` patches in row-major order. Layer arguments follow
:mod:`vitwidgets.core.indexing` (``-1`` = the last block).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from . import metrics
from .cache import ByteCache, CacheInfo, default_budget, parse_bytes
from .errors import UserValueError
from .indexing import block_index, check_image
from .model import ViTModel
from .sources import DenseAttention, LayerQK, LazyAttention
from .trace import Trace

__all__ = ["Session", "LayerQK"]

#: scratch memory for chunks of attention rows: a quarter of the cache budget, at most this
MAX_WORK_BYTES = 128 * 2**20


def _as_cache(cache: ByteCache | int | str | None, device: torch.device) -> ByteCache:
    """The session's cache: a given :class:`ByteCache`, or a new one of that budget (default
    :func:`~vitwidgets.core.cache.default_budget` of the device)."""
    if isinstance(cache, ByteCache):
        return cache
    return ByteCache(default_budget(device) if cache is None else parse_bytes(cache))


class Session:
    """A model's attention over a list of images, and the answers computed from it.

    Args:
        trace: a :class:`~vitwidgets.core.trace.Trace` holding the attention of every block
            (``attn [L, B, H, N, N]``, blocks ``0..L-1`` in order), e.g. a hand-built one.
        identity: what identifies the model's weights (``ViTModel.identity``), for annotation
            files; defaults to the trace's model name.
        model: the :class:`~vitwidgets.core.model.ViTModel` that made the trace, if any.
        cache: byte budget of what the session computes (``"2GB"``, a number of bytes, or a
            :class:`~vitwidgets.core.cache.ByteCache`); default a sensible share of the device.

    Use :meth:`from_model` to look at images with a model: nothing is computed until asked.
    """

    def __init__(
        self, trace: Trace, *, identity: dict | None = None, model: ViTModel | None = None,
        cache: ByteCache | int | str | None = None,
    ):
        if trace.attn is None:
            raise UserValueError("the trace holds no attention: trace with attention=True")
        if list(trace.layers) != list(range(trace.num_layers)):
            raise UserValueError(
                f"a session needs the attention of blocks 0..L-1 in order; this trace holds "
                f"blocks {list(trace.layers)} (trace with layers=None)"
            )
        self._setup(DenseAttention(trace), _as_cache(cache, trace.device), model,
                    identity or {"name": trace.model_name or "trace"})
        self.trace = trace

    def _setup(self, source, cache: ByteCache, model, identity: dict) -> None:
        self.source, self.cache, self.model = source, cache, model
        self.identity = dict(identity)
        self.trace: Trace | None = None
        self._stats_lock = threading.Lock()
        self._done: dict[int, metrics.HeadStats] = {}  # images whose statistics were merged
        self._merged: metrics.HeadStats | None = None
        self._proposals: list[dict] | None = None
        self._filler: threading.Thread | None = None
        self._priority: int | None = None
        #: the exception that stopped :meth:`fill_in_background`, if any
        self.fill_error: BaseException | None = None

    @classmethod
    def from_model(
        cls, model: ViTModel | nn.Module, images: Any, *,
        cache: ByteCache | int | str | None = None, size: tuple[int, int] | str | None = None,
    ) -> Session:
        """A lazy session: an image is traced when it is first looked at, and only per-block
        queries and keys are kept (see :class:`~vitwidgets.core.sources.LazyAttention`).

        Args:
            model: a :class:`ViTModel` (``vw.load_model(...)``) or a timm ViT module.
            images: one image or a list (PIL, path, numpy ``HxWx3``, torch ``3xHxW``), as
                :meth:`ViTModel.preprocess` takes them.
            cache: byte budget of everything the session keeps (``"2GB"``, ``"512 MiB"``, a
                number of bytes, or a shared :class:`ByteCache`); default
                :func:`~vitwidgets.core.cache.default_budget` of the model's device.
                A quarter of it (at most 128 MiB) is scratch memory for attention chunks.
            size: input size (:meth:`ViTModel.preprocess`): ``None`` the model's configured
                size, ``"keep"`` each image's own (dynamic-size models), or ``(H, W)``.

        Raises:
            ValueError: no images, a budget that does not parse, or a budget too small for one
                block of this model at this resolution.
        """
        vit = model if isinstance(model, ViTModel) else ViTModel(model)
        image_list = list(images) if isinstance(images, (list, tuple)) else [images]
        if not image_list:
            raise UserValueError("a session needs at least one image")
        cache = _as_cache(cache, vit.device)
        work = min(cache.budget // 4, MAX_WORK_BYTES)
        session = cls.__new__(cls)
        session._setup(LazyAttention(vit, image_list, cache, work, size), cache, vit, vit.identity)
        return session

    # -- geometry ---------------------------------------------------------------------------
    @property
    def lazy(self) -> bool:
        """Whether attention is computed on demand from queries and keys."""
        return self.source.lazy

    @property
    def name(self) -> str:
        return str(self.identity.get("name") or self.source.name or "model")

    @property
    def num_images(self) -> int:
        return self.source.num_images

    @property
    def num_layers(self) -> int:
        return self.source.num_layers

    @property
    def num_heads(self) -> int:
        return self.source.num_heads

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.source.grid)

    @property
    def patch_size(self) -> int:
        return int(self.source.patch_size)

    @property
    def num_prefix(self) -> int:
        return int(self.source.num_prefix)

    @property
    def num_tokens(self) -> int:
        return self.source.num_tokens

    @property
    def prefix_names(self) -> tuple[str, ...]:
        return tuple(self.source.prefix_names)

    @property
    def head_dim(self) -> int | None:
        """Channels per head ``d`` of the queries and keys a lazy session keeps (else None)."""
        return self.source.head_dim if self.lazy else None

    # -- checks -----------------------------------------------------------------------------
    def check_image(self, image_index: int) -> int:
        """``image_index`` as ``0 .. B-1``, or a ValueError naming the valid range."""
        return check_image(image_index, self.num_images, owner="this session")

    def check_layer(self, layer: int) -> int:
        """Block ``layer`` as ``0 .. L-1`` (``-1`` = the last block), or a ValueError."""
        return block_index(layer, self.num_layers, owner=self.name)

    def check_tokens(self, tokens: Sequence[int], what: str = "token") -> list[int]:
        """``tokens`` as a non-empty list of token indices ``0 .. N-1``, or a ValueError."""
        out = []
        for t in tokens:
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < self.num_tokens:
                raise UserValueError(f"{what} {t!r} is not a token index 0..{self.num_tokens - 1}")
            out.append(int(t))
        if not out:
            raise UserValueError(f"give at least one {what}")
        return out

    # -- attention --------------------------------------------------------------------------
    def image_rgb(self, image_index: int) -> torch.Tensor:
        """The model input of one image as displayable RGB: ``[H_px, W_px, 3]`` uint8 (CPU)."""
        return self.source.image_rgb(self.check_image(image_index))

    def layer_attention(self, image_index: int, layer: int) -> torch.Tensor:
        """Post-softmax attention of block ``layer`` for one image: ``[H, N, N]`` (rows =
        queries, columns = keys; prefix tokens first). A lazy session computes it (and keeps
        it in the cache): prefer :meth:`attention_rows` for big models."""
        return self.source.attention(self.check_image(image_index), self.check_layer(layer))

    def attention_rows(self, image_index: int, layer: int, queries: Sequence[int]) -> torch.Tensor:
        """Attention rows of the query tokens ``queries`` in block ``layer``: ``[H, Q, N]``
        (each row sums to 1 over the keys)."""
        return self.source.rows(self.check_image(image_index), self.check_layer(layer),
                                self.check_tokens(queries, "query"))

    def attention_columns(self, image_index: int, layer: int, keys: Sequence[int]) -> torch.Tensor:
        """Attention columns of the key tokens ``keys`` in block ``layer``: ``[H, K, N]``,
        entry ``[h, j, i]`` = how much query ``i`` attends to key ``keys[j]``."""
        return self.source.columns(self.check_image(image_index), self.check_layer(layer),
                                   self.check_tokens(keys, "key"))

    def layer_qk(self, image_index: int, layer: int) -> tuple[LayerQK, torch.Tensor]:
        """Block ``layer``'s queries (times the attention scale) and keys ``[H, N, d]`` and the
        log-sum-exp of every query's logits ``[H, N]`` (float64): what the browser needs to
        compute rows and columns itself. Lazy sessions only."""
        if not self.lazy:
            raise UserValueError("this session was made from a trace of attention and holds no "
                             "queries and keys; use Session.from_model")
        i, layer = self.check_image(image_index), self.check_layer(layer)
        return self.source.layer_qk(i, layer), self.source.lse(i, layer)

    def rollout(self, image_index: int, layer: int) -> torch.Tensor:
        """Attention rollout (Abnar & Zuidema 2020) of blocks ``0..layer`` for one image:
        ``[N, N]``, rows sum to 1 (:func:`vitwidgets.metrics.attention_rollout`)."""
        key = ("rollout", self.check_image(image_index), self.check_layer(layer))
        if self.lazy:
            return self.source.rollout(*key[1:])
        return self.cache.get_or_compute(key, lambda: self.source.rollout(*key[1:]))

    def rollout_rows(self, image_index: int, layer: int, queries: Sequence[int]) -> torch.Tensor:
        """Rows of :meth:`rollout` for the query tokens ``queries``: ``[Q, N]``."""
        return self.rollout(image_index, layer)[self.check_tokens(queries, "query")]

    # -- statistics -------------------------------------------------------------------------
    def head_stats(self, image_index: int | None = None) -> metrics.HeadStats:
        """Per-head statistics (:func:`vitwidgets.metrics.head_stats`) of one image, or
        averaged over all images when ``image_index`` is ``None`` (a lazy session traces the
        images it has not seen yet). Shapes ``[L, H]``."""
        if image_index is not None:
            i = self.check_image(image_index)
            if self.lazy:
                return self._done.get(i) or self.source.image_stats(i)
            return self.cache.get_or_compute(("stats", i), lambda: self.source.image_stats(i))
        if not self.lazy:
            return self.cache.get_or_compute(("stats", None),
                                             lambda: self.source.image_stats(None))
        for i in range(self.num_images):
            self.fill_metrics(i)
        return self._merged

    def fill_metrics(self, image_index: int, *, background: bool = False) -> None:
        """Compute image ``image_index``'s statistics and merge them into the average over all
        images (once per image). ``background`` work never evicts cache entries."""
        if image_index in self._done:
            return
        stats = (self.source.image_stats(image_index, background=background) if self.lazy
                 else self.head_stats(image_index))
        with self._stats_lock:
            if image_index in self._done:
                return
            self._done[image_index] = stats
            self._merged = stats if self._merged is None else self._merged.merge(stats)

    def fill_in_background(self) -> threading.Thread | None:
        """Start computing every image's statistics in a daemon thread (one forward pass per
        image, never evicting what the cache holds), so that :meth:`head_stats` and
        :meth:`proposals` are ready when asked while the kernel keeps answering. Returns the
        thread (``None`` when everything is in); progress: :meth:`metrics_progress`; an
        exception that stops it is kept in :attr:`fill_error`."""
        if self.metrics_progress()[0] == self.num_images:
            return None
        if self._filler is None or not self._filler.is_alive():
            self.fill_error = None
            self._filler = threading.Thread(target=self._fill_all, daemon=True,
                                            name=f"vitwidgets metrics of {self.name}")
            self._filler.start()
        return self._filler

    def prioritise(self, image_index: int) -> None:
        """Let :meth:`fill_in_background` do image ``image_index`` next (e.g. the one a view
        shows), then go on in order."""
        self._priority = self.check_image(image_index)

    def _fill_all(self) -> None:
        try:
            while True:
                left = [i for i in range(self.num_images) if i not in self._done]
                if not left:
                    return
                first = self._priority if self._priority in left else left[0]
                self.fill_metrics(first, background=True)
        except BaseException as error:  # kept for the widgets to show
            self.fill_error = error

    def metrics_progress(self) -> tuple[int, int]:
        """``(images whose statistics are in, images)``; :meth:`head_stats` (all images) and
        :meth:`proposals` answer without waiting once both are equal."""
        if not self.lazy:
            return self.num_images, self.num_images
        return len(self._done), self.num_images

    def metrics_ready(self, image_index: int | None = None) -> bool:
        """Whether :meth:`head_stats` of ``image_index`` (``None``: of all images) answers
        without computing."""
        if not self.lazy:
            return True
        if image_index is None:
            return len(self._done) == self.num_images
        return self.check_image(image_index) in self._done

    def aligned(self, image_index: int, layer: int) -> torch.Tensor:
        """Query-aligned average attention canvas (Walmer et al. 2023) of every head of block
        ``layer`` for one image: ``[H, 2gh-1, 2gw-1]``; the centre cell is the query itself."""
        layer = self.check_layer(layer)
        return self.head_stats(image_index).canvas[layer]

    def layer_table(self, image_index: int | None = None) -> dict[str, torch.Tensor]:
        """Per-head metrics as ``[L, H]`` float64 CPU tensors for plotting: ``distance_px``
        (mean attention distance in pixels), ``entropy`` (nats), ``nmi`` (0..1),
        ``prefix_share`` (share of the patch queries' attention on prefix tokens, 0..1),
        ``offset_dy`` and ``offset_dx`` (centre of mass of the aligned canvas, patches), and
        ``share_<name>`` per prefix token (e.g. ``share_cls``, ``share_reg0``: the register
        artefact heads of Darcet et al. 2024 put most of their attention on one register)."""
        s = self.head_stats(image_index)
        columns = {
            "distance_px": s.distance_pixels,
            "entropy": s.entropy,
            "nmi": s.nmi,
            "prefix_share": s.prefix_share,
            "offset_dy": s.offset_patches[..., 0],
            "offset_dx": s.offset_patches[..., 1],
        }
        if s.prefix_token_share is not None:
            for p, name in enumerate(self.prefix_names):
                columns[f"share_{name}"] = s.prefix_token_share[..., p]
        return {k: v.detach().to("cpu", torch.float64) for k, v in columns.items()}

    def proposals(self) -> list[dict]:
        """Proposed tag per head over all images (:func:`vitwidgets.metrics.propose_head_tags`):
        a layer-major list of ``{"layer", "head", "tag", "direction", "rule", "evidence"}``."""
        if self._proposals is None:
            self._proposals = metrics.propose_head_tags(self.head_stats(None))
        return self._proposals

    def cache_info(self) -> CacheInfo:
        """What the session's cache holds (entries by kind, bytes, hits, evictions)."""
        return self.cache.info()


def _concat_traces(traces: Sequence[Trace]) -> Trace:
    """One trace of all images from traces of consecutive batches (attention only)."""
    if len(traces) == 1:
        return traces[0]
    first = traces[0]
    fields = dict(first.__dict__)
    fields["pixels"] = torch.cat([t.pixels for t in traces])
    fields["attn"] = torch.cat([t.attn for t in traces], dim=1)
    if first.output is not None:
        fields["output"] = torch.cat([t.output for t in traces])
    return Trace(**fields)
