"""Per-head attention metrics: distance, entropy, NMI, aligned canvas and offsets, prefix share,
CLS map, rollout (Walmer et al. 2023 "Teaching Matters"; Raghu et al. 2021; Park et al. 2023;
Abnar & Zuidema 2020; Caron et al. 2021 DINO).

Every function takes a :class:`~vitwidgets.core.trace.Trace` (its ``attn`` ``[L, B, H, N, N]``)
or a plain attention tensor ``[..., N, N]`` plus ``grid``/``num_prefix`` (and ``patch_size`` for
pixel units), and returns torch tensors on the attention's device whose leading dims are the
attention's leading dims (``[L, B, H]`` for a Trace). Everything is vectorised over layers,
images, heads and queries: these are hand-written torch ops rather than numpy/scipy so that they
run on the GPU next to the model and answer a click on a ViT-B/16 in milliseconds.

Conventions shared by distance, entropy, NMI and the aligned canvas: the patch-to-patch block
``A[..., P:, P:]`` with every row renormalised to sum 1 after dropping the prefix key columns;
patch ``(r, c)`` sits at its centre; queries are averaged uniformly (or over ``query_mask``, e.g.
foreground queries only). Blocks are named as in :mod:`vitwidgets.core.indexing` (``layer=-1``
is the model's last block).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from vitwidgets.core.indexing import block_index
from vitwidgets.core.trace import Trace

from ._common import (
    AttnInput,
    aligned_geometry,
    as_float,
    attn_input,
    mean_queries,
    mean_queries_vec,
    patch_block,
    patch_coords,
    query_weights,
    renorm_patch_keys,
)

__all__ = [
    "attention_distance",
    "attention_entropy",
    "attention_nmi",
    "aligned_attention",
    "head_offsets",
    "HeadOffsets",
    "prefix_attention",
    "cls_attention_map",
    "ClsAttentionMap",
    "top_mass_mask",
    "mask_iou",
    "attention_rollout",
    "rollout_factor",
    "head_stats",
    "HeadStats",
    "HeadStatsReducer",
    "HeadStatsAccumulator",
]


@functools.lru_cache(maxsize=32)
def _distance_matrix(grid: tuple[int, int], units: str, patch_size: int, device: str):
    pos = patch_coords(grid, units, patch_size, device=device, dtype=torch.float64)
    return torch.cdist(pos, pos)


def _dist(a: AttnInput, units: str, dtype: torch.dtype) -> torch.Tensor:
    return _distance_matrix(a.grid, units, a.patch_size, str(a.attn.device)).to(dtype)


@functools.lru_cache(maxsize=32)
def _canvas_index(grid: tuple[int, int], device: str) -> torch.Tensor:
    """``[G*G]`` flat canvas cell of every (query, key) pair: the offset key - query."""
    pos = patch_coords(grid, "patches", device=device, dtype=torch.float64).long()
    d = pos[None, :, :] - pos[:, None, :]  # [Gq, Gk, 2] key - query
    return aligned_geometry(grid).cell(d[..., 0], d[..., 1]).reshape(-1)


def _block_and_weights(
    x, query_mask, grid, num_prefix, patch_size=None
) -> tuple[AttnInput, torch.Tensor, torch.Tensor | None]:
    """The unpacked input, its renormalised patch block ``[..., G, G]`` and the query
    weights (``None`` = uniform)."""
    a = attn_input(x, grid, num_prefix, patch_size)
    r = patch_block(a)
    w = query_weights(query_mask, r.shape[:-2], a.num_patches, r.device)
    return a, r, w


def _check_lbh(a: AttnInput) -> None:
    if a.attn.ndim != 5:
        raise ValueError(f"expected attention [L, B, H, N, N], got shape {tuple(a.attn.shape)}")


def _check_query(query: int, n: int) -> None:
    if not -n <= query < n:
        raise ValueError(f"query {query} out of range for {n} tokens")


def _entropy_rows(r: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of every row ``[..., Q, G] -> [..., Q]``."""
    return -torch.special.xlogy(r, r).sum(-1)


