"""The words vitwidgets uses for heads and views, defined once.

Head tags and offset directions (read by the tag proposals, the annotation files and the
plots), and the attention-view modes and colour maps of the explorer. Python is their only
home: the widgets hand them to the browser as traits, so the frontend never lists them again.

Tags follow the head types of Walmer et al., "Teaching Matters", CVPR 2023 (local and
offset-local heads, found in every supervision type), plus axial, global and prefix-focused
heads (attention sinks on CLS/registers, Darcet et al., "Vision Transformers Need Registers",
ICLR 2024).
"""

from __future__ import annotations

__all__ = [
    "TAGS",
    "DIRECTIONS",
    "AXES",
    "ARROWS",
    "PRESET_TAGS",
    "TAG_COLOURS",
    "MODES",
    "MODE_INFO",
    "COLORMAPS",
    "SCALE_INFO",
    "SCALES",
    "tag_with_direction",
]

#: tags proposed per head, in the order their rules are tried (first match wins)
TAGS: tuple[str, ...] = ("prefix-focused", "offset-local", "local", "axial", "global")

#: directions of an offset-local head: the 45-degree sectors, counter-clockwise from +x in
#: image coordinates (``dy > 0`` is down)
DIRECTIONS: tuple[str, ...] = (
    "right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right",
)

#: directions of an axial head
AXES: tuple[str, ...] = ("horizontal", "vertical")

#: the arrow a preset tag shows for each direction of an offset-local head
ARROWS: dict[str, str] = {
    "left": "←", "right": "→", "up": "↑", "down": "↓",
    "up-left": "↖", "up-right": "↗", "down-left": "↙", "down-right": "↘",
}

#: tags offered by the annotator: offset-local heads carry the direction of their offset (the
#: neighbour they look at)
PRESET_TAGS: tuple[str, ...] = (
    "local",
    *(f"offset-local {ARROWS[d]}" for d in ("left", "right", "up", "down",
                                             "up-left", "up-right", "down-left", "down-right")),
    "axial",
    "global",
    "prefix-focused",
    "other",
)

#: colour of each proposed tag in the plots (matplotlib's tab10 colours)
TAG_COLOURS: dict[str, str] = {
    "local": "#1f77b4",
    "offset-local": "#d62728",
    "axial": "#9467bd",
    "global": "#2ca02c",
    "prefix-focused": "#7f7f7f",
}

#: the explorer's views of a layer, in display order: ``(id, button label, explanation)``
MODE_INFO: tuple[tuple[str, str, str], ...] = (
    ("row", "query → keys", "Attention from the hovered query to every key"),
    ("column", "keys ← all queries", "Attention every query pays to the hovered key"),
    ("cls", "CLS → patches", "Attention from the first prefix token (CLS) to every token"),
    ("rollout", "rollout ≤ layer",
     "Attention rollout (Abnar & Zuidema) of blocks 0..layer, mean of heads; hovered query's "
     "row"),
    ("aligned", "aligned average",
     "Each head's attention averaged over queries after centring every query (Walmer et "
     "al.): centre cell = the query itself"),
)
MODES: tuple[str, ...] = tuple(m[0] for m in MODE_INFO)

#: colour maps of the attention views (the frontend holds their colour stops)
COLORMAPS: tuple[str, ...] = ("viridis", "magma", "inferno", "gray")

#: how the explorer's maps are coloured, in display order: ``(id, label, explanation)``
SCALE_INFO: tuple[tuple[str, str, str], ...] = (
    ("map", "per map", "Each map from 0 to its own largest patch value"),
    ("layer", "per layer",
     "One scale for every head of the layer: 0 to the largest patch value any head's map "
     "shows (heads compare by shade)"),
    ("absolute", "absolute", "0 to 100 % attention for every map (every layer and query)"),
)
SCALES: tuple[str, ...] = tuple(s[0] for s in SCALE_INFO)


def tag_with_direction(tag: str, direction: str | None) -> str:
    """The preset tag of a proposed ``tag`` and ``direction``: ``("offset-local", "left")``
    becomes ``"offset-local ←"``; other tags keep their name."""
    if tag == "offset-local" and direction in ARROWS:
        return f"offset-local {ARROWS[direction]}"
    return tag
