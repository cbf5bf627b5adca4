"""Proposed head tags from the query-aligned attention canvas (Walmer et al. 2023 "Teaching
Matters").

Walmer et al. identified offset-local heads visually; vitwidgets proposes one tag per head with
the evidence behind it so that a person can confirm or edit it. The tag words come from
:mod:`vitwidgets.core.vocab`. The result is plain Python (lists, dicts, floats, strings): ready
for ``json.dumps`` and widget traits.
"""

from __future__ import annotations

import math

import torch

from vitwidgets.core.trace import Trace
from vitwidgets.core.vocab import AXES, DIRECTIONS, TAGS

from ._common import aligned_geometry
from .attention import HeadStats, head_stats

__all__ = [
    "propose_head_tags", "TAGS", "DIRECTIONS", "offset_direction", "describe_evidence",
    "prefix_label",
]

_PREFIX, _OFFSET_LOCAL, _LOCAL, _AXIAL, _GLOBAL = TAGS
_HORIZONTAL, _VERTICAL = AXES


def offset_direction(dy: float, dx: float) -> str:
    """Name of the 45-degree sector (one of :data:`vitwidgets.core.vocab.DIRECTIONS`) of an
    offset ``(dy, dx)`` in patches (dy > 0 = down)."""
    angle = math.degrees(math.atan2(-dy, dx))
    return DIRECTIONS[round(angle / 45.0) % 8]


def _evidence(stats: HeadStats, local_radius: int) -> dict[str, torch.Tensor]:
    """Per-head evidence tensors ``[L, H]`` computed from the canvas (vectorised)."""
    geo = aligned_geometry(stats.grid)
    canvas = stats.canvas
    canvas = canvas / canvas.sum((-2, -1), keepdim=True).clamp_min(1e-12)
    cy, cx = geo.centre
    r = int(local_radius)
    local = canvas[..., max(cy - r, 0) : cy + r + 1, max(cx - r, 0) : cx + r + 1].sum((-2, -1))
    peak_mass, peak = canvas.flatten(-2).max(-1)
    peak_dy, peak_dx = geo.offset(peak)
    return {
        "offset_dy": stats.offset_patches[..., 0],
        "offset_dx": stats.offset_patches[..., 1],
        "offset_magnitude": stats.offset_magnitude_patches,
        "centre_mass": canvas[..., cy, cx],
        "local_mass": local,
        "peak_dy": peak_dy.to(canvas.dtype),
        "peak_dx": peak_dx.to(canvas.dtype),
        "peak_mass": peak_mass,
        "row_mass": canvas[..., cy, :].sum(-1),
        "column_mass": canvas[..., :, cx].sum(-1),
        "prefix_share": stats.prefix_share,
        "distance_patches": stats.distance_patches,
        "distance_pixels": stats.distance_pixels,
        "entropy": stats.entropy,
        "nmi": stats.nmi,
    }


# -- evidence in words ------------------------------------------------------------------------
#: offsets below this (patches) read as "centred on the query"
_CENTRED = 0.05


def prefix_label(prefix_names: tuple[str, ...] | list[str]) -> str:
    """What the prefix tokens are called in evidence text: ``"CLS"``, ``"CLS/registers"``
    (CLS and register tokens), ``"prefix tokens"`` (none, or names other than cls/reg*)."""
    names = [str(n).lower() for n in prefix_names]
    if names == ["cls"]:
        return "CLS"
    if names and names[0] == "cls" and all(n.startswith(("reg", "prefix")) for n in names[1:]):
        return "CLS/registers"
    return "prefix tokens"


def _percent(share: float) -> str:
    return "<1%" if 0 < share < 0.005 else f"{share * 100:.0f}%"


def _offset_words(dy: float, dx: float, *, every: bool = False) -> str:
    """``"0.9 patches down, 0.6 left"`` for (dy, dx) = (+0.9, -0.6) patches (dy > 0 = down;
    the unit on every part when ``every``); parts under 0.05 are left out; ``""`` when both
    are."""
    parts = []
    if abs(dy) >= _CENTRED:
        parts.append((abs(dy), "down" if dy > 0 else "up"))
    if abs(dx) >= _CENTRED:
        parts.append((abs(dx), "right" if dx > 0 else "left"))
    return ", ".join(
        f"{v:.1f}{' patches' if every or i == 0 else ''} {word}"
        for i, (v, word) in enumerate(parts)
    )