def _distance(r, w, a: AttnInput, units: str) -> torch.Tensor:
    return mean_queries((r * _dist(a, units, r.dtype)).sum(-1), w)


def _nmi(r, w, eps: float = 1e-12) -> torch.Tensor:
    g = r.shape[-1]
    if w is None:
        p_k = r.mean(-2)
        h_q = torch.full(r.shape[:-2], math.log(g), dtype=r.dtype, device=r.device)
    else:
        wq = w.to(r.dtype)
        p_k = (r * wq[..., None]).sum(-2)
        h_q = (-torch.special.xlogy(wq, wq).sum(-1)).expand(r.shape[:-2])
    return _nmi_from(p_k, mean_queries(_entropy_rows(r), w), h_q, eps)


def _nmi_from(p_k, mean_entropy, h_q, eps: float = 1e-12) -> torch.Tensor:
    """NMI from the key marginal ``p(k)`` ``[..., G]``, the query-averaged row entropy and the
    query entropy ``H(q)``."""
    h_k = -torch.special.xlogy(p_k, p_k).sum(-1)
    # MI = sum_q p(q) sum_k A_qk log(A_qk / p(k)) = H(k) - sum_q p(q) H(A_q)
    mi = h_k - mean_entropy
    denom = torch.sqrt(h_q * h_k)
    return torch.where(denom > eps, mi / denom.clamp_min(eps), torch.zeros_like(mi)).clamp(0, 1)


def _offsets(r, w, a: AttnInput) -> torch.Tensor:
    pos = patch_coords(a.grid, "patches", device=r.device, dtype=r.dtype)
    # centre of mass of each query's map minus the query: the canvas centre of mass, per query
    return mean_queries_vec(r @ pos - pos, w)


def _canvas(r, w, grid) -> torch.Tensor:
    geo = aligned_geometry(grid)
    g = r.shape[-1]
    rw = r / g if w is None else r * w.to(r.dtype)[..., None]
    lead = rw.shape[:-2]
    out = torch.zeros(*lead, geo.num_cells, dtype=r.dtype, device=r.device)
    out.index_add_(-1, _canvas_index(geo.grid, str(r.device)), rw.reshape(*lead, g * g))
    return out.reshape(*lead, *geo.shape)


def _images_mean(x: torch.Tensor, ndim_attn: int) -> torch.Tensor:
    if ndim_attn != 5:
        raise ValueError(
            "average_images needs attention shaped [L, B, H, N, N] (images on axis 1), "
            f"got {ndim_attn} dims"
        )
    return x.mean(dim=1)


def _images_mean_canvas(r, w, a: AttnInput) -> torch.Tensor:
    """The aligned canvas averaged over images ``[L, H, 2gh-1, 2gw-1]``."""
    if w is not None and w.ndim == 4:  # per-image masks: average after weighting
        return _images_mean(_canvas(r, w, a.grid), a.attn.ndim)
    # the canvas is linear in the rows: average the rows over images first (cheaper)
    return _canvas(_images_mean(r, a.attn.ndim), w, a.grid)


def attention_distance(
    x: Trace | torch.Tensor,
    *,
    units: str = "pixels",
    query_mask: torch.Tensor | None = None,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
    patch_size: int | None = None,
) -> torch.Tensor:
    """Mean attention distance per head (Walmer et al. 2023; Raghu et al. 2021; Park et al. 2023).

    ``d = mean_q sum_k A_qk * ||pos_q - pos_k||`` on the renormalised patch-to-patch block, patch
    positions at patch centres.

    Args:
        x: Trace or attention ``[..., N, N]``.
        units: ``"pixels"`` (default; patch distance * patch size, as Park et al. 2023 and
            Raghu et al. 2021), ``"patches"`` or ``"fraction"`` of the image side (Walmer et al.
            2023: coordinates ``col/(gw-1)``, ``row/(gh-1)``).
        query_mask: optional ``[G]`` or ``[B, G]`` bool selecting the queries averaged over.

    Returns:
        ``[...]`` (``[L, B, H]`` for a Trace), in ``units``.
    """
    if units == "pixels" and patch_size is None and not isinstance(x, Trace):
        raise ValueError("units='pixels' on a plain tensor needs patch_size=")
    a, r, w = _block_and_weights(x, query_mask, grid, num_prefix, patch_size)
    return _distance(r, w, a, units)


