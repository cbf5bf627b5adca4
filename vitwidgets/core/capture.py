"""Exact attention capture for timm ViTs with fused attention left on.

timm >= 0.9 computes attention with ``F.scaled_dot_product_attention``, so hooks on ``attn_drop``
see nothing (the failure of older tools). Instead we hook the outputs of each attention module's
``q_norm`` and ``k_norm`` (identity modules when the model has no qk-norm), which hold q and k
exactly as the module uses them, and recompute ``softmax(q k^T * scale)`` with the same operations
as timm's unfused path (RoPE applied to patch tokens where the family uses it, attention mask
added). The model's own computation is untouched, so its outputs are bitwise the same with and
without a trace, and timm's global fused-attention switch is never flipped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

try:  # present in timm >= 1.0
    from timm.layers.attention import maybe_add_mask, resolve_self_attn_mask
except ImportError:  # pragma: no cover - older timm
    maybe_add_mask = resolve_self_attn_mask = None

try:
    from timm.layers.pos_embed_sincos import apply_rot_embed_cat
except ImportError:  # pragma: no cover
    apply_rot_embed_cat = None

_ATTN_KWARGS = ("rope", "attn_mask", "is_causal")


def _classes(*paths: str) -> tuple[type, ...]:
    """The classes ``"module:Name"`` that this timm version has (missing ones skipped)."""
    import importlib

    found: list[type] = []
    for path in paths:
        module, name = path.split(":")
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):  # pragma: no cover - other timm versions
            continue
    return tuple(dict.fromkeys(found))


def supported_attention_types() -> tuple[type, ...]:
    """Attention module classes whose forward we reproduce exactly (timm 1.0.x)."""
    return _classes(
        "timm.layers.attention:Attention",
        "timm.layers.attention:AttentionRope",
        "timm.models.vision_transformer:Attention",
        "timm.models.eva:EvaAttention",
    )


def pre_norm_block_types() -> tuple[type, ...]:
    """Blocks of the form ``x + f(norm1(x))`` then ``x + g(norm2(x))``: the input of ``norm2``
    is the residual stream after the attention branch."""
    return _classes("timm.models.vision_transformer:Block", "timm.models.eva:EvaBlock")


@dataclass
class CaptureRequest:
    """What to keep during one forward pass."""

    attention: bool = True
    tokens: bool = True
    latents: bool = False
    layers: tuple[int, ...] = ()
    attn_dtype: torch.dtype = torch.float32
    #: called as ``on_qk(layer, q, k)`` with each captured block's q and k ``[B, H, N, d]``
    #: (normed, RoPE applied, not scaled) instead of keeping its attention
    on_qk: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None
    #: stop the forward pass after this block (its output is not needed)
    stop_after: int | None = None


class StopForward(Exception):
    """Raised by the capture hooks to end a forward pass early (``stop_after``)."""


class AttentionCapture:
    """Context manager that installs the capture hooks on a timm ViT's blocks.

    After the forward pass: ``attn`` ``[L', B, H, N, N]``, ``tokens`` ``[L+1, B, N, D]`` and
    ``latents`` ``[2L+1, B, N, D]`` (see :class:`vitwidgets.core.trace.Trace`).
    """

    def __init__(self, blocks: Sequence[nn.Module], request: CaptureRequest):
        self.blocks = list(blocks)
        self.request = request
        self.num_layers = len(self.blocks)
        self.attn: torch.Tensor | None = None
        self.tokens: torch.Tensor | None = None
        self.latents: torch.Tensor | None = None
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._slot = {layer: i for i, layer in enumerate(request.layers)}
        self._q: dict[int, torch.Tensor] = {}
        self._kwargs: dict[int, dict] = {}
        self._workspace = Workspace()

    # -- buffers ---------------------------------------------------------------------------
    def _residual_buffer(self, x: torch.Tensor) -> torch.Tensor:
        if self.latents is None and self.tokens is None:
            b, n, d = x.shape
            if self.request.latents:
                self.latents = x.new_empty((2 * self.num_layers + 1, b, n, d))
                if self.request.tokens:
                    self.tokens = self.latents[0::2]  # a view: no second copy
            else:
                self.tokens = x.new_empty((self.num_layers + 1, b, n, d))
        return self.latents if self.latents is not None else self.tokens

    def _store_residual(self, index_tokens: int, index_latents: int, x: torch.Tensor) -> None:
        buf = self._residual_buffer(x)
        if self.latents is not None:
            buf[index_latents].copy_(x)
        else:
            buf[index_tokens].copy_(x)

    # -- hooks -----------------------------------------------------------------------------
    def _embedding_hook(self, _module, args, kwargs=None):
        self._store_residual(0, 0, args[0])

    def _block_output_hook(self, layer: int):
        def hook(_module, _args, output):
            self._store_residual(layer + 1, 2 * layer + 2, output)

        return hook

    def _after_attention_hook(self, layer: int):
        def hook(_module, args):
            buf = self._residual_buffer(args[0])
            buf[2 * layer + 1].copy_(args[0])

        return hook

    def _attention_kwargs_hook(self, layer: int):
        # rope / attn_mask / is_causal come by keyword (timm's blocks pass them so) or
        # positionally after x, in the order of the module's forward signature.
        names = tuple(inspect.signature(self.blocks[layer].attn.forward).parameters)[1:]

        def hook(_module, args, kwargs):
            given = dict(zip(names, args[1:], strict=False))
            given.update(kwargs)
            self._kwargs[layer] = {k: v for k, v in given.items() if k in _ATTN_KWARGS}

        return hook

    def _q_hook(self, layer: int):
        def hook(_module, args, output):
            self._q[layer] = (output, args[0].dtype)

        return hook

    def _k_hook(self, layer: int, attn_module: nn.Module):
        def hook(_module, _args, k):
            q, v_dtype = self._q.pop(layer)
            kwargs = self._kwargs.pop(layer, {})
            if self.request.on_qk is not None:
                self._send_qk(layer, attn_module, q, k, v_dtype, kwargs)
                return
            if self.attn is None:
                b, h, n, _ = q.shape
                self.attn = q.new_empty(
                    (len(self.request.layers), b, h, n, n), dtype=self.request.attn_dtype
                )
            recompute_attention(attn_module, q, k, v_dtype, **kwargs,
                                out=self.attn[self._slot[layer]], workspace=self._workspace)

        return hook

    def _send_qk(self, layer, attn_module, q, k, v_dtype, kwargs) -> None:
        if kwargs.get("attn_mask") is not None or kwargs.get("is_causal"):
            raise ValueError(
                "capturing q/k needs unmasked attention (the lazy session recomputes "
                "softmax(q k^T * scale) without a mask); trace with attention=True instead"
            )
        q, k = apply_rope(attn_module, q, k, v_dtype, kwargs.get("rope"))
        self.request.on_qk(layer, q, k)

    def _stop_hook(self, _module, _args, _output):
        raise StopForward

    def __enter__(self) -> AttentionCapture:
        req = self.request
        want_residual = req.tokens or req.latents
        if req.stop_after is not None:
            self._handles.append(self.blocks[req.stop_after].register_forward_hook(self._stop_hook))
        if want_residual:
            self._handles.append(
                self.blocks[0].register_forward_pre_hook(self._embedding_hook, with_kwargs=True)
            )
        for layer, blk in enumerate(self.blocks):
            if want_residual:
                self._handles.append(blk.register_forward_hook(self._block_output_hook(layer)))
            if req.latents:
                self._handles.append(
                    blk.norm2.register_forward_pre_hook(self._after_attention_hook(layer))
                )
            if req.attention and layer in self._slot:
                a = blk.attn
                self._handles += [
                    a.register_forward_pre_hook(
                        self._attention_kwargs_hook(layer), with_kwargs=True
                    ),
                    a.q_norm.register_forward_hook(self._q_hook(layer)),
                    a.k_norm.register_forward_hook(self._k_hook(layer, a)),
                ]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._q.clear()
        self._kwargs.clear()
        self._workspace = Workspace()


class Workspace:
    """Scratch tensors reused across the blocks of one forward pass.

    On the CPU a fresh tensor of tens of MB costs more in first-touch page faults than the
    arithmetic that fills it (measured: a new 358 MB buffer 225 ms to fill vs 7 ms reused), so
    the per-block scores and q buffers are allocated once per trace, not once per block.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        buf = self._buffers.get(name)
        stale = buf is None or buf.shape != shape or buf.dtype != like.dtype
        if stale or buf.device != like.device:
            buf = torch.empty(shape, dtype=like.dtype, device=like.device)
            self._buffers[name] = buf
        return buf


def apply_rope(
    attn_module: nn.Module, q: torch.Tensor, k: torch.Tensor, v_dtype: torch.dtype,
    rope: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """q and k ``[B, H, N, d]`` with the module's rotary embedding applied to the patch tokens
    (prefix tokens unrotated), exactly as timm's attention does; unchanged without ``rope``."""
    if rope is None:
        return q, k
    if apply_rot_embed_cat is None:  # pragma: no cover
        raise RuntimeError("this timm has no apply_rot_embed_cat; cannot apply RoPE")
    npt = attn_module.num_prefix_tokens
    half = getattr(attn_module, "rotate_half", False)

    def rotate(t: torch.Tensor) -> torch.Tensor:
        rotated = apply_rot_embed_cat(t[:, :, npt:, :], rope, half=half)
        return torch.cat([t[:, :, :npt, :], rotated], dim=2).to(v_dtype)

    return rotate(q), rotate(k)


def recompute_attention(
    attn_module: nn.Module,
    q: torch.Tensor,
    k: torch.Tensor,
    v_dtype: torch.dtype,
    rope: torch.Tensor | None = None,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    *,
    out: torch.Tensor | None = None,
    workspace: Workspace | None = None,
) -> torch.Tensor:
    """Post-softmax attention ``[B, H, N, N]`` from the module's own (normed) q and k
    ``[B, H, N, head_dim]``, with exactly the operations of timm's unfused path.

    ``out``: where to write the result (any float dtype); ``workspace``: reused scratch. Without
    ``out`` the result may live in the workspace: copy it before the next call.
    """
    q, k = apply_rope(attn_module, q, k, v_dtype, rope)
    ws = workspace if workspace is not None else Workspace()
    b, h, n, _ = q.shape
    q = torch.mul(q, attn_module.scale, out=ws.get("q", tuple(q.shape), q))
    scores = ws.get("scores", (b, h, n, k.shape[-2]), q)
    torch.matmul(q, k.transpose(-2, -1), out=scores)
    if attn_mask is not None or is_causal:
        bias = resolve_self_attn_mask(n, scores, attn_mask, is_causal)
        scores = maybe_add_mask(scores, bias)
    if out is not None and out.dtype == scores.dtype:
        return torch.softmax(scores, dim=-1, out=out)
    probs = torch.softmax(scores, dim=-1, out=ws.get("probs", tuple(scores.shape), scores))
    if out is not None:
        return out.copy_(probs)
    return probs
