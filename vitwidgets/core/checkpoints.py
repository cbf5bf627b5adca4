"""Local checkpoints: read a state dict (safetensors, or a torch pickle of tensors only) and
load it into a timm module, resampling the position embedding through timm's own filter."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .errors import UserValueError

__all__ = ["load_state_dict", "apply_checkpoint"]


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, on the CPU. ``.safetensors`` via safetensors; the
    torch formats with ``weights_only=True`` (code is never unpickled), unwrapping a
    ``state_dict``/``model``/``module`` entry and a ``module.`` prefix (DataParallel)."""
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    if suffix in (".pth", ".pt", ".bin", ".ckpt"):
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:  # weights_only refuses pickled code
            raise UserValueError(
                f"could not load {path.name} with weights_only=True (vitwidgets never unpickles "
                f"code): {e}. Convert it to .safetensors or a plain state dict"
            ) from e
        for key in ("state_dict", "model", "module"):
            if isinstance(obj, dict) and isinstance(obj.get(key), dict):
                obj = obj[key]
        if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise UserValueError(f"{path.name} does not hold a state dict of tensors")
        return {k.removeprefix("module."): v for k, v in obj.items()}
    raise UserValueError(
        f"unsupported checkpoint format {suffix!r} for {path.name}: expected .safetensors, "
        ".pth, .pt, .bin or .ckpt (tensors only)"
    )


def apply_checkpoint(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` strictly; resample the position embedding through timm's own checkpoint
    filter when the grid differs."""
    own = model.state_dict()
    pos = state.get("pos_embed")
    if pos is not None and "pos_embed" in own and pos.shape != own["pos_embed"].shape:
        module = importlib.import_module(type(model).__module__)
        filt = getattr(module, "checkpoint_filter_fn", None)
        if filt is None:
            raise UserValueError(
                f"{path.name}: pos_embed {tuple(pos.shape)} does not match the model's "
                f"{tuple(own['pos_embed'].shape)}; pass img_size= matching the checkpoint"
            )
        state = filt(state, model)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UserValueError(
            f"{path.name} does not fit this architecture: missing keys "
            f"{result.missing_keys[:8]}{'...' if len(result.missing_keys) > 8 else ''}, "
            f"unexpected keys {result.unexpected_keys[:8]}"
            f"{'...' if len(result.unexpected_keys) > 8 else ''}"
        )