def attention_entropy(
    x: Trace | torch.Tensor, *, query_mask: torch.Tensor | None = None,
    grid: tuple[int, int] | None = None, num_prefix: int | None = None,
) -> torch.Tensor:
    """Attention entropy per head in nats (Park et al. 2023; Walmer et al. 2023).

    ``-sum_k A_qk log A_qk`` of every renormalised patch row, averaged over queries. Uniform
    attention gives ``log G``, one-hot rows give 0.

    Returns:
        ``[...]`` (``[L, B, H]`` for a Trace), nats.
    """
    _, r, w = _block_and_weights(x, query_mask, grid, num_prefix)
    return mean_queries(_entropy_rows(r), w)


def attention_nmi(
    x: Trace | torch.Tensor, *, query_mask: torch.Tensor | None = None,
    grid: tuple[int, int] | None = None, num_prefix: int | None = None,
) -> torch.Tensor:
    """Normalised mutual information between queries and keys per head (Park et al. 2023).

    On the renormalised patch block with ``p(q) = 1/G`` (or uniform over ``query_mask``),
    ``p(k) = sum_q p(q) A_qk``, ``MI = sum_q sum_k p(q) A_qk log(A_qk / p(k))`` and
    ``NMI = MI / sqrt(H(q) H(k))``. Uniform attention gives 0, one-hot attention to distinct
    keys gives 1; low late-layer NMI = attention collapse. Defined as 0 when ``H(k) = 0``.

    Returns:
        ``[...]`` (``[L, B, H]`` for a Trace), in [0, 1].
    """
    _, r, w = _block_and_weights(x, query_mask, grid, num_prefix)
    return _nmi(r, w)


def aligned_attention(
    x: Trace | torch.Tensor, *, average_images: bool = False,
    query_mask: torch.Tensor | None = None, grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
) -> torch.Tensor:
    """Query-aligned average attention canvas per head (Walmer et al. 2023 "Teaching Matters").

    Each query's renormalised patch map is shifted so the query sits at the centre cell
    ``(gh-1, gw-1)`` of a ``(2gh-1) x (2gw-1)`` canvas; canvases are averaged over queries (and
    over images with ``average_images``). Cell ``(gh-1+dy, gw-1+dx)`` holds the mean attention to
    the key ``dy`` rows below and ``dx`` columns right of the query (offsets in patches). Each
    canvas sums to 1.

    Returns:
        ``[..., 2gh-1, 2gw-1]`` (``[L, B, H, ...]``; ``[L, H, ...]`` with ``average_images``).
    """
    a, r, w = _block_and_weights(x, query_mask, grid, num_prefix)
    return _images_mean_canvas(r, w, a) if average_images else _canvas(r, w, a.grid)


class HeadOffsets(NamedTuple):
    """Centre-of-mass offset of each head's aligned canvas, in patches.

    ``offset_patches[..., 0]`` is ``dy`` (positive = down), ``offset_patches[..., 1]`` is ``dx``
    (positive = right); ``magnitude_patches`` is its Euclidean norm.
    """

    offset_patches: torch.Tensor
    magnitude_patches: torch.Tensor


