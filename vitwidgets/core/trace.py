"""The Trace: everything captured from one forward pass of a ViT over a batch of images.

Shapes use the notation of ``shared/spec/analyses.md``: ``L`` blocks, ``B`` images, ``H`` heads,
``N = P + G`` tokens where the ``P`` prefix tokens (CLS, distillation token, registers) come first
and the ``G = gh * gw`` patch tokens follow in row-major order, ``D`` the residual width.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


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
        latents: ``[2L+1, B, N, D]`` the sub-block latents for Fourier analysis [PARK22]:
            embedding, then for every block the residual after its attention branch and after
            its MLP branch (``latents[2l+1]`` and ``latents[2l+2]``). ``None`` unless requested.
        pixels: ``[B, 3, H_px, W_px]`` the model input after preprocessing (normalised).
        grid: ``(gh, gw)`` patch grid of this input.
        num_prefix: number of prefix tokens ``P``.
        patch_size: patch side in pixels.
        layers: block indices (0-based) whose attention is in ``attn``, in order.
        prefix_names: names of the prefix tokens in order, e.g. ``("cls",)``,
            ``("cls", "dist")`` or ``("cls", "reg0", "reg1", "reg2", "reg3")``.
        mean, std: per-channel normalisation used to make ``pixels`` (to undo it for display).
        output: the model's own output for this input (logits, or pooled features when the model
            has no classifier head).
        model_name: identity of the model that produced the trace.
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
    extras: dict = field(default_factory=dict)

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

    def patch_tokens(self, layer: int | None = None) -> torch.Tensor:
        """Patch tokens (prefix dropped): ``[L+1, B, G, D]``, or ``[B, G, D]`` for one index of
        ``tokens`` (0 = embedding, ``l+1`` = output of block ``l``)."""
        if self.tokens is None:
            raise ValueError("this trace holds no tokens: trace with tokens=True")
        t = self.tokens[..., self.num_prefix :, :]
        return t if layer is None else t[layer]

    def images_uint8(self) -> torch.Tensor:
        """The preprocessed input as displayable RGB: ``[B, H_px, W_px, 3]`` uint8 on the CPU."""
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1)
        rgb = self.pixels.detach().float().cpu() * std + mean
        return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def layer_index(self, block: int) -> int:
        """Position in ``attn`` of block ``block`` (negative indices count from the end)."""
        if block < 0:
            block += max(self.layers) + 1 if self.layers else 0
        try:
            return self.layers.index(block)
        except ValueError:
            raise ValueError(
                f"block {block} was not captured; this trace holds attention of blocks "
                f"{list(self.layers)} (trace with layers=None for all)"
            ) from None

    def to(self, device: torch.device | str) -> Trace:
        """A copy with every tensor moved to ``device``."""
        moved = {
            k: (v.to(device) if isinstance(v, torch.Tensor) else v)
            for k, v in self.__dict__.items()
        }
        return Trace(**moved)
