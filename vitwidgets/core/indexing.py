"""Which block, residual-stream entry, head or image an argument means: the one resolver.

Every ``layer=`` / ``layers=`` / ``head=`` / ``image_index=`` argument of vitwidgets goes
through these functions, so they mean the same everywhere (the semantics of timm's
``feature_take_indices``, Wightman 2019-2025, ``timm/models/_features.py``):

- Blocks are numbered ``0 .. L-1``. A single ``layer`` is an int in ``[-L, L-1]``; a negative
  one counts from the end of the **model** (``-1`` is always the model's last block, never "the
  last one captured").
- ``layers=None`` means every block; an int ``n`` means the last ``n`` blocks (as timm's
  ``indices=n``); a sequence names blocks (negatives count from the end; no duplicates).
- The residual stream ``tokens [L+1, ...]`` has one more entry: index 0 is the embedding (the
  input of block 0, named ``"embedding"``), index ``l + 1`` the output of block ``l``. Where a
  function reads the residual stream, ``layer="embedding"`` (or ``"embedding"`` inside
  ``layers``) selects the embedding; ``layers=None`` selects the ``L`` block outputs.
- Widget traits hold canonical indices (``0 .. L-1``), so that linked views compare equal;
  they reject negative values instead of reinterpreting them (``negative=False``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .errors import UserTypeError, UserValueError

__all__ = [
    "EMBEDDING",
    "LayerArg",
    "LayersArg",
    "block_index",
    "block_indices",
    "stream_index",
    "stream_indices",
    "check_head",
    "check_image",
    "block_at_relative_depth",
    "token_across_grids",
]

#: name of the residual-stream entry before the first block
EMBEDDING = "embedding"

#: a single block (``int``) or ``"embedding"``
LayerArg = int | str
#: ``None`` (all blocks), an int ``n`` (the last ``n``) or a sequence of blocks
LayersArg = int | Iterable[int | str] | None


def _as_int(value: object, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise UserTypeError(f"{what} must be an int, got {value!r}")
    return int(value)


def _range_text(count: int, negative: bool) -> str:
    span = f"(0..{count - 1})"
    return f"{span}, or {-count}..-1 from the end" if negative else span


def block_index(
    layer: int, num_layers: int, *, owner: str = "the model", negative: bool = True
) -> int:
    """Block ``layer`` as an index ``0 .. L-1`` (``-1`` = the model's last block).

    Args:
        layer: a block index; negative counts from the end when ``negative``.
        num_layers: ``L``, the model's number of blocks.
        owner: named in the error message (e.g. the model's name).
        negative: accept negative indices (widget traits do not: they hold canonical ones).

    Raises:
        TypeError: ``layer`` is not an int. ValueError: it is out of range (the message gives
        the valid range).
    """
    layer = _as_int(layer, "layer")
    low = -num_layers if negative else 0
    if not low <= layer < num_layers:
        raise UserValueError(
            f"layer {layer} out of range: {owner} has {num_layers} blocks "
            f"{_range_text(num_layers, negative)}"
        )
    return layer % num_layers


def block_indices(
    layers: LayersArg, num_layers: int, *, owner: str = "the model"
) -> tuple[int, ...]:
    """Blocks named by ``layers`` as sorted-as-given indices ``0 .. L-1``.

    ``None`` = all ``L`` blocks; an int ``n`` = the last ``n`` blocks; a sequence = those
    blocks (negative from the end), without duplicates.
    """
    if layers is None:
        return tuple(range(num_layers))
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, (bool, np.bool_)):
        n = int(layers)
        if not 0 < n <= num_layers:
            raise UserValueError(
                f"layers={n} asks for the last {n} blocks, but {owner} has {num_layers}; "
                f"pass 1..{num_layers}, a list of block indices, or None for all"
            )
        return tuple(range(num_layers - n, num_layers))
    if isinstance(layers, str) or not isinstance(layers, Iterable):
        raise UserTypeError(
            f"layers must be None (all blocks), an int n (the last n) or a list of block "
            f"indices; got {layers!r}"
        )
    out = tuple(block_index(b, num_layers, owner=owner) for b in layers)
    _check_unique(out)
    return out


def stream_index(layer: LayerArg, num_layers: int, *, owner: str = "the model") -> int:
    """Index into the residual stream ``tokens [L+1, ...]`` of block ``layer``'s output, or 0
    for ``"embedding"``."""
    if layer == EMBEDDING:
        return 0
    if isinstance(layer, str):
        raise UserValueError(f"layer must be a block index or {EMBEDDING!r}, got {layer!r}")
    return block_index(layer, num_layers, owner=owner) + 1


def stream_indices(
    layers: LayersArg, num_layers: int, *, owner: str = "the model"
) -> tuple[int, ...]:
    """Residual-stream indices (``0`` = embedding, ``l + 1`` = output of block ``l``) of
    ``layers``: ``None`` = the ``L`` block outputs, an int ``n`` = the last ``n``, a sequence of
    block indices and/or ``"embedding"``."""
    if layers is None or isinstance(layers, (int, np.integer)):
        return tuple(b + 1 for b in block_indices(layers, num_layers, owner=owner))
    if isinstance(layers, str):
        return (stream_index(layers, num_layers, owner=owner),)
    out = tuple(stream_index(b, num_layers, owner=owner) for b in layers)
    _check_unique(out)
    return out


def _check_unique(indices: tuple[int, ...]) -> None:
    if len(set(indices)) != len(indices):
        raise UserValueError(f"layers has duplicates: {list(indices)}")


def check_head(head: int, num_heads: int) -> int:
    """Head ``head`` as an index ``0 .. H-1`` (no negatives: heads have no natural end)."""
    head = _as_int(head, "head")
    if not 0 <= head < num_heads:
        raise UserValueError(f"head {head} out of range 0..{num_heads - 1}")
    return head


def check_image(image_index: int, num_images: int, *, owner: str = "the batch") -> int:
    """Image ``image_index`` (a position in the images given) as an index ``0 .. B-1``."""
    if isinstance(image_index, (bool, np.bool_)) or not isinstance(
        image_index, (int, np.integer)
    ) or not 0 <= image_index < num_images:
        raise UserValueError(
            f"image {image_index!r} out of range: {owner} holds {num_images} image(s) "
            f"(0..{num_images - 1})"
        )
    return int(image_index)


def block_at_relative_depth(layer: int, num_layers: int, other_num_layers: int) -> int:
    """The block of a model with ``other_num_layers`` blocks at the relative depth of block
    ``layer`` of a model with ``num_layers``: depth counts blocks done, ``(layer + 1) / L``,
    so block 5 of 12 (the 6th, half way) meets block 11 of 24 (the 12th) as in the
    layer-by-layer comparisons of Raghu et al. 2021 and Walmer et al. 2023. Ties round up."""
    layer = block_index(layer, num_layers, negative=False)
    done = (layer + 1) * other_num_layers / num_layers
    return min(max(int(np.floor(done + 0.5)) - 1, 0), other_num_layers - 1)


def token_across_grids(
    token: int, grid: tuple[int, int], num_prefix: int,
    other_grid: tuple[int, int], other_num_prefix: int,
) -> int:
    """The token of another model's input at the place of ``token`` (prefix tokens first, then
    patches row-major) of this one, for the same image: a patch maps to the other grid's patch
    under its centre (both grids cover the whole model input), prefix token ``k`` to the
    other's prefix token ``k`` (``-1`` when it has fewer), and ``-1`` (no token) to ``-1``."""
    gh, gw = grid
    if token == -1:
        return -1
    if not 0 <= token < num_prefix + gh * gw:
        raise UserValueError(f"token {token} out of range 0..{num_prefix + gh * gw - 1} (or -1)")
    if token < num_prefix:
        return token if token < other_num_prefix else -1
    row, col = divmod(token - num_prefix, gw)
    oh, ow = other_grid
    other_row = min(int((row + 0.5) * oh / gh), oh - 1)
    other_col = min(int((col + 0.5) * ow / gw), ow - 1)
    return other_num_prefix + other_row * ow + other_col