def head_offsets(
    x: Trace | torch.Tensor, *, average_images: bool = False,
    query_mask: torch.Tensor | None = None, grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
) -> HeadOffsets:
    """Offset vector ``(dy, dx)`` and magnitude in patches of each head (Walmer et al. 2023).

    The centre of mass of :func:`aligned_attention`'s canvas relative to its centre, computed
    directly as ``mean_q (sum_k A_qk pos_k - pos_q)`` (identical, without building the canvas).
    A head attending to the left neighbour of every query has offset ``(0, -1)``.

    Returns:
        :class:`HeadOffsets` with ``offset_patches [..., 2]`` and ``magnitude_patches [...]``
        (``[L, B, H]`` for a Trace, ``[L, H]`` with ``average_images``).
    """
    a, r, w = _block_and_weights(x, query_mask, grid, num_prefix)
    off = _offsets(r, w, a)
    if average_images:
        off = _images_mean(off, a.attn.ndim)
    return HeadOffsets(off, torch.linalg.vector_norm(off, dim=-1))


_QUERY_SETS = ("patches", "all", "prefix")


def prefix_attention(
    x: Trace | torch.Tensor,
    *,
    queries: str = "patches",
    reduce: bool = True,
    per_token: bool = False,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
) -> torch.Tensor:
    """Share of each query's attention that goes to the prefix tokens (CLS, registers).

    ``s_q = sum_{k < P} A_qk`` on the raw (not renormalised) attention rows.

    Args:
        queries: which queries: ``"patches"`` (default), ``"all"`` or ``"prefix"``.
        reduce: average over those queries (``[...]``) or keep them (``[..., Q]``).
        per_token: keep one share per prefix token (adds a trailing ``[P]`` axis) instead of
            their sum.

    Returns:
        ``[L, B, H]`` for a Trace by default; fraction in [0, 1]. Zero when ``P = 0``.
    """
    a = attn_input(x, grid, num_prefix)
    if queries not in _QUERY_SETS:
        raise ValueError(f"queries must be one of {_QUERY_SETS}, got {queries!r}")
    p = a.num_prefix
    rows = {"patches": a.attn[..., p:, :], "all": a.attn, "prefix": a.attn[..., :p, :]}[queries]
    if rows.shape[-2] == 0:
        raise ValueError("no query selected: queries='prefix' on a model without prefix tokens")
    share = rows[..., :p] if per_token else rows[..., :p].sum(-1)
    if reduce:
        share = share.mean(-2) if per_token else share.mean(-1)
    return share


def top_mass_mask(maps: torch.Tensor, mass: float = 0.6) -> torch.Tensor:
    """The smallest set of highest cells holding ``mass`` of each map's total (Walmer et al.
    2023; Caron et al. 2021 DINO).

    ``maps`` is ``[..., h, w]`` (non-negative); returns a bool mask of the same shape. A cell is
    kept when the mass of strictly larger cells is below ``mass`` (DINO's ``cumsum > 1 - mass``
    on the ascending sort).
    """
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    flat = maps.flatten(-2)
    flat = flat / flat.sum(-1, keepdim=True).clamp_min(1e-12)
    val, idx = torch.sort(flat, dim=-1, descending=True)
    before = torch.cumsum(val, dim=-1) - val
    keep_sorted = before < mass
    keep = torch.zeros_like(keep_sorted).scatter(-1, idx, keep_sorted)
    return keep.reshape(maps.shape)


