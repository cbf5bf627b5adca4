"""Where a :class:`~vitwidgets.core.session.Session`'s attention comes from.

Two sources answer the same questions (rows and columns of one image's block, its rollout, the
per-head statistics of one image):

- :class:`DenseAttention` reads a :class:`~vitwidgets.core.trace.Trace` that holds every
  block's attention ``[L, B, H, N, N]`` (a hand-built trace, or small models);
- :class:`LazyAttention` holds no attention at all. When an image is first looked at, one
  forward pass (:meth:`ViTModel.capture_qk`) keeps every block's queries (multiplied by the
  attention scale) and keys ``[H, N, d]`` in the model's dtype on its device, in a
  :class:`~vitwidgets.core.cache.ByteCache`; attention is then ``softmax(q k^T)`` computed in
  query chunks exactly as timm's unfused path, and per-head statistics are reduced chunk by
  chunk (:class:`~vitwidgets.core.metrics.HeadStatsReducer`), never holding ``[L, H, N, N]``.
  What the cache evicts is recomputed (a forward pass up to the block asked for).

Shapes: ``H`` heads, ``N = P + G`` tokens (prefix first, patches row-major), ``d`` channels per
head, ``L`` blocks. Indices arriving here are already checked by the session.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from . import metrics
from .cache import ByteCache, format_bytes
from .images import denormalise_uint8
from .model import ViTModel
from .trace import Trace

__all__ = ["LayerQK", "DenseAttention", "LazyAttention", "WAIT_SECONDS"]

#: how long a request waits for a forward pass that another thread is running
WAIT_SECONDS = 600.0
#: float32 copies of one chunk of attention rows the statistics reduction holds at once
_ROW_COPIES = 10
#: bytes of attention rows per query chunk (the reductions are memory-bound)
_CHUNK_ROW_BYTES = 8 * 2**20


@dataclass
class LayerQK:
    """One block's queries and keys for one image.

    Attributes:
        q: ``[H, N, d]`` queries already multiplied by the attention scale (logits are
            ``q @ k^T``), post-norm and RoPE applied, in the model's dtype.
        k: ``[H, N, d]`` keys.
    """

    q: torch.Tensor
    k: torch.Tensor

    def logits(self, start: int, stop: int) -> torch.Tensor:
        """``[H, stop - start, N]`` attention logits of queries ``start .. stop - 1``."""
        return self.q[:, start:stop] @ self.k.transpose(-1, -2)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or ``None`` where there is none (macOS, musl)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None


def release_freed_memory() -> None:
    """Hand memory that was freed back to the operating system. glibc keeps freed blocks of
    up to 32 MB in per-thread heaps; after the chunked reductions of a background thread that
    slack reached 1.3 GB of resident memory for DINOv2-L/14 at 518 px (measured: peak 4.06 GB
    without, 3.1 GB with trimming)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _softmax_lse(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the last dim and its log-sum-exp in one pass: ``(rows, lse)``, ``lse`` in
    float64 (``max + log(sum)``: peaked heads have logits in the hundreds, where a float32 lse
    would be off by 1e-5 and so would every column computed from it)."""
    top = logits.amax(-1, keepdim=True)
    e = torch.exp(logits - top)
    total = e.sum(-1, keepdim=True)
    lse = top[..., 0].double() + torch.log(total[..., 0].double())
    return e.div_(total), lse


def _spans(n: int, chunk: int):
    """``(start, stop)`` of consecutive query chunks of at most ``chunk`` over ``0 .. n-1``."""
    for start in range(0, n, chunk):
        yield start, min(start + chunk, n)


def _rows_stats(qk: LayerQK, num_prefix: int, reducer, chunk: int) -> torch.Tensor:
    """Every query's log-sum-exp ``[H, N]`` (float64), computed in chunks of ``chunk``
    queries; with a ``reducer``, every patch query's attention row is fed to it on the way."""
    n = qk.q.shape[1]
    lse = torch.empty(qk.q.shape[:2], dtype=torch.float64, device=qk.q.device)
    for start, stop in _spans(n, chunk):
        rows, lse[:, start:stop] = _softmax_lse(qk.logits(start, stop))
        if reducer is not None and stop > num_prefix:
            cut = max(num_prefix - start, 0)
            reducer.add(rows[:, cut:], start + cut - num_prefix)
    return lse


def _stack_stats(per_layer: Sequence[dict], layers, grid, patch_size: int) -> metrics.HeadStats:
    """One image's :class:`HeadStats` (``[L, H]``) from each block's reducer result."""
    fields = {name: torch.stack([s[name] for s in per_layer]) for name in per_layer[0]}
    return metrics.HeadStats(layers=tuple(layers), grid=tuple(grid), patch_size=patch_size,
                             num_images=1, **fields)


class DenseAttention:
    """Answers from a trace that holds the attention of every block ``[L, B, H, N, N]``."""

    lazy = False

    def __init__(self, trace: Trace):
        self.trace = trace
        self.num_images, self.num_layers = trace.batch_size, trace.num_layers
        self.num_heads, self.num_tokens = int(trace.attn.shape[2]), trace.num_tokens
        self.grid, self.num_prefix = tuple(trace.grid), trace.num_prefix
        self.patch_size, self.prefix_names = trace.patch_size, trace.prefix_names
        self.name = trace.model_name
        self._rgb: torch.Tensor | None = None

    def image_rgb(self, i: int) -> torch.Tensor:
        if self._rgb is None:
            self._rgb = self.trace.images_uint8()
        return self._rgb[i]

    def attention(self, i: int, layer: int) -> torch.Tensor:
        return self.trace.attn[layer, i]

    def rows(self, i: int, layer: int, tokens: Sequence[int]) -> torch.Tensor:
        return self.trace.attn[layer, i][:, list(tokens)]

    def columns(self, i: int, layer: int, keys: Sequence[int]) -> torch.Tensor:
        return self.trace.attn[layer, i][:, :, list(keys)].transpose(-1, -2)

    def rollout(self, i: int, layer: int) -> torch.Tensor:
        tr = self.trace
        return metrics.attention_rollout(tr.attn[: layer + 1, i : i + 1], grid=tr.grid,
                                         num_prefix=tr.num_prefix)[0]

    def image_stats(self, i: int | None) -> metrics.HeadStats:
        tr = self.trace
        attn = tr.attn if i is None else tr.attn[:, i : i + 1]
        return metrics.head_stats(attn, grid=tr.grid, num_prefix=tr.num_prefix,
                                  patch_size=tr.patch_size, layers=tuple(tr.layers))


class LazyAttention:
    """Answers computed on demand from per-block queries and keys kept in a byte-bounded cache.

    Args:
        model: the :class:`ViTModel`.
        images: the images (anything :meth:`ViTModel.preprocess` takes, one per entry); they
            are preprocessed again when their model input was evicted.
        cache: where everything computed is kept (q/k per block, log-sum-exp, rollout, model
            inputs, per-image statistics).
        work_bytes: scratch memory for one chunk of attention rows (sets the query chunk).
        size: the input size policy of :meth:`ViTModel.preprocess` (``None``: the model's own).

    Raises:
        ValueError: one block's q/k would not fit the cache, or one query row of every head
            would not fit ``work_bytes``.
    """

    lazy = True

    def __init__(self, model: ViTModel, images: Sequence[Any], cache: ByteCache,
                 work_bytes: int, size: tuple[int, int] | str | None = None):
        self.model, self.images, self.cache, self.size = model, list(images), cache, size
        self.num_images, self.num_layers = len(self.images), model.num_layers
        self.num_heads, self.head_dim = model.num_heads, model.head_dim
        pixels = self.pixels(0)
        self.grid = model.grid_for(*pixels.shape[-2:])
        self.num_prefix, self.patch_size = model.num_prefix, model.patch_size
        self.prefix_names, self.name = model.prefix_names, model.name
        self.num_tokens = self.num_prefix + self.grid[0] * self.grid[1]
        self._check_budget(pixels.element_size())
        self.query_chunk = self._query_chunk(work_bytes)
        self._changed = threading.Condition()
        self._pass: tuple[int, int] | None = None  # (image, last block done) of a full pass

    # -- sizes ------------------------------------------------------------------------------
    def layer_qk_bytes(self, element_size: int = 4) -> int:
        """Bytes of one block's q and k for one image."""
        return 2 * self.num_heads * self.num_tokens * self.head_dim * element_size

    def _query_chunk(self, work_bytes: int) -> int:
        per_query = _ROW_COPIES * self.num_heads * self.num_tokens * 4
        if per_query > work_bytes:
            raise ValueError(
                f"{self.name} at {self.num_tokens} tokens needs {format_bytes(per_query)} of "
                f"working memory for one attention row of every head, more than the "
                f"{format_bytes(work_bytes)} this session may use; give a larger cache budget "
                f"(cache=...) or fewer tokens (a smaller input size)"
            )
        # chunks of ~8 MiB of rows: 5-8x faster on the CPU than 40 MiB ones (cache-bound)
        small = max(1, _CHUNK_ROW_BYTES // (self.num_heads * self.num_tokens * 4))
        if self.model.device.type == "cuda":
            small = self.num_tokens  # a GPU wants the biggest chunks that fit
        return max(1, min(self.num_tokens, work_bytes // per_query, small))

    def _check_budget(self, element_size: int) -> None:
        need = self.layer_qk_bytes(element_size)
        if need > self.cache.budget:
            raise ValueError(
                f"the cache budget {format_bytes(self.cache.budget)} is smaller than one "
                f"block's queries and keys ({format_bytes(need)} for {self.name} at "
                f"{self.num_tokens} tokens); give cache= at least {format_bytes(4 * need)}"
            )

    # -- inputs -----------------------------------------------------------------------------
    def pixels(self, i: int) -> torch.Tensor:
        """The model input of image ``i``: ``[3, H_px, W_px]`` on the model's device."""
        def preprocess():
            out = self.model.preprocess([self.images[i]], size=self.size)[0]
            if i and out.shape != self.pixels(0).shape:
                raise ValueError(
                    f"image {i} preprocesses to {tuple(out.shape[-2:])} pixels, image 0 to "
                    f"{tuple(self.pixels(0).shape[-2:])}; a session needs one input size"
                )
            return out
        return self.cache.get_or_compute(("pixels", i), preprocess)

    def image_rgb(self, i: int) -> torch.Tensor:
        cfg = self.model.data_config
        return self.cache.get_or_compute(
            ("rgb", i),
            lambda: denormalise_uint8(self.pixels(i)[None], cfg["mean"], cfg["std"])[0])

    # -- queries and keys -------------------------------------------------------------------
    def _each_block(self, i: int, last: int, fn: Callable[[int, LayerQK], None], *,
                    first: int = 0, background: bool = False) -> None:
        """Call ``fn(layer, qk)`` for blocks ``first .. last`` of image ``i`` in order: from the
        cache when it holds all of them, else from one forward pass up to ``last`` (which
        caches every block's q/k it computes; ``background`` passes never evict)."""
        cached = [self.cache.get(("qk", i, b)) for b in range(first, last + 1)]
        if all(c is not None for c in cached):
            for b, qk in enumerate(cached, first):
                fn(b, qk)
            return
        del cached
        scale = self.model.attention_scale

        def on_qk(layer: int, q: torch.Tensor, k: torch.Tensor) -> None:
            # own copies: k (and q without RoPE) are views into timm's fused qkv output
            qk = LayerQK(q[0] * scale, k[0].clone(memory_format=torch.contiguous_format))
            self.cache.put(("qk", i, layer), qk, evict=not background)
            if background:  # before fn: a request waiting for this block goes on at once
                with self._changed:
                    self._pass = (i, layer)
                    self._changed.notify_all()
            if layer >= first:
                fn(layer, qk)

        # one pass at a time per model (capture_qk takes the model's lock)
        self.model.capture_qk(self.pixels(i)[None], on_qk, stop_after=last)

    def layer_qk(self, i: int, layer: int) -> LayerQK:
        """Block ``layer``'s :class:`LayerQK` of image ``i`` (computed when not cached)."""
        key = ("qk", i, layer)
        with self._changed:  # a full pass on this image may be about to deliver it
            self._changed.wait_for(
                lambda: key in self.cache or self._pass is None or self._pass[0] != i
                or self._pass[1] >= layer, timeout=WAIT_SECONDS)
        found = self.cache.get(key)
        if found is not None:
            return found
        out: list[LayerQK] = []
        self._each_block(i, layer, lambda _b, qk: out.append(qk), first=layer)
        return out[0]

    def lse(self, i: int, layer: int) -> torch.Tensor:
        """``[H, N]`` float64 log-sum-exp of every query's logits (the rows' normalisers)."""
        return self.cache.get_or_compute(
            ("lse", i, layer),
            lambda: _rows_stats(self.layer_qk(i, layer), self.num_prefix, None,
                                self.query_chunk))

    # -- attention --------------------------------------------------------------------------
    def rows(self, i: int, layer: int, tokens: Sequence[int]) -> torch.Tensor:
        qk = self.layer_qk(i, layer)
        return torch.softmax(qk.q[:, list(tokens)] @ qk.k.transpose(-1, -2), -1)

    def columns(self, i: int, layer: int, keys: Sequence[int]) -> torch.Tensor:
        qk, lse = self.layer_qk(i, layer), self.lse(i, layer)
        logits = qk.q @ qk.k[:, list(keys)].transpose(-1, -2)  # [H, N, K]
        # in float64: logits of peaked heads reach hundreds, where float32 loses 1e-5
        out = torch.exp(logits.double() - lse[..., None]).to(logits.dtype)
        return out.transpose(-1, -2)

    def attention(self, i: int, layer: int) -> torch.Tensor:
        def compute():
            qk = self.layer_qk(i, layer)
            out = qk.q.new_empty(self.num_heads, self.num_tokens, self.num_tokens)
            for start, stop in _spans(self.num_tokens, self.query_chunk):
                out[:, start:stop] = torch.softmax(qk.logits(start, stop), -1)
            return out
        return self.cache.get_or_compute(("attention", i, layer), compute)

    def _head_mean(self, qk: LayerQK) -> torch.Tensor:
        """``[N, N]`` attention of one block averaged over heads, in query chunks."""
        out = qk.q.new_empty(self.num_tokens, self.num_tokens)
        for start, stop in _spans(self.num_tokens, self.query_chunk):
            out[start:stop] = torch.softmax(qk.logits(start, stop), -1).mean(0)
        return out

    def rollout(self, i: int, layer: int) -> torch.Tensor:
        """Rollout of blocks ``0..layer`` ``[N, N]``, from the deepest cached one below."""
        found = self.cache.get(("rollout", i, layer))
        if found is not None:
            return found
        below = next((b for b in range(layer - 1, -1, -1) if ("rollout", i, b) in self.cache),
                     None)
        joint = [None if below is None else self.cache.get(("rollout", i, below))]

        def step(b: int, qk: LayerQK) -> None:
            m = metrics.rollout_factor(self._head_mean(qk))
            joint[0] = m if joint[0] is None else m @ joint[0]
            self.cache.put(("rollout", i, b), joint[0])

        self._each_block(i, layer, step, first=0 if below is None else below + 1)
        return joint[0]

    # -- statistics -------------------------------------------------------------------------
    def image_stats(self, i: int, *, background: bool = False) -> metrics.HeadStats:
        """Per-head statistics of image ``i`` (``[L, H]``): one forward pass at most, holding
        the model only for the pass; the reductions run after it, block by block."""
        found = self.cache.get(("stats", i))
        if found is not None:
            return found
        blocks: list[LayerQK] = []
        with self._changed:  # requests for image i wait for this pass instead of the model
            self._pass = (i, -1) if background else self._pass
        try:
            self._each_block(i, self.num_layers - 1, lambda _b, qk: blocks.append(qk),
                             background=background)
        finally:
            with self._changed:
                self._pass = None
                self._changed.notify_all()
        release_freed_memory()  # the forward pass's activations
        per_layer = []
        for b in range(self.num_layers):
            qk, blocks[b] = blocks[b], None  # keep no more than the cache does
            reducer = metrics.HeadStatsReducer((self.num_heads,), self.grid, self.num_prefix,
                                               dtype=qk.q.dtype, device=qk.q.device)
            lse = _rows_stats(qk, self.num_prefix, reducer, self.query_chunk)
            self.cache.put(("lse", i, b), lse, evict=not background)
            per_layer.append(reducer.result())
            del qk, reducer
            release_freed_memory()
        stats = _stack_stats(per_layer, range(self.num_layers), self.grid, self.patch_size)
        self.cache.put(("stats", i), stats)
        return stats
