"""The Trace: everything captured from one forward pass of a ViT over a batch of images.

Shapes: ``L`` blocks, ``B`` images, ``H`` heads, ``N = P + G`` tokens where the ``P`` prefix
tokens (CLS, distillation token, registers) come first and the ``G = gh * gw`` patch tokens
follow in row-major order, ``D`` the residual width. Block and residual-stream indices follow
:mod:`vitwidgets.core.indexing` (``-1`` is the model's last block).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .images import denormalise_uint8
from .indexing import LayerArg, block_index, stream_index

__all__ = ["Trace", "prefix_token_names"]


def prefix_token_names(num_prefix: int, names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Names of the ``P`` prefix tokens: ``names`` when it names every one, else ``cls`` for
    the first and ``prefix1``, ``prefix2``, ... for the rest (the first prefix token of every
    timm ViT with a class token is CLS)."""
    names = tuple(names or ())
    if len(names) == num_prefix:
        return names
    return tuple("cls" if i == 0 else f"prefix{i}" for i in range(num_prefix))


@dataclass
class Trace:
    """Activations captured by :meth:`vitwidgets.ViTModel.trace`.

    Attributes:
        attn: ``[L', B, H, N, N]`` post-softmax attention (rows = queries, columns = keys, rows
            sum to 1), prefix tokens first, recomputed exactly as timm's unfused path. ``L'`` is
            ``len(layers)``; ``None`` when attention was not requested.
        tokens: ``[L+1, B, N, D]`` residual stream: index 0 is the input of the first block (patch
            embedding + prefix tokens + position embedding, then ``norm_pre`` where the family has
            one, e.g. CLIP), index ``l+1`` the output of block ``l``. ``None`` when not requested.
        latents: ``[2L+1, B, N, D]`` the sub-block latents for Fourier analysis (Park & Kim
            2022): embedding, then for every block the residual after its attention branch and
            after its MLP branch (``latents[2l+1]`` and ``latents[2l+2]``). ``None`` unless
            requested.
        pixels: ``[B, 3, H_px, W_px]`` the model input after preprocessing (normalised).
        grid: ``(gh, gw)`` patch grid of this input.
        num_prefix: number of prefix tokens ``P``.
        patch_size: patch side in pixels.
        layers: block indices (0-based) whose attention is in ``attn``, in order.
        prefix_names: names of the prefix tokens in order, e.g. ``("cls",)``,
            ``("cls", "dist")`` or ``("cls", "reg0", "reg1", "reg2", "reg3")`` (filled in by
            :func:`prefix_token_names` when it does not name every prefix token).
        mean, std: per-channel normalisation used to make ``pixels`` (to undo it for display).
        output: the model's own output for this input (logits, or pooled features when the model
            has no classifier head).
        model_name: identity of the model that produced the trace.
        num_layers: ``L``, the model's number of blocks (what ``layer=-1`` counts from). When
            not given it is read from ``tokens`` or ``latents``, else taken as
            ``max(layers) + 1``.
    """

    pixels: torch.Tensor
    grid: tuple[int, int]
    num_prefix: int
    patch_size: int
    layers: tuple[int, ...]
    prefix_names: tuple[str, ...]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    attn: torch.Tensor | None = None
    tokens: torch.Tensor | None = None
    latents: torch.Tensor | None = None
    output: torch.Tensor | None = None
    model_name: str = ""
    num_layers: int | None = None

    def __post_init__(self) -> None:
        self.layers = tuple(int(b) for b in self.layers)
        self.prefix_names = prefix_token_names(self.num_prefix, self.prefix_names)
        if self.num_layers is None:
            self.num_layers = self._infer_num_layers()

    def _infer_num_layers(self) -> int:
        if self.tokens is not None:
            return int(self.tokens.shape[0]) - 1
        if self.latents is not None:
            return (int(self.latents.shape[0]) - 1) // 2
        return max(self.layers) + 1 if self.layers else 0

    @property
    def num_patches(self) -> int:
        """``G = gh * gw``."""
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        """``N = P + G``."""
        return self.num_prefix + self.num_patches

    @property
    def batch_size(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def device(self) -> torch.device:
        return self.pixels.device

    def patch_tokens(self, layer: LayerArg | None = None) -> torch.Tensor:
        """Patch tokens of the residual stream (prefix dropped): ``[B, G, D]`` after block
        ``layer`` (``"embedding"`` = the input of block 0, ``-1`` = the last block), or every
        entry ``[L+1, B, G, D]`` for ``layer=None``."""
        if self.tokens is None:
            raise ValueError("this trace holds no tokens: trace with tokens=True")
        t = self.tokens[..., self.num_prefix :, :]
        return t if layer is None else t[stream_index(layer, self.num_layers)]

    def attn_index(self, layer: int) -> int:
        """Position in ``attn`` of block ``layer`` (``-1`` = the model's last block)."""
        block = block_index(layer, self.num_layers, owner=self.model_name or "the model")
        try:
            return self.layers.index(block)
        except ValueError:
            raise ValueError(
                f"block {block} was not captured; this trace holds attention of blocks "
                f"{list(self.layers)} (trace with layers=None for all)"
            ) from None

    def images_uint8(self) -> torch.Tensor:
        """The preprocessed input as displayable RGB: ``[B, H_px, W_px, 3]`` uint8 on the CPU."""
        return denormalise_uint8(self.pixels, self.mean, self.std)

    def to(self, device: torch.device | str) -> Trace:
        """A copy with every tensor moved to ``device``."""
        moved = {
            k: (v.to(device) if isinstance(v, torch.Tensor) else v)
            for k, v in self.__dict__.items()
        }
        return Trace(**moved)