def mask_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of bool masks ``pred [..., h, w]`` and ``target [..., H, W]``.

    ``pred`` is upsampled (nearest) to ``target``'s resolution when they differ (patch mask vs
    pixel mask); leading dims broadcast. Two empty masks have IoU 1.
    """
    pred = torch.as_tensor(pred).bool()
    target = torch.as_tensor(target, device=pred.device).bool()
    if target.ndim < 2:
        raise ValueError(f"target mask must be [..., H, W], got {tuple(target.shape)}")
    if pred.shape[-2:] != target.shape[-2:]:
        lead = pred.shape[:-2]
        up = F.interpolate(
            pred.reshape(-1, 1, *pred.shape[-2:]).float(), size=target.shape[-2:], mode="nearest"
        )
        pred = up.reshape(*lead, *target.shape[-2:]).bool()
    inter = (pred & target).flatten(-2).sum(-1).float()
    union = (pred | target).flatten(-2).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


class ClsAttentionMap(NamedTuple):
    """Prefix-query attention map (DINO-style saliency) with its top-mass mask.

    ``map``: attention of the query to the patches, renormalised over patches,
    ``[B, H, gh, gw]`` (``[B, gh, gw]`` with ``head_mean``). ``mask``: bool, same shape, the
    top-``mass`` mask. ``iou``: IoU of ``mask`` with the given mask (``[B, H]`` / ``[B]``), or
    ``None`` when no mask was given.
    """

    map: torch.Tensor
    mask: torch.Tensor
    iou: torch.Tensor | None


def _layer_attn(x: Trace | torch.Tensor, layer: int, grid, num_prefix) -> tuple[AttnInput, int]:
    """The input and the position in its ``attn`` of block ``layer``: a Trace's
    :meth:`~vitwidgets.core.trace.Trace.attn_index`; a plain ``[L, B, H, N, N]`` holds blocks
    ``0 .. L-1``."""
    a = attn_input(x, grid, num_prefix)
    _check_lbh(a)
    if isinstance(x, Trace):
        return a, x.attn_index(layer)
    return a, block_index(layer, a.attn.shape[0], owner="this attention tensor")


def cls_attention_map(
    x: Trace | torch.Tensor,
    layer: int = -1,
    *,
    query: int = 0,
    head_mean: bool = False,
    mass: float = 0.6,
    mask: torch.Tensor | None = None,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
) -> ClsAttentionMap:
    """CLS-to-patch attention map, its top-60%-mass mask and IoU (Walmer et al. 2023; DINO-style
    saliency, Caron et al. 2021).

    Args:
        x: Trace or attention ``[L, B, H, N, N]``.
        layer: block index (``-1`` = the model's last block; for a Trace the block must have been
            captured; a plain tensor holds blocks ``0 .. L-1``).
        query: the query token, default 0 (CLS); any token index works (e.g. a register).
        head_mean: average the per-head maps over heads.
        mass: share of the attention mass kept in the mask (Walmer et al. 2023, DINO: 0.6).
        mask: optional ground-truth bool mask ``[B, H_px, W_px]``, ``[B, gh, gw]`` or unbatched,
            for the IoU (patch masks are upsampled nearest to its resolution).

    Returns:
        :class:`ClsAttentionMap`: ``map`` and ``mask`` ``[B, H, gh, gw]`` (``[B, gh, gw]`` with
        ``head_mean``), ``iou`` ``[B, H]`` / ``[B]`` or ``None``.
    """
    a, li = _layer_attn(x, layer, grid, num_prefix)
    _check_query(query, a.attn.shape[-1])
    rows = a.attn[li][..., query, :]  # [B, H, N]
    maps = renorm_patch_keys(rows, a.num_prefix).reshape(*rows.shape[:-1], *a.grid)
    if head_mean:
        maps = maps.mean(1)
    keep = top_mass_mask(maps, mass)
    iou = None
    if mask is not None:
        target = torch.as_tensor(mask, device=maps.device)
        if not head_mean and target.ndim == 3:
            target = target[:, None]
        iou = mask_iou(keep, target)
    return ClsAttentionMap(maps, keep, iou)


def rollout_factor(head_mean: torch.Tensor, residual: float = 0.5) -> torch.Tensor:
    """One factor of attention rollout (Abnar & Zuidema 2020): ``(1 - residual) * A + residual *
    I`` with its rows renormalised, for a block's head-averaged attention ``A [..., N, N]``;
    the rollout of blocks ``0..l`` is ``M_l ... M_0``."""
    if not 0 <= residual <= 1:
        raise ValueError(f"residual must be in [0, 1], got {residual}")
    eye = torch.eye(head_mean.shape[-1], dtype=head_mean.dtype, device=head_mean.device)
    m = (1 - residual) * head_mean + residual * eye
    return m / m.sum(-1, keepdim=True)


def attention_rollout(
    x: Trace | torch.Tensor,
    *,
    residual: float = 0.5,
    query: int | None = None,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020).

    ``R = prod_l norm((1 - residual) * mean_heads(A_l) + residual * I)`` over the captured
    layers in order (``R = M_L ... M_1``), each factor's rows renormalised. The captured
    layers must be consecutive blocks.

    Returns:
        ``[B, N, N]`` joint attention (rows sum to 1), or with ``query`` that query's row over
        the patches, renormalised, as a map ``[B, gh, gw]``.
    """
    a = attn_input(x, grid, num_prefix)
    _check_lbh(a)
    if a.layers is not None and list(a.layers) != list(
        range(a.layers[0], a.layers[0] + len(a.layers))
    ):
        raise ValueError(f"rollout needs consecutive blocks, this trace holds {list(a.layers)}")
    n = a.attn.shape[-1]
    m = rollout_factor(a.attn.mean(2), residual)  # [L, B, N, N]
    joint = m[0]
    for layer in range(1, m.shape[0]):  # sequential product over depth (L small)
        joint = m[layer] @ joint
    if query is None:
        return joint
    _check_query(query, n)
    return renorm_patch_keys(joint[:, query, :], a.num_prefix).reshape(-1, *a.grid)


