"""Image input: turn what users hold (PIL images, paths, numpy arrays, torch tensors, lists) into
the model's input tensor, following the model's own timm data config.

Every input becomes a float RGB tensor ``[3, H, W]`` in ``[0, 1]`` first (one path for every
kind of input, so float inputs are never quantised), then it is resized and cropped as timm's
eval transform does (``crop_pct``, ``crop_mode``) and normalised with the model's mean/std.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import UserFileNotFoundError, UserTypeError, UserValueError

_EXPECTED = (
    "expected a PIL image, a file path, a numpy array HxW, HxWxC or BxHxWxC (C in 1, 3, 4; "
    "uint8, uint16 or float in [0, 1]), a torch tensor CxHxW or BxCxHxW (uint8 or float in "
    "[0, 1]), or a list of these"
)


def _composite_alpha(rgba: torch.Tensor) -> torch.Tensor:
    """``[4, H, W]`` in [0, 1] -> ``[3, H, W]`` composited over a white background."""
    rgb, alpha = rgba[:3], rgba[3:4]
    return rgb * alpha + (1.0 - alpha)


def _channels_to_rgb(chw: torch.Tensor, what: str) -> torch.Tensor:
    c = chw.shape[0]
    if c == 1:
        return chw.expand(3, -1, -1).clone()
    if c == 2:  # grey + alpha
        return _composite_alpha(torch.cat([chw[:1].expand(3, -1, -1), chw[1:]], 0))
    if c == 3:
        return chw
    if c == 4:
        return _composite_alpha(chw)
    raise UserValueError(f"{what} has {c} channels; {_EXPECTED}")


def _scale_to_unit(arr: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    """Integer or float pixel values -> float32 tensor in [0, 1]."""
    if isinstance(arr, np.ndarray):
        if arr.dtype == np.uint16:
            arr = arr.astype(np.int32)
        t = torch.from_numpy(np.array(arr, copy=True))  # a copy: numpy input may be read-only
    else:
        t = arr
    if t.dtype == torch.bool:
        return t.float()
    if t.dtype == torch.uint8:
        return t.float() / 255.0
    if t.dtype in (torch.uint16, torch.int16, torch.int32, torch.int64):
        t = t.float()
        if t.numel() and (t.min() < 0 or t.max() > 65535):
            raise UserValueError(
                f"{what}: integer pixel values must lie in [0, 65535]; {_EXPECTED}"
            )
        return t / 65535.0
    if t.is_floating_point():
        t = t.float()
        if t.numel() and not torch.isfinite(t).all():
            raise UserValueError(f"{what} contains NaN or infinite values")
        lo, hi = (float(t.min()), float(t.max())) if t.numel() else (0.0, 0.0)
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise UserValueError(
                f"{what}: float pixel values must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]. "
                "Divide uint8-range data by 255; pass raw images, not already-normalised ones"
            )
        return t.clamp(0, 1)
    raise UserTypeError(f"{what} has dtype {t.dtype}; {_EXPECTED}")


def _pil_to_tensor(img: Image.Image) -> torch.Tensor:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        if arr.dtype.byteorder not in ("=", "|"):
            arr = arr.astype(arr.dtype.newbyteorder("="))
        t = _scale_to_unit(arr.astype(np.int32), "16-bit image")
        return t.unsqueeze(0).expand(3, -1, -1).clone()
    if mode == "F":
        return _scale_to_unit(np.asarray(img, dtype=np.float32), "float image").unsqueeze(0).expand(
            3, -1, -1
        ).clone()
    if mode == "P":
        img = img.convert("RGBA")
    elif mode in ("1", "L"):
        img = img.convert("L")
    elif mode == "LA":
        pass
    elif mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in mode else "RGB")
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    t = _scale_to_unit(arr, f"PIL image (mode {mode})").permute(2, 0, 1)
    return _channels_to_rgb(t, f"PIL image (mode {mode})")


def _numpy_to_tensor(arr: np.ndarray, what: str) -> torch.Tensor:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise UserValueError(f"{what} has shape {arr.shape}; {_EXPECTED}")
    if arr.shape[2] not in (1, 2, 3, 4):
        hint = " (it looks channels-first: numpy images are HxWxC)" if arr.shape[0] <= 4 else ""
        raise UserValueError(f"{what} has shape {arr.shape}{hint}; {_EXPECTED}")
    t = _scale_to_unit(arr, what).permute(2, 0, 1)
    return _channels_to_rgb(t, what)


def _tensor_to_tensors(t: torch.Tensor, what: str) -> list[torch.Tensor]:
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim == 3:
        if t.shape[0] not in (1, 2, 3, 4):
            hint = " (it looks channels-last: torch images are CxHxW)" if t.shape[-1] <= 4 else ""
            raise UserValueError(f"{what} has shape {tuple(t.shape)}{hint}; {_EXPECTED}")
        return [_channels_to_rgb(_scale_to_unit(t.detach().cpu(), what), what)]
    if t.ndim == 4:
        return [im for i in range(t.shape[0]) for im in _tensor_to_tensors(t[i], f"{what}[{i}]")]
    raise UserValueError(f"{what} has shape {tuple(t.shape)}; {_EXPECTED}")


def to_rgb_tensors(images: Any) -> list[torch.Tensor]:
    """Convert images to a list of float RGB tensors ``[3, H, W]`` in ``[0, 1]`` on the CPU.

    Accepts a PIL image (any mode: grayscale, RGBA and palette images are converted, alpha is
    composited over white, 16-bit images are scaled by 1/65535), a path, a numpy array ``HxW``,
    ``HxWxC`` or a batch ``BxHxWxC``, a torch tensor ``CxHxW`` or ``BxCxHxW``, or a list/tuple
    of these.

    Raises:
        TypeError: for objects that are not images.
        ValueError: for arrays of the wrong shape or value range (the message says what is
            expected), and for an empty list.
        FileNotFoundError: for a path that does not exist.
    """
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise UserValueError(f"got an empty list of images; {_EXPECTED}")
        out: list[torch.Tensor] = []
        for i, im in enumerate(images):
            if isinstance(im, (list, tuple)):
                raise UserTypeError(f"images[{i}] is a nested {type(im).__name__}; {_EXPECTED}")
            out.extend(_one_to_tensors(im, f"images[{i}]"))
        return out
    return _one_to_tensors(images, "image")


def _one_to_tensors(im: Any, what: str) -> list[torch.Tensor]:
    if isinstance(im, Image.Image):
        return [_pil_to_tensor(im)]
    if isinstance(im, (str, os.PathLike)):
        path = Path(im).expanduser()
        if not path.is_file():
            raise UserFileNotFoundError(f"{what}: no image file at {str(path)!r}")
        with Image.open(path) as pil:
            pil.load()
            return [_pil_to_tensor(pil)]
    if isinstance(im, np.ndarray):
        if im.ndim == 4:  # a batch of HxWxC images
            return [_numpy_to_tensor(a, f"{what}[{i}]") for i, a in enumerate(im)]
        return [_numpy_to_tensor(im, what)]
    if isinstance(im, torch.Tensor):
        return _tensor_to_tensors(im, what)
    raise UserTypeError(f"{what} is a {type(im).__name__}; {_EXPECTED}")


def _resize(img: torch.Tensor, size: tuple[int, int], interpolation: str) -> torch.Tensor:
    """``[3, H, W]`` -> ``[3, *size]`` with antialiasing (as PIL does when shrinking)."""
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    mode = interpolation if interpolation in ("bilinear", "bicubic", "nearest") else "bicubic"
    kwargs: dict[str, Any] = {"mode": mode}
    if mode != "nearest":
        kwargs.update(antialias=True, align_corners=False)
    out = F.interpolate(img.unsqueeze(0), size=size, **kwargs)[0]
    return out.clamp(0, 1)


def _center_crop(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = img.shape[-2:]
    th, tw = size
    top = int(round((h - th) / 2.0))
    left = int(round((w - tw) / 2.0))
    return img[:, top : top + th, left : left + tw]


def resize_and_crop(
    img: torch.Tensor,
    size: tuple[int, int],
    crop_pct: float = 1.0,
    crop_mode: str = "center",
    interpolation: str = "bicubic",
) -> torch.Tensor:
    """timm's eval geometry: scale to ``floor(size / crop_pct)`` (covering it, aspect kept), then
    centre-crop to ``size``; ``crop_mode="squash"`` resizes both sides without keeping aspect.

    ``img``: ``[3, H, W]`` in [0, 1]; returns ``[3, size[0], size[1]]``.
    """
    th, tw = size
    scale_h, scale_w = math.floor(th / crop_pct), math.floor(tw / crop_pct)
    if crop_mode == "squash":
        return _center_crop(_resize(img, (scale_h, scale_w), interpolation), size)
    h, w = img.shape[-2:]
    ratio = min(h / scale_h, w / scale_w)  # smaller ratio: the resized image covers the target
    new = (max(th, round(h / ratio)), max(tw, round(w / ratio)))
    return _center_crop(_resize(img, new, interpolation), size)


def crop_to_patch_multiple(img: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Centre-crop ``[3, H, W]`` to the largest multiple of ``patch_size`` on each side."""
    h, w = img.shape[-2:]
    th, tw = (h // patch_size) * patch_size, (w // patch_size) * patch_size
    if th == 0 or tw == 0:
        raise UserValueError(f"image of {h}x{w} px is smaller than one {patch_size}px patch")
    return _center_crop(img, (th, tw))


def _per_channel(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(3, 1, 1)


def normalise(img: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(img - mean) / std`` per channel; ``img``: ``[..., 3, H, W]`` in [0, 1]."""
    return (img - _per_channel(mean, img)) / _per_channel(std, img)


def denormalise_uint8(
    pixels: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """Undo :func:`normalise` for display: model input ``[B, 3, H, W]`` -> RGB
    ``[B, H, W, 3]`` uint8 on the CPU (values clamped to [0, 1] first)."""
    x = pixels.detach().float().cpu()
    rgb = x * _per_channel(std, x) + _per_channel(mean, x)
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
