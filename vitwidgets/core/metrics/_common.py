"""Shared helpers of the metrics: input unpacking, the renormalised patch block, patch
coordinates, the geometry of the query-aligned canvas, and patch tokens out of a Trace or a plain
tensor.

Every metric that needs one of these goes through the single helper here (no duplicated logic).
Layers, heads and images are resolved by :mod:`vitwidgets.core.indexing` and
:class:`~vitwidgets.core.trace.Trace` (``attn_index``, ``patch_tokens``), never here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vitwidgets.core.indexing import LayerArg
from vitwidgets.core.trace import Trace

UNITS = ("pixels", "patches", "fraction")


@dataclass(frozen=True)
class AttnInput:
    """Attention plus the geometry needed to interpret it.

    ``attn`` is ``[..., N, N]`` (a Trace gives ``[L, B, H, N, N]``), float32 or float64.
    """

    attn: torch.Tensor
    grid: tuple[int, int]
    num_prefix: int
    patch_size: int
    layers: tuple[int, ...] | None

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]


def as_float(t: torch.Tensor) -> torch.Tensor:
    """Half precision -> float32 (stable logs and sums); float32/float64 unchanged."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(t).__name__}")
    if not torch.is_floating_point(t):
        return t.float()
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def check_grid(grid) -> tuple[int, int]:
    try:
        gh, gw = (int(g) for g in grid)
    except (TypeError, ValueError):
        raise TypeError(f"grid must be a pair (gh, gw) of ints, got {grid!r}") from None
    if gh < 1 or gw < 1:
        raise ValueError(f"grid must be positive, got {(gh, gw)}")
    return gh, gw


def attn_input(
    x: Trace | torch.Tensor,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
    patch_size: int | None = None,
) -> AttnInput:
    """Unpack a Trace (``tr.attn``) or a plain ``[..., N, N]`` attention tensor.

    For a plain tensor ``grid`` and ``num_prefix`` are required; ``patch_size`` only for pixel
    units (defaults to 1 otherwise).
    """
    if isinstance(x, Trace):
        if x.attn is None:
            raise ValueError("this trace holds no attention: trace with attention=True")
        attn = x.attn
        grid = x.grid if grid is None else grid
        num_prefix = x.num_prefix if num_prefix is None else num_prefix
        patch_size = x.patch_size if patch_size is None else patch_size
        layers = tuple(x.layers)
    elif isinstance(x, torch.Tensor):
        if grid is None or num_prefix is None:
            raise ValueError(
                "a plain attention tensor needs grid=(gh, gw) and num_prefix=P (or pass a Trace)"
            )
        attn = x
        layers = None
    else:
        raise TypeError(f"expected a Trace or a [..., N, N] torch.Tensor, got {type(x).__name__}")
    gh, gw = check_grid(grid)
    num_prefix = int(num_prefix)
    if num_prefix < 0:
        raise ValueError(f"num_prefix must be >= 0, got {num_prefix}")
    n = num_prefix + gh * gw
    if attn.ndim < 2 or attn.shape[-1] != n or attn.shape[-2] != n:
        raise ValueError(
            f"attention must be [..., N, N] with N = num_prefix + gh*gw = {num_prefix} + "
            f"{gh}*{gw} = {n}; got shape {tuple(attn.shape)}"
        )
    ps = 1 if patch_size is None else int(patch_size)
    return AttnInput(as_float(attn), (gh, gw), num_prefix, ps, layers)


def renorm_patch_keys(rows: torch.Tensor, num_prefix: int, eps: float = 1e-12) -> torch.Tensor:
    """Drop the prefix key columns of attention rows ``[..., Q, N]`` and renormalise each row to
    sum 1 over the ``G`` patch keys -> ``[..., Q, G]`` (the convention of Walmer et al. 2023
    "Teaching Matters" for distance, entropy, NMI and the aligned canvas).

    A row with (numerically) no mass on patches stays all-zero instead of dividing by zero.
    """
    block = rows[..., num_prefix:]
    return block / block.sum(-1, keepdim=True).clamp_min(eps)