@dataclass
class HeadStats:
    """All per-head attention statistics of a batch (or dataset), averaged over images.

    Shapes ``[L, H]`` (``canvas [L, H, 2gh-1, 2gw-1]``, ``offset_patches [L, H, 2]``). Units are
    in the names: ``distance_patches`` and ``offset_patches`` (``(dy, dx)``, dy positive = down)
    in patches, :attr:`distance_pixels` in pixels; ``entropy`` in nats; ``nmi`` and
    ``prefix_share`` in [0, 1] (``prefix_token_share [L, H, P]`` splits it per prefix token:
    CLS, registers); ``canvas`` the query-aligned canvas (each sums to 1). ``layers``
    names the blocks of the first axis. Mergeable: :meth:`merge` (or ``+``) gives the statistics
    of both image sets.
    """

    layers: tuple[int, ...]
    grid: tuple[int, int]
    patch_size: int
    num_images: int
    distance_patches: torch.Tensor
    entropy: torch.Tensor
    nmi: torch.Tensor
    prefix_share: torch.Tensor
    offset_patches: torch.Tensor
    canvas: torch.Tensor
    prefix_token_share: torch.Tensor | None = None

    _FIELDS = ("distance_patches", "entropy", "nmi", "prefix_share", "offset_patches", "canvas",
               "prefix_token_share")

    def merge(self, other: HeadStats) -> HeadStats:
        if (self.layers, self.grid) != (other.layers, other.grid):
            raise ValueError("cannot merge HeadStats of different layers or grids")
        n = self.num_images + other.num_images
        wa, wb = self.num_images / n, other.num_images / n
        merged = {
            f: getattr(self, f) * wa + getattr(other, f).to(getattr(self, f).device) * wb
            for f in self._FIELDS
            if getattr(self, f) is not None and getattr(other, f) is not None
        }
        return HeadStats(self.layers, self.grid, self.patch_size, n, **merged)

    __add__ = merge

    @property
    def offset_magnitude_patches(self) -> torch.Tensor:
        """``[L, H]`` Euclidean norm of ``offset_patches``, in patches."""
        return torch.linalg.vector_norm(self.offset_patches, dim=-1)

    @property
    def distance_pixels(self) -> torch.Tensor:
        """``[L, H]`` mean attention distance in pixels: ``distance_patches * patch_size`` (the
        one place vitwidgets converts patch distances to pixels)."""
        return self.distance_patches * self.patch_size


