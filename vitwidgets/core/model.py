"""Model adapter: a timm ViT with its geometry, its own preprocessing and exact attention capture.

Loading by name, checkpoint or zoo key is :func:`vitwidgets.load_model` (above the core); this
module wraps a timm module that is already built.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import torch
from torch import nn

from .capture import (
    AttentionCapture,
    CaptureRequest,
    StopForward,
    pre_norm_block_types,
    supported_attention_types,
)
from .errors import UserError, UserTypeError, UserValueError
from .images import crop_to_patch_multiple, normalise, resize_and_crop, to_rgb_tensors
from .indexing import LayersArg, block_indices
from .trace import Trace, prefix_token_names

__all__ = ["ViTModel", "UnsupportedModelError", "check_supported", "default_device",
           "SUPPORTED_FAMILIES"]

SUPPORTED_FAMILIES = (
    "timm VisionTransformer models (ViT, DeiT with or without distillation token, DINO, DINOv2, "
    "CLIP/OpenCLIP and SigLIP image towers, MAE encoders, ViTs with registers or qk-norm) and "
    "timm Eva models (EVA-02, RoPE ViTs) whose attention is timm's Attention, AttentionRope or "
    "EvaAttention"
)


class UnsupportedModelError(UserError, TypeError):
    """The model is not a ViT family whose attention vitwidgets can capture exactly."""


def _vit_classes() -> tuple[type, ...]:
    classes: list[type] = []
    from timm.models.vision_transformer import VisionTransformer

    classes.append(VisionTransformer)
    try:
        from timm.models.eva import Eva

        classes.append(Eva)
    except ImportError:  # pragma: no cover
        pass
    return tuple(classes)


def check_supported(model: nn.Module) -> None:
    """Raise :class:`UnsupportedModelError` unless ``model`` is a timm ViT we capture exactly."""
    if not isinstance(model, nn.Module):
        raise UserTypeError(
            f"expected a timm model name, a timm ViT module or a ViTModel, got "
            f"{type(model).__name__}"
        )
    if not isinstance(model, _vit_classes()) or not hasattr(model, "blocks"):
        raise UnsupportedModelError(
            f"{type(model).__name__} is not a supported Vision Transformer. Supported: "
            f"{SUPPORTED_FAMILIES}."
        )
    attn_types = supported_attention_types()
    for i, blk in enumerate(model.blocks):
        attn = getattr(blk, "attn", None)
        if type(attn) not in attn_types:
            raise UnsupportedModelError(
                f"block {i} of {type(model).__name__} uses {type(attn).__name__} attention, "
                f"whose attention vitwidgets cannot recompute exactly. Supported: "
                f"{SUPPORTED_FAMILIES}."
            )
    patch = model.patch_embed.patch_size
    if patch[0] != patch[1]:
        raise UnsupportedModelError(f"non-square patches {tuple(patch)} are not supported")


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ViTModel:
    """A timm Vision Transformer with its geometry, preprocessing and attention capture.

    Attributes:
        model: the timm module (eval mode) on ``device``.
        name: how it was loaded (timm name, ``zoo:<key>``, or the class name of an instance).
        patch_size: patch side in pixels.
        num_layers: number of blocks ``L`` (timm's ``depth``). ``num_heads``: heads per block
        ``H``.
        embed_dim: residual width ``D``. ``num_prefix``: prefix tokens ``P`` (CLS, distillation
        token, registers), named in ``prefix_names``.
        input_size: ``(H_px, W_px)`` the model's configured input size.
        dynamic_size: whether the model accepts other input sizes (timm ``dynamic_img_size``).
        data_config: timm's data config (``mean``, ``std``, ``crop_pct``, ``interpolation``, ...).
        metadata: extra facts about the weights (the zoo's training record, checkpoint path).
    """

    def __init__(
        self,
        model: nn.Module,
        name: str | None = None,
        device: torch.device | str | None = None,
        metadata: dict | None = None,
    ):
        check_supported(model)
        self.device = torch.device(device) if device is not None else default_device()
        self.model = model.to(self.device).eval()
        self.name = name or _architecture_name(model)
        self.metadata = dict(metadata or {})
        pe = model.patch_embed
        self.patch_size = int(pe.patch_size[0])
        self.num_layers = len(model.blocks)
        self.num_heads = int(model.blocks[0].attn.num_heads)
        self.embed_dim = int(model.embed_dim)
        self.num_prefix = int(model.num_prefix_tokens)
        self.prefix_names = prefix_token_names(self.num_prefix, _prefix_names(model))
        self.dynamic_size = bool(getattr(model, "dynamic_img_size", False))
        self.data_config = _data_config(model)
        self.input_size = tuple(int(s) for s in self.data_config["input_size"][1:])
        self._fingerprint: str | None = None
        # One forward pass at a time: a pass installs hooks on the shared blocks, so a trace in
        # the notebook and a session's background pass must not overlap.
        self._forward_lock = threading.RLock()

    def __repr__(self) -> str:
        gh, gw = self.grid_for(*self.input_size)
        prefix = "+".join(self.prefix_names) or "none"
        return (
            f"ViTModel({self.name!r}: {self.num_layers} blocks x {self.num_heads} heads, width "
            f"{self.embed_dim}, patch {self.patch_size}, grid {gh}x{gw} at "
            f"{self.input_size[0]}x{self.input_size[1]} px, prefix tokens {prefix}, "
            f"device {self.device})"
        )

    # -- geometry ---------------------------------------------------------------------------
    def grid_for(self, height: int, width: int) -> tuple[int, int]:
        """Patch grid ``(gh, gw)`` for an input of ``height`` x ``width`` pixels."""
        p = self.patch_size
        if height % p or width % p:
            raise UserValueError(
                f"input {height}x{width} px is not a multiple of the patch size {p}"
            )
        return height // p, width // p

    @property
    def identity(self) -> dict[str, Any]:
        """What identifies these weights, for files that refer to a model (annotations):
        name, architecture facts and a SHA-256 of the parameters (computed once, lazily)."""
        return {
            "name": self.name,
            "architecture": _architecture_name(self.model),
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "embed_dim": self.embed_dim,
            "patch_size": self.patch_size,
            "num_prefix": self.num_prefix,
            "weights_sha256": self.fingerprint,
        }

    @property
    def fingerprint(self) -> str:
        """SHA-256 over every parameter and buffer (names, shapes and float32 bytes)."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for key, t in self.model.state_dict().items():
                h.update(key.encode())
                h.update(str(tuple(t.shape)).encode())
                h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    # -- input ------------------------------------------------------------------------------
    def preprocess(self, images: Any, size: tuple[int, int] | str | None = None) -> torch.Tensor:
        """Images -> normalised model input ``[B, 3, H_px, W_px]`` on the model's device.

        Args:
            images: PIL image, path, numpy ``HxW[xC]``, torch ``CxHxW``/``BxCxHxW``, or a list.
            size: ``None`` resizes and crops to the model's configured input size (timm's eval
                transform: ``crop_pct``, centre crop, interpolation); ``"keep"`` keeps each
                image's size, centre-cropped to a multiple of the patch size (models with dynamic
                image size only); ``(H, W)`` resizes and crops to that size (dynamic models, or
                the configured size).
        """
        cfg = self.data_config
        rgb = to_rgb_tensors(images)
        crop_pct = float(cfg.get("crop_pct") or 1.0)
        crop_mode = cfg.get("crop_mode", "center")
        interp = cfg.get("interpolation", "bicubic")
        if size is None:
            out = [resize_and_crop(t, self.input_size, crop_pct, crop_mode, interp) for t in rgb]
        elif isinstance(size, str):
            if size != "keep":
                raise UserValueError(f"size must be None, 'keep' or (height, width); got {size!r}")
            self._require_dynamic("size='keep'")
            out = [crop_to_patch_multiple(t, self.patch_size) for t in rgb]
            shapes = {tuple(t.shape[-2:]) for t in out}
            if len(shapes) > 1:
                raise UserValueError(
                    f"size='keep' needs images of one size to batch them; got sizes "
                    f"{sorted(shapes)}. Trace them one at a time or pass size=(H, W)"
                )
        else:
            try:
                hw = (int(size[0]), int(size[1]))
            except (TypeError, ValueError, IndexError):
                raise UserValueError(
                    f"size must be None, 'keep' or (height, width); got {size!r}"
                ) from None
            if hw != self.input_size:
                self._require_dynamic(f"size={hw}")
            self.grid_for(*hw)
            out = [resize_and_crop(t, hw, crop_pct, crop_mode, interp) for t in rgb]
        pixels = normalise(torch.stack(out), cfg["mean"], cfg["std"])
        return pixels.to(self.device)

    def _require_dynamic(self, what: str) -> None:
        if not self.dynamic_size:
            raise UserValueError(
                f"{what} needs a model with dynamic image size, but {self.name} takes "
                f"{self.input_size[0]}x{self.input_size[1]} px only; load it with "
                f"dynamic_img_size=True (a timm option) or leave size=None"
            )

    # -- capture ----------------------------------------------------------------------------
    def trace(
        self,
        images: Any,
        *,
        attention: bool = True,
        tokens: bool = True,
        latents: bool = False,
        layers: LayersArg = None,
        attn_dtype: torch.dtype = torch.float32,
        size: tuple[int, int] | str | None = None,
        pixels: torch.Tensor | None = None,
    ) -> Trace:
        """Run the model once and capture attention and the residual stream.

        Args:
            images: see :meth:`preprocess` (ignored when ``pixels`` is given).
            attention: keep post-softmax attention ``[L', B, H, N, N]``.
            tokens: keep the residual stream ``[L+1, B, N, D]``.
            latents: keep the ``2L+1`` sub-block latents for Fourier analysis (embedding, after
                each attention residual, after each MLP residual); pre-norm blocks only.
            layers: blocks whose attention to keep: ``None`` all, an int ``n`` the last ``n``,
                or a list of block indices (negative counts from the end); see
                :mod:`vitwidgets.core.indexing`. Memory of ``attn``: ``L' * B * H * N^2``
                elements.
            attn_dtype: storage dtype of attention (``torch.float16`` halves memory; values are
                computed in the model's dtype first).
            size: input size policy, see :meth:`preprocess`.
            pixels: an already preprocessed input ``[B, 3, H, W]`` (skips preprocessing).

        Returns:
            A :class:`~vitwidgets.core.trace.Trace`; tensors live on the model's device.
        """
        pixels = self._input(images, size, pixels)
        layer_list = block_indices(layers, self.num_layers, owner=self.name)
        if latents:
            self._require_pre_norm()
        request = CaptureRequest(
            attention=attention, tokens=tokens, latents=latents, layers=layer_list,
            attn_dtype=attn_dtype,
        )
        capture = AttentionCapture(self.model.blocks, request)
        with self._forward_lock, torch.no_grad(), capture as cap:
            output = self.model(pixels)
        return Trace(
            pixels=pixels,
            grid=self.grid_for(*pixels.shape[-2:]),
            num_prefix=self.num_prefix,
            patch_size=self.patch_size,
            layers=layer_list if attention else (),
            prefix_names=self.prefix_names,
            mean=tuple(float(x) for x in self.data_config["mean"]),
            std=tuple(float(x) for x in self.data_config["std"]),
            attn=cap.attn if attention else None,
            tokens=cap.tokens if tokens else None,
            latents=cap.latents if latents else None,
            output=output,
            model_name=self.name,
            num_layers=self.num_layers,
        )

    def capture_qk(
        self, pixels: torch.Tensor, on_qk, *, stop_after: int | None = None
    ) -> None:
        """Run the model on ``pixels`` ``[B, 3, H, W]`` and hand every block's q and k to
        ``on_qk(layer, q, k)`` as they are computed (``[B, H, N, d]``: normed, RoPE applied,
        not scaled; multiply by :attr:`attention_scale` for the logits). Nothing else is kept;
        with ``stop_after`` the pass ends after that block. The attention of a block is
        ``softmax(q k^T * scale)``, exactly as :meth:`trace` recomputes it."""
        pixels = self._input(None, None, pixels)
        request = CaptureRequest(attention=True, tokens=False,
                                 layers=tuple(range(self.num_layers)), on_qk=on_qk,
                                 stop_after=stop_after)
        with self._forward_lock, torch.no_grad(), AttentionCapture(self.model.blocks, request):
            try:
                self.model(pixels)
            except StopForward:
                pass

    @property
    def attention_scale(self) -> float:
        """The factor of the attention logits, ``head_dim ** -0.5`` in timm."""
        return float(self.model.blocks[0].attn.scale)

    @property
    def head_dim(self) -> int:
        """Channels per head ``d``."""
        attn = self.model.blocks[0].attn
        return int(getattr(attn, "head_dim", self.embed_dim // self.num_heads))

    def _input(self, images: Any, size, pixels: torch.Tensor | None) -> torch.Tensor:
        """The model input ``[B, 3, H, W]`` on the device, checked against the patch grid."""
        if pixels is None:
            pixels = self.preprocess(images, size=size)
        elif pixels.ndim != 4 or pixels.shape[1] != 3:
            raise UserValueError(f"pixels must be [B, 3, H, W]; got {tuple(pixels.shape)}")
        self.grid_for(*pixels.shape[-2:])
        return pixels.to(self.device)

    def _require_pre_norm(self) -> None:
        if not all(isinstance(b, pre_norm_block_types()) for b in self.model.blocks):
            raise UserValueError(
                "latents=True needs pre-norm blocks (x + attn(norm1(x)), x + mlp(norm2(x))); "
                f"{type(self.model.blocks[0]).__name__} is not one"
            )


# -- helpers ------------------------------------------------------------------------------------
def _architecture_name(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return str(cfg.get("architecture") or type(model).__name__)


def _prefix_names(model: nn.Module) -> tuple[str, ...]:
    names: list[str] = []
    if getattr(model, "cls_token", None) is not None:
        names.append("cls")
    if getattr(model, "dist_token", None) is not None:
        names.append("dist")
    names += [f"reg{i}" for i in range(int(getattr(model, "num_reg_tokens", 0) or 0))]
    return tuple(names)


def _data_config(model: nn.Module) -> dict:
    """timm's data config for ``model``, with ``input_size`` set to the size the module was
    built for (a pretrained config may name another, e.g. DINOv2's 518 px for a 224 px model)."""
    import timm.data

    cfg = dict(timm.data.resolve_model_data_config(model))
    img_size = getattr(model.patch_embed, "img_size", None)
    if img_size is not None:
        cfg["input_size"] = (3, int(img_size[0]), int(img_size[1]))
    return cfg
