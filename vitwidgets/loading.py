"""``load_model``: one entry point for every way a user holds a ViT.

A timm model name (pretrained weights from the hub when reachable), a timm name with a local
checkpoint, ``"zoo:<key>"`` for a bundled tiny model, a timm module, or a
:class:`~vitwidgets.core.model.ViTModel`. It sits above the analysis core and the zoo and
dispatches to them (as lonboard's ``viz()`` sits above its layers); neither imports it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vitwidgets.core.checkpoints import apply_checkpoint, load_state_dict
from vitwidgets.core.errors import UserError, UserFileNotFoundError, UserTypeError, UserValueError
from vitwidgets.core.model import ViTModel, check_supported

__all__ = ["load_model", "WeightsUnavailableError", "ZOO_PREFIX"]

ZOO_PREFIX = "zoo:"


class WeightsUnavailableError(UserError, RuntimeError):
    """Pretrained weights could not be fetched (no network or no model hub). The error of the
    hub client that failed is kept as ``__context__`` (not shown: its chain says nothing the
    message does not)."""


def load_model(
    model: str | nn.Module | ViTModel,
    *,
    checkpoint: str | os.PathLike | None = None,
    pretrained: bool | None = None,
    device: torch.device | str | None = None,
    **timm_kwargs: Any,
) -> ViTModel:
    """Load a Vision Transformer for tracing.

    Args:
        model: a timm model name (``"vit_small_patch16_224.dino"``), ``"zoo:<key>"`` for a bundled
            tiny model (offline: ``zoo:supervised``, ``zoo:dino``, ``zoo:mae``), a timm ViT module,
            or a :class:`ViTModel`.
        checkpoint: a local ``.safetensors`` or ``.pth``/``.pt`` state dict (loaded with
            ``weights_only=True``; code is never unpickled) for the named architecture. The
            classifier size is read from the checkpoint (none when it has no ``head.weight``).
        pretrained: fetch timm's pretrained weights (default ``True`` for a name without a
            checkpoint). ``False`` gives random weights.
        device: defaults to CUDA when available, else the CPU.
        **timm_kwargs: passed to ``timm.create_model`` (e.g. ``img_size=224``,
            ``dynamic_img_size=True``).

    Raises:
        ValueError: unknown name, unusable checkpoint, bad arguments.
        UnsupportedModelError: a model that is not a supported ViT (e.g. a ResNet).
        WeightsUnavailableError: pretrained weights cannot be fetched (offline).
    """
    if isinstance(model, ViTModel):
        if device is not None and torch.device(device) != model.device:
            return ViTModel(model.model, model.name, device, model.metadata)
        return model
    if isinstance(model, nn.Module):
        if checkpoint is not None or timm_kwargs:
            raise UserValueError(
                "vw.load_model(module): checkpoint= and timm options apply to model names, "
                "not to a module you made (load the weights into it, or pass its timm name)"
            )
        return ViTModel(model, device=device)
    if not isinstance(model, str):
        raise UserTypeError(
            f"model must be a timm model name, 'zoo:<key>', a timm ViT module or a ViTModel; "
            f"got {type(model).__name__}"
        )
    if model.startswith(ZOO_PREFIX):
        return _load_zoo(model, checkpoint, pretrained, device, timm_kwargs)
    _check_timm_name(model)
    if checkpoint is not None:
        if pretrained:
            raise UserValueError("pass either checkpoint= or pretrained=True, not both")
        module, metadata = _from_checkpoint(model, Path(checkpoint).expanduser(), timm_kwargs)
    else:
        pretrained = True if pretrained is None else bool(pretrained)
        module = _create_timm(model, pretrained, timm_kwargs)
        metadata = {"pretrained": pretrained}
    return ViTModel(module, name=model, device=device, metadata=metadata)


def _load_zoo(name: str, checkpoint, pretrained, device, timm_kwargs: dict) -> ViTModel:
    if checkpoint is not None or timm_kwargs or pretrained is False:
        raise UserValueError(
            f"vw.load_model({name!r}): zoo models take no checkpoint, pretrained or timm options"
        )
    from vitwidgets.zoo import load_zoo_model

    module, meta = load_zoo_model(name[len(ZOO_PREFIX) :])
    return ViTModel(module, name=name, device=device, metadata=meta)


def _from_checkpoint(name: str, path: Path, timm_kwargs: dict) -> tuple[nn.Module, dict]:

    if not path.is_file():
        raise UserFileNotFoundError(f"no checkpoint file at {str(path)!r}")
    state = load_state_dict(path)
    if "num_classes" not in timm_kwargs:
        head = state.get("head.weight")
        timm_kwargs = {**timm_kwargs, "num_classes": int(head.shape[0]) if head is not None else 0}
    module = _timm_create(name, False, timm_kwargs)
    check_supported(module)
    apply_checkpoint(module, state, path)
    return module, {"checkpoint": str(path)}


def _create_timm(name: str, pretrained: bool, timm_kwargs: dict) -> nn.Module:

    try:
        module = _timm_create(name, pretrained, timm_kwargs)
    except Exception as e:
        if pretrained and _looks_like_download_failure(e):
            raise WeightsUnavailableError(
                f"could not fetch pretrained weights for {name!r}: {_why_offline(e)}. "
                f"{_offline_alternatives(name)}"
            ) from None
        raise
    check_supported(module)
    return module


def _timm_create(name: str, pretrained: bool, timm_kwargs: dict) -> nn.Module:
    """``timm.create_model``; an option the model does not take raises a short TypeError."""
    import timm

    try:
        return timm.create_model(name, pretrained=pretrained, **timm_kwargs)
    except TypeError as e:
        if timm_kwargs and "unexpected keyword argument" in str(e):
            raise UserTypeError(
                f"vw.load_model({name!r}, ...): timm's {name} does not take an option passed "
                f"({e}); options given: {', '.join(sorted(timm_kwargs))}"
            ) from None
        raise


def _why_offline(e: BaseException) -> str:
    """Why the hub could not be reached, in a few words (from the chain of ``e``)."""
    chain, seen = [], set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    if any(type(c).__name__ == "OfflineModeIsEnabled" for c in chain):
        return "the model hub is switched off here (HF_HUB_OFFLINE=1)"
    last = chain[-1]
    return f"the model hub cannot be reached ({type(last).__name__})"


def _offline_alternatives(name: str = "name") -> str:
    return (
        "Offline alternatives: the bundled mini zoo (vw.load_model('zoo:supervised'), "
        f"'zoo:dino', 'zoo:mae'), a local checkpoint (vw.load_model({name!r}, "
        "checkpoint='weights.safetensors')), or random weights (pretrained=False)"
    )


def _check_timm_name(name: str) -> None:
    import timm
    from timm.models import split_model_name_tag

    arch, _tag = split_model_name_tag(name)
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserValueError(f"unknown timm model {name!r}{hint}")


def _looks_like_download_failure(e: BaseException) -> bool:
    """True for the errors huggingface_hub / torch.hub raise when weights cannot be fetched."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        mod = type(e).__module__ or ""
        if isinstance(e, (OSError, ConnectionError, TimeoutError)) or mod.startswith(
            ("huggingface_hub", "requests", "urllib3", "urllib")
        ):
            return True
        e = e.__cause__ or e.__context__
    return False