class HeadStatsReducer:
    """:class:`HeadStats` reduced chunk by chunk over the patch queries, never holding more
    than one chunk of attention rows: the lazy session's path (attention recomputed from q/k
    in query chunks) and, with one chunk, :func:`head_stats` itself.

    Args:
        lead: leading shape of the rows, e.g. ``(H,)`` for one image's layer or
            ``(L, B, H)``.
        grid, num_prefix: the token geometry.
        weights: normalised per-query weights ``[..., G]`` (from ``query_mask``), or ``None``
            for the plain mean over the ``G`` patch queries.

    Feed :meth:`add` the rows of patch queries ``q0 .. q0+Q-1`` (``[*lead, Q, N]``, raw
    post-softmax attention, prefix keys first) in any order, each query exactly once; then
    :meth:`result` gives every statistic with shape ``lead`` (canvas ``[*lead, 2gh-1, 2gw-1]``,
    offsets ``[*lead, 2]``, per-token prefix share ``[*lead, P]``).
    """

    def __init__(self, lead, grid, num_prefix: int, weights=None,
                 *, dtype=torch.float32, device=None):
        self.geo = aligned_geometry(grid)
        self.grid, self.num_prefix = self.geo.grid, int(num_prefix)
        self.weights = weights
        self.num_patches = g = self.grid[0] * self.grid[1]
        zeros = functools.partial(torch.zeros, dtype=dtype, device=device)
        lead = tuple(lead)
        self.sums = {
            "distance_patches": zeros(lead), "entropy": zeros(lead), "p_k": zeros((*lead, g)),
            "prefix_token_share": zeros((*lead, self.num_prefix)),
            "offset_patches": zeros((*lead, 2)), "canvas": zeros((*lead, self.geo.num_cells)),
        }
        self.seen = 0

    def _query_weights(self, q0: int, q: int, like: torch.Tensor) -> torch.Tensor:
        if self.weights is None:
            return torch.full((q,), 1.0 / self.num_patches, dtype=like.dtype, device=like.device)
        return self.weights[..., q0 : q0 + q].to(like.dtype)

    def add(self, rows: torch.Tensor, q0: int) -> None:
        """Accumulate the rows ``[*lead, Q, N]`` of patch queries ``q0 .. q0+Q-1``."""
        rows = as_float(rows)
        q, g = rows.shape[-2], self.num_patches
        r = renorm_patch_keys(rows, self.num_prefix)  # [*lead, Q, G]
        wq = self._query_weights(q0, q, r)
        sums, span = self.sums, slice(q0, q0 + q)
        dist = _distance_matrix(self.grid, "patches", 1, str(r.device)).to(r.dtype)[span]
        sums["distance_patches"] += ((r * dist).sum(-1) * wq).sum(-1)
        sums["entropy"] += (_entropy_rows(r) * wq).sum(-1)
        rw = r * wq[..., None]
        sums["p_k"] += rw.sum(-2)
        sums["prefix_token_share"] += (rows[..., : self.num_prefix] * wq[..., None]).sum(-2)
        pos = patch_coords(self.grid, "patches", device=r.device, dtype=r.dtype)
        sums["offset_patches"] += ((r @ pos - pos[span]) * wq[..., None]).sum(-2)
        cells = _canvas_index(self.grid, str(r.device)).view(g, g)[span].reshape(-1)
        lead = rw.shape[:-2]
        sums["canvas"].index_add_(-1, cells, rw.reshape(*lead, q * g))
        self.seen += q

    def result(self) -> dict[str, torch.Tensor]:
        """Every statistic (see :class:`HeadStats`), shape ``lead``; needs every query added."""
        g = self.num_patches
        if self.seen != g:
            raise ValueError(f"the reducer saw {self.seen} of the {g} patch queries")
        s = self.sums
        if self.weights is None:
            h_q = torch.full_like(s["entropy"], math.log(g))
        else:
            w = self.weights.to(s["entropy"].dtype)
            h_q = (-torch.special.xlogy(w, w).sum(-1)).expand(s["entropy"].shape)
        return {
            "distance_patches": s["distance_patches"], "entropy": s["entropy"],
            "nmi": _nmi_from(s["p_k"], s["entropy"], h_q),
            "prefix_share": s["prefix_token_share"].sum(-1),
            "prefix_token_share": s["prefix_token_share"],
            "offset_patches": s["offset_patches"],
            "canvas": s["canvas"].reshape(*s["canvas"].shape[:-1], *self.geo.shape),
        }


