"""Shared helpers of the metrics: input unpacking, the renormalised patch block, patch coordinates.

Every metric that needs one of these goes through the single helper here (no duplicated logic).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

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
    sum 1 over the ``G`` patch keys -> ``[..., Q, G]`` (analyses.md items 1-4).

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
    (patch centres ``(i + 0.5) * patch_size``) or ``"fraction"`` of the image side as in [TM]:
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


def token_index(num_blocks: int, layer: int | str) -> int:
    """Index into ``tokens`` ``[L+1, ...]`` of block ``layer``'s output.

    ``layer`` is a block index in ``[-L, L-1]`` (``-1`` = last block) or ``"embedding"`` for
    the input of the first block.
    """
    if layer == "embedding":
        return 0
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TypeError(f"layer must be a block index (int) or 'embedding', got {layer!r}")
    if not -num_blocks <= layer < num_blocks:
        raise ValueError(f"layer {layer} out of range for {num_blocks} blocks")
    return layer + 1 if layer >= 0 else num_blocks + 1 + layer


def trace_tokens(tr: Trace) -> torch.Tensor:
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
