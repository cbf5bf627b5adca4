"""Proposed head tags from the aligned attention canvas (analyses.md item 4, [TM]).

TM identified offset-local heads visually; vitwidgets proposes one tag per head with the
evidence behind it so that a person can confirm or edit it. The result is plain Python (lists,
dicts, floats, strings): ready for ``json.dumps`` and widget traits.
"""

from __future__ import annotations

import math

import torch

from vitwidgets.core.trace import Trace

from .attention import HeadStats, head_stats

__all__ = ["propose_head_tags", "TAGS", "DIRECTIONS", "offset_direction"]

TAGS = ("prefix-focused", "offset-local", "local", "axial", "global")
# counter-clockwise from +x in image coordinates (dy positive = down)
DIRECTIONS = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")


def offset_direction(dy: float, dx: float) -> str:
    """Name of the 45-degree sector of an offset ``(dy, dx)`` in patches (dy > 0 = down)."""
    angle = math.degrees(math.atan2(-dy, dx))
    return DIRECTIONS[round(angle / 45.0) % 8]


def _evidence(stats: HeadStats, local_radius: int) -> dict[str, torch.Tensor]:
    """Per-head evidence tensors ``[L, H]`` computed from the canvas (vectorised)."""
    gh, gw = stats.grid
    canvas = stats.canvas
    canvas = canvas / canvas.sum((-2, -1), keepdim=True).clamp_min(1e-12)
    cy, cx = gh - 1, gw - 1
    r = int(local_radius)
    local = canvas[..., max(cy - r, 0) : cy + r + 1, max(cx - r, 0) : cx + r + 1].sum((-2, -1))
    row = canvas[..., cy, :].sum(-1)
    col = canvas[..., :, cx].sum(-1)
    flat = canvas.flatten(-2)
    peak_mass, peak = flat.max(-1)
    cw = 2 * gw - 1
    return {
        "offset_dy": stats.offset[..., 0],
        "offset_dx": stats.offset[..., 1],
        "offset_magnitude": stats.offset_magnitude,
        "centre_mass": canvas[..., cy, cx],
        "local_mass": local,
        "peak_dy": (peak // cw - cy).to(canvas.dtype),
        "peak_dx": (peak % cw - cx).to(canvas.dtype),
        "peak_mass": peak_mass,
        "row_mass": row,
        "column_mass": col,
        "prefix_share": stats.prefix_share,
        "distance_patches": stats.distance,
        "entropy": stats.entropy,
        "nmi": stats.nmi,
    }


def propose_head_tags(
    x: Trace | torch.Tensor | HeadStats,
    *,
    prefix_threshold: float = 0.5,
    local_radius: int = 1,
    local_threshold: float = 0.5,
    offset_threshold: float = 0.5,
    axial_threshold: float = 0.5,
    **attn_kwargs,
) -> list[dict]:
    """Propose one tag per head: prefix-focused / offset-local / local / axial / global.

    Rules, first match wins (thresholds are the parameters):

    1. ``prefix-focused``: mean share of the patch queries' attention on prefix tokens
       ``>= prefix_threshold``.
    2. Local mass = canvas mass within Chebyshev distance ``local_radius`` (patches) of the
       query, on the query-aligned canvas (averaged over queries and images). If it is
       ``>= local_threshold``: ``offset-local`` when the canvas centre-of-mass offset has norm
       ``>= offset_threshold`` patches (``direction`` = its 45-degree sector: left, right, up,
       down, up-left, ...), else ``local``.
    3. ``axial``: mass on the query's row (or column) of the canvas ``>= axial_threshold``;
       ``direction`` = ``"horizontal"`` or ``"vertical"``.
    4. ``global`` otherwise.

    Args:
        x: a Trace, an attention tensor ``[L, B, H, N, N]`` (with ``grid=``, ``num_prefix=``) or
            :class:`HeadStats` (e.g. accumulated over a dataset by the streaming layer).

    Returns:
        A list (layer-major) of JSON-ready dicts ``{"layer": block, "head": h, "tag": str,
        "direction": str | None, "rule": str, "evidence": {name: float}}``. Evidence: offset
        ``(offset_dy, offset_dx)`` and ``offset_magnitude`` in patches, ``peak_dy/peak_dx`` the
        canvas argmax cell, ``peak_mass``, ``centre_mass``, ``local_mass``, ``row_mass``,
        ``column_mass``, ``prefix_share``, ``distance_patches``, ``entropy`` (nats), ``nmi``.
    """
    if isinstance(x, HeadStats):
        stats = x
        if attn_kwargs:
            raise TypeError(f"unexpected arguments with HeadStats: {sorted(attn_kwargs)}")
    else:
        stats = head_stats(x, **attn_kwargs)
    if local_radius < 0:
        raise ValueError(f"local_radius must be >= 0, got {local_radius}")
    ev = {k: v.detach().double().cpu().tolist() for k, v in _evidence(stats, local_radius).items()}
    out: list[dict] = []
    num_layers, num_heads = stats.distance.shape
    for li in range(num_layers):
        for h in range(num_heads):
            e = {k: float(v[li][h]) for k, v in ev.items()}
            direction = None
            if e["prefix_share"] >= prefix_threshold:
                tag = "prefix-focused"
                rule = f"prefix_share {e['prefix_share']:.3g} >= {prefix_threshold}"
            elif e["local_mass"] >= local_threshold:
                if e["offset_magnitude"] >= offset_threshold:
                    tag = "offset-local"
                    direction = offset_direction(e["offset_dy"], e["offset_dx"])
                    rule = (
                        f"local_mass {e['local_mass']:.3g} >= {local_threshold} and "
                        f"offset_magnitude {e['offset_magnitude']:.3g} >= {offset_threshold}"
                    )
                else:
                    tag = "local"
                    rule = (
                        f"local_mass {e['local_mass']:.3g} >= {local_threshold} and "
                        f"offset_magnitude {e['offset_magnitude']:.3g} < {offset_threshold}"
                    )
            elif max(e["row_mass"], e["column_mass"]) >= axial_threshold:
                tag = "axial"
                horizontal = e["row_mass"] >= e["column_mass"]
                direction = "horizontal" if horizontal else "vertical"
                m = e["row_mass"] if horizontal else e["column_mass"]
                name = "row_mass" if horizontal else "column_mass"
                rule = f"{name} {m:.3g} >= {axial_threshold}"
            else:
                tag = "global"
                rule = "no local, axial or prefix rule matched"
            out.append(
                {
                    "layer": int(stats.layers[li]),
                    "head": h,
                    "tag": tag,
                    "direction": direction,
                    "rule": rule,
                    "evidence": e,
                }
            )
    return out