def patch_block(a: AttnInput) -> torch.Tensor:
    """The renormalised patch-to-patch block ``A[..., P:, P:]`` -> ``[..., G, G]``."""
    return renorm_patch_keys(a.attn[..., a.num_prefix :, :], a.num_prefix)


def patch_coords(
    grid: tuple[int, int],
    units: str = "patches",
    patch_size: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Centre coordinates ``(row, col)`` of the ``G`` patches in row-major order -> ``[G, 2]``.

    Units: ``"patches"`` (row, col indices: distances between centres in patches), ``"pixels"``
    (patch centres ``(i + 0.5) * patch_size``) or ``"fraction"`` of the image side as in Walmer
    et al. 2023:
    ``row / (gh - 1)``, ``col / (gw - 1)`` in [0, 1] (an axis with a single patch maps to 0).
    """
    if units not in UNITS:
        raise ValueError(f"units must be one of {UNITS}, got {units!r}")
    gh, gw = check_grid(grid)
    r = torch.arange(gh, device=device, dtype=dtype)
    c = torch.arange(gw, device=device, dtype=dtype)
    if units == "pixels":
        r, c = (r + 0.5) * patch_size, (c + 0.5) * patch_size
    elif units == "fraction":
        r, c = r / max(gh - 1, 1), c / max(gw - 1, 1)
    rr, cc = torch.meshgrid(r, c, indexing="ij")
    return torch.stack([rr.reshape(-1), cc.reshape(-1)], dim=-1)


def query_weights(
    query_mask: torch.Tensor | None, lead_shape: torch.Size, num_patches: int, device
) -> torch.Tensor | None:
    """Normalised per-query weights broadcastable to ``[..., G]`` (``None`` = plain mean).

    ``query_mask`` is a bool/float ``[G]`` (same queries for every image) or ``[B, G]`` for
    ``[L, B, H, ...]`` inputs (per-image masks, e.g. foreground queries only).
    """
    if query_mask is None:
        return None
    w = torch.as_tensor(query_mask, device=device)
    if w.shape[-1] != num_patches or w.ndim not in (1, 2):
        raise ValueError(
            f"query_mask must be [G] or [B, G] with G = {num_patches}, got {tuple(w.shape)}"
        )
    w = w.to(torch.float64)
    if w.ndim == 2:
        if len(lead_shape) != 3 or lead_shape[1] != w.shape[0]:
            raise ValueError(
                "a [B, G] query_mask needs attention shaped [L, B, H, N, N] with matching B; "
                f"got leading dims {tuple(lead_shape)} and mask {tuple(w.shape)}"
            )
        w = w[None, :, None, :]
    total = w.sum(-1, keepdim=True)
    if bool((total <= 0).any()):
        raise ValueError("query_mask selects no query (for at least one image)")
    return w / total


def mean_queries(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean over the query axis ``[..., G] -> [...]`` (weighted by ``weights`` when given)."""
    if weights is None:
        return x.mean(-1)
    return (x * weights.to(x.dtype)).sum(-1)


def mean_queries_vec(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean over the query axis of per-query vectors ``[..., G, K] -> [..., K]``."""
    if weights is None:
        return x.mean(-2)
    return (x * weights.to(x.dtype)[..., None]).sum(-2)


def trace_tokens(tr: Trace) -> torch.Tensor:
    """The whole residual stream ``tokens [L+1, B, N, D]`` of a Trace, as float."""
    if not isinstance(tr, Trace):
        raise TypeError(f"expected a Trace, got {type(tr).__name__}")
    if tr.tokens is None:
        raise ValueError("this trace holds no tokens: trace with tokens=True")
    return as_float(tr.tokens)


def feature_stack(f, name: str) -> torch.Tensor:
    """Features ``[n, D]`` or per-layer ``[L, n, D]`` -> float ``[L, n, D]`` (``L = 1`` for 2-D)."""
    f = as_float(torch.as_tensor(f))
    if f.ndim == 2:
        f = f[None]
    if f.ndim != 3:
        raise ValueError(f"{name} must be [n, D] or [L, n, D], got {tuple(f.shape)}")
    return f


def take(x: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
    """Entries ``indices`` of the first axis of ``x``: a view when they are consecutive and
    ascending (the default ``layers=None``), else a copy."""
    indices = tuple(indices)
    if indices and indices == tuple(range(indices[0], indices[0] + len(indices))):
        return x[indices[0] : indices[0] + len(indices)]
    return x[list(indices)]


def stream_patches(x: Trace | torch.Tensor, num_prefix: int | None) -> torch.Tensor:
    """Patch tokens ``[L+1, B, G, D]`` of the residual stream: a Trace's
    :meth:`~vitwidgets.core.trace.Trace.patch_tokens`, or a plain ``tokens [L+1, B, N, D]``
    with its first ``num_prefix`` tokens dropped (float either way)."""
    if isinstance(x, Trace):
        return as_float(x.patch_tokens())
    if num_prefix is None:
        raise ValueError("a plain tokens tensor needs num_prefix=")
    return check_tokens(x)[:, :, int(num_prefix) :]


def check_tokens(t) -> torch.Tensor:
    """``t`` as float after checking it is a residual stream ``[L+1, B, N, D]``."""
    t = as_float(torch.as_tensor(t))
    if t.ndim != 4:
        raise ValueError(f"tokens must be [L+1, B, N, D], got {tuple(t.shape)}")
    return t


def check_patch_tokens(
    t, grid: tuple[int, int], *, ndims: tuple[int, ...] = (3,), shape: str = "[B, G, D]",
    name: str = "patch tokens",
) -> torch.Tensor:
    """``t`` as a float tensor after checking it is ``shape`` (``ndims`` dims) with
    ``G = gh * gw`` on its second-to-last axis."""
    t = as_float(torch.as_tensor(t))
    gh, gw = grid
    if t.ndim not in ndims or t.shape[-2] != gh * gw:
        raise ValueError(f"{name} must be {shape} with G = {gh}*{gw}, got {tuple(t.shape)}")
    return t


def patch_tokens_at(
    x: Trace | torch.Tensor, layer: LayerArg | None, grid, *, ndims: tuple[int, ...] = (3, 4),
    shape: str = "[B, G, D]", name: str = "patch tokens",
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Patch tokens after block ``layer`` and their grid.

    A Trace gives :meth:`~vitwidgets.core.trace.Trace.patch_tokens` ``(layer)``: ``[B, G, D]``
    (``[L+1, B, G, D]`` for ``layer=None``; ``layer`` as in :mod:`vitwidgets.core.indexing`).
    A plain tensor is taken as it is (``shape``, checked) and needs ``grid=(gh, gw)``.
    """
    if isinstance(x, Trace):
        t, grid = x.patch_tokens(layer), x.grid
    elif grid is None:
        raise ValueError(f"plain {name} {shape} need grid=(gh, gw)")
    else:
        t = x
    grid = check_grid(grid)
    return check_patch_tokens(t, grid, ndims=ndims, shape=shape, name=name), grid


@dataclass(frozen=True)
class AlignedGeometry:
    """The query-aligned canvas of a ``(gh, gw)`` patch grid (Walmer et al. 2023).

    ``shape = (2gh-1, 2gw-1)``; the query sits at ``centre = (gh-1, gw-1)``; cell
    ``(cy + dy, cx + dx)`` holds the attention to the key ``dy`` rows below and ``dx`` columns
    right of the query (offsets in patches). Flat cells index the row-major canvas.
    """

    grid: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        gh, gw = self.grid
        return 2 * gh - 1, 2 * gw - 1

    @property
    def centre(self) -> tuple[int, int]:
        gh, gw = self.grid
        return gh - 1, gw - 1

    @property
    def num_cells(self) -> int:
        h, w = self.shape
        return h * w

    def cell(self, dy, dx):
        """Flat canvas cell of the offset ``(dy, dx)`` (ints or integer tensors)."""
        cy, cx = self.centre
        return (dy + cy) * self.shape[1] + (dx + cx)

    def offset(self, cell):
        """Offset ``(dy, dx)`` in patches of a flat canvas cell (int or integer tensor)."""
        cy, cx = self.centre
        w = self.shape[1]
        return cell // w - cy, cell % w - cx


def aligned_geometry(grid) -> AlignedGeometry:
    """:class:`AlignedGeometry` of a ``(gh, gw)`` grid."""
    return AlignedGeometry(check_grid(grid))