def describe_evidence(proposal: dict, prefix: str = "CLS") -> tuple[str, str]:
    """The evidence of one :func:`propose_head_tags` entry in plain words: ``(short, full)``.

    ``short`` fits a table column, e.g. ``"5% within 1 patch · centre 0.9 patches down, 0.6
    left · 16% on CLS · mean distance 105 px"``; ``full`` says the same in sentences with the names
    of the measures (local mass, offset, prefix share, mean attention distance: Walmer et al.
    2023; Raghu et al. 2021), one per line. ``prefix`` names the prefix tokens
    (:func:`prefix_label`).
    """
    e = proposal["evidence"]
    r = int(e.get("local_radius", 1))
    within = f"within {r} patch{'' if r == 1 else 'es'}" if r else "on the query patch"
    dy, dx = e["offset_dy"], e["offset_dx"]
    where = _offset_words(dy, dx)
    short = " · ".join([
        f"{_percent(e['local_mass'])} {within}",
        f"centre {where}" if where else "centred on the query",
        f"{_percent(e['prefix_share'])} on {prefix}",
        f"mean distance {e['distance_pixels']:.0f} px",
    ])
    centre = (f"lies {_offset_words(dy, dx, every=True)} of the query" if where
              else "is on the query")
    full = "\n".join([
        f"local mass: {_percent(e['local_mass'])} of the attention falls {within} of the "
        f"query (query-aligned map, averaged over queries)",
        f"offset: the centre of that map {centre} (dy {dy:+.2f}, dx {dx:+.2f} patches)",
        f"prefix share: {_percent(e['prefix_share'])} of the patches' attention goes to {prefix}",
        f"mean attention distance: {e['distance_pixels']:.0f} px "
        f"({e['distance_patches']:.1f} patches)",
    ])
    return short, full


def _local_rule(e: dict[str, float], local_threshold: float, offset_threshold: float):
    """``(tag, direction, rule)`` of a head whose local mass passed ``local_threshold``."""
    passed = f"local_mass {e['local_mass']:.3g} >= {local_threshold} and "
    magnitude = f"offset_magnitude {e['offset_magnitude']:.3g}"
    if e["offset_magnitude"] >= offset_threshold:
        direction = offset_direction(e["offset_dy"], e["offset_dx"])
        return _OFFSET_LOCAL, direction, f"{passed}{magnitude} >= {offset_threshold}"
    return _LOCAL, None, f"{passed}{magnitude} < {offset_threshold}"


def _axial_rule(e: dict[str, float], axial_threshold: float):
    """``(tag, direction, rule)`` of a head whose row or column mass passed the threshold."""
    horizontal = e["row_mass"] >= e["column_mass"]
    name = "row_mass" if horizontal else "column_mass"
    direction = _HORIZONTAL if horizontal else _VERTICAL
    return _AXIAL, direction, f"{name} {e[name]:.3g} >= {axial_threshold}"


def _classify(e: dict[str, float], t: dict[str, float]) -> tuple[str, str | None, str]:
    """``(tag, direction, rule)`` of one head's evidence ``e`` under the thresholds ``t``: the
    rules of :func:`propose_head_tags`, first match wins."""
    if e["prefix_share"] >= t["prefix"]:
        return _PREFIX, None, f"prefix_share {e['prefix_share']:.3g} >= {t['prefix']}"
    if e["local_mass"] >= t["local"]:
        return _local_rule(e, t["local"], t["offset"])
    if max(e["row_mass"], e["column_mass"]) >= t["axial"]:
        return _axial_rule(e, t["axial"])
    return _GLOBAL, None, "no local, axial or prefix rule matched"


def _stats_of(x: Trace | torch.Tensor | HeadStats, attn_kwargs: dict) -> HeadStats:
    if isinstance(x, HeadStats):
        if attn_kwargs:
            raise TypeError(f"unexpected arguments with HeadStats: {sorted(attn_kwargs)}")
        return x
    return head_stats(x, **attn_kwargs)


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
        canvas argmax cell (offset from the query, patches), ``peak_mass``, ``centre_mass``,
        ``local_mass`` (within ``local_radius``, also recorded), ``row_mass``, ``column_mass``,
        ``prefix_share``, mean attention
        distance ``distance_patches`` and ``distance_pixels``, ``entropy`` (nats), ``nmi``.
    """
    stats = _stats_of(x, attn_kwargs)
    if local_radius < 0:
        raise ValueError(f"local_radius must be >= 0, got {local_radius}")
    thresholds = {
        "prefix": prefix_threshold, "local": local_threshold, "offset": offset_threshold,
        "axial": axial_threshold,
    }  # fmt: skip
    ev = {k: v.detach().double().cpu().tolist() for k, v in _evidence(stats, local_radius).items()}
    radius = float(local_radius)
    out: list[dict] = []
    num_layers, num_heads = stats.distance_patches.shape
    for li in range(num_layers):
        for h in range(num_heads):
            e = {k: float(v[li][h]) for k, v in ev.items()}
            e["local_radius"] = radius
            tag, direction, rule = _classify(e, thresholds)
            out.append({
                "layer": int(stats.layers[li]), "head": h, "tag": tag, "direction": direction,
                "rule": rule, "evidence": e,
            })  # fmt: skip
    return out