def head_stats(
    x: Trace | torch.Tensor,
    *,
    query_mask: torch.Tensor | None = None,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
    patch_size: int | None = None,
    layers: tuple[int, ...] | None = None,
    query_chunk: int | None = None,
) -> HeadStats:
    """Every per-head statistic of a batch in one pass over the renormalised block (shared
    intermediates), averaged over images: the input of :func:`propose_head_tags` and of the
    dataset-level streaming. Per-image NMI/entropy/distance are averaged over images;
    ``query_mask`` (``[G]`` or ``[B, G]``) restricts the queries as in the single metrics.

    Args:
        x: Trace or attention ``[L, B, H, N, N]`` (with ``grid``, ``num_prefix`` and, for
            :attr:`HeadStats.distance_pixels`, ``patch_size``).
        layers: block indices naming the ``L`` entries (default: a Trace's captured blocks,
            else ``0 .. L-1``).
        query_chunk: patch queries reduced at a time (bounds the scratch memory; default all).

    Returns:
        :class:`HeadStats` with ``[L, H]`` fields.
    """
    a = attn_input(x, grid, num_prefix, patch_size)
    _check_lbh(a)
    if layers is None:
        layers = a.layers if a.layers is not None else tuple(range(a.attn.shape[0]))
    g, p = a.num_patches, a.num_prefix
    w = query_weights(query_mask, a.attn.shape[:-2], g, a.attn.device)
    if w is not None:
        w = w.expand(*a.attn.shape[:-2], g)
    reducer = HeadStatsReducer(a.attn.shape[:-2], a.grid, p, w,
                               dtype=a.attn.dtype, device=a.attn.device)
    step = query_chunk or g
    for q0 in range(0, g, step):
        reducer.add(a.attn[..., p + q0 : p + min(q0 + step, g), :], q0)
    fields = {name: value.mean(1) for name, value in reducer.result().items()}
    return HeadStats(layers=tuple(layers), grid=a.grid, patch_size=a.patch_size,
                     num_images=a.attn.shape[1], **fields)


class HeadStatsAccumulator:
    """Streaming :class:`HeadStats` over a dataset (an accumulator of
    :func:`vitwidgets.core.streaming.stream_metrics`): ``update(trace, batch)`` merges the
    statistics of every batch, ``result()`` gives them averaged over every image.
    ``merge(other)`` adds another accumulator's batches with the same arithmetic as
    ``update`` (merging one-batch accumulators in batch order is bitwise ``update``)."""

    needs = {"attention": True}

    def __init__(self) -> None:
        self.stats: HeadStats | None = None

    def _add(self, s: HeadStats | None) -> None:
        if s is not None:
            self.stats = s if self.stats is None else self.stats + s

    def update(self, trace: Trace, batch=None) -> None:
        self._add(head_stats(trace))

    def merge(self, other: HeadStatsAccumulator) -> HeadStatsAccumulator:
        """Add ``other``'s images to this accumulator (in place; returns it)."""
        self._add(other.stats)
        return self

    def result(self) -> HeadStats:
        if self.stats is None:
            raise ValueError("no batch streamed")
        return self.stats
