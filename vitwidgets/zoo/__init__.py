"""The mini zoo: tiny timm ViTs trained by this project on ShapeWorld with the three supervision
families the seed studies compare, bundled as float16 safetensors (offline).

    vw.load_model("zoo:supervised")   # classification (supervised family)
    vw.load_model("zoo:dino")         # self-distillation with a momentum teacher (contrastive)
    vw.load_model("zoo:mae")          # masked autoencoding (masked-image modelling)

Every zoo model is a plain ``timm.models.vision_transformer.VisionTransformer`` (64x64 input,
patch 8 -> 8x8 grid, width 128, 6 blocks, 4 heads, one CLS token), so every toolkit feature works
on it unchanged. How each was trained and what it measures: ``MODEL_CARD.md`` beside this file,
and the ``metadata`` of the loaded model (the training record stored in the weights file).

This module is the zoo's public API (names, architecture, loading); its submodules, each
importing only those before it:

- :mod:`vitwidgets.zoo.augment`: ShapeWorld as training tensors, and the augmented views.
- :mod:`vitwidgets.zoo.recipes`: the training tasks (supervised, DINO, MAE), losses, options.
- :mod:`vitwidgets.zoo.card`: ``MODEL_CARD.md`` generated from the bundled training records.
- :mod:`vitwidgets.zoo.evaluate`: measurement and export into the package (CLI).
- :mod:`vitwidgets.zoo.train`: the training loop (CLI ``python -m vitwidgets.zoo.train``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from timm.models.vision_transformer import VisionTransformer

from vitwidgets.core.errors import UserFileNotFoundError, UserValueError

__all__ = [
    "ZOO_NAMES", "ARCH", "DATA_CONFIG", "METADATA_KEY", "create_vit", "load_zoo_model",
    "read_metadata", "weights_path",
]

ZOO_NAMES: tuple[str, ...] = ("supervised", "dino", "mae")

#: the architecture shared by the three zoo models (timm VisionTransformer keyword arguments)
ARCH: dict[str, Any] = dict(
    img_size=64,
    patch_size=8,
    embed_dim=128,
    depth=6,
    num_heads=4,
    mlp_ratio=3.0,
    class_token=True,
    global_pool="token",
    dynamic_img_size=True,
)

#: preprocessing of ShapeWorld images for the zoo models (timm data-config keys)
DATA_CONFIG: dict[str, Any] = dict(
    input_size=(3, 64, 64),
    mean=(0.5, 0.5, 0.5),
    std=(0.25, 0.25, 0.25),
    crop_pct=1.0,
    crop_mode="center",
    interpolation="bicubic",
)

#: the safetensors header key under which a zoo weights file stores its training record (JSON)
METADATA_KEY = "vitwidgets"


def create_vit(num_classes: int = 0, **overrides: Any) -> VisionTransformer:
    """A zoo-architecture ViT with random weights and the zoo's preprocessing config."""
    model = VisionTransformer(**{**ARCH, **overrides}, num_classes=num_classes)
    model.pretrained_cfg = {
        **DATA_CONFIG,
        "num_classes": num_classes,
        "architecture": "vitwidgets_zoo_vit",
    }
    return model


def weights_path(key: str) -> Path:
    """Path of the bundled weights of zoo model ``key``."""
    if key not in ZOO_NAMES:
        raise UserValueError(f"unknown zoo model {key!r}; the zoo holds {', '.join(ZOO_NAMES)}")
    return Path(str(resources.files("vitwidgets.zoo") / "weights" / f"{key}.safetensors"))


def read_metadata(path: Path) -> dict[str, Any]:
    """The training record stored in a zoo weights file's safetensors header."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if METADATA_KEY not in meta:
        raise ValueError(f"{path.name} holds no vitwidgets training record")
    return json.loads(meta[METADATA_KEY])


def load_zoo_model(key: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Zoo model ``key`` (one of :data:`ZOO_NAMES`) in eval mode, float32, with its metadata.

    Raises:
        ValueError: unknown key.
        FileNotFoundError: the weights are not bundled (a source checkout before training).
    """
    from safetensors.torch import load_file

    path = weights_path(key)
    if not path.is_file():
        raise UserFileNotFoundError(
            f"zoo model {key!r} is not bundled at {path}; train it with "
            f"`python -m vitwidgets.zoo.train --method {key} --export`"
        )
    meta = read_metadata(path)
    model = create_vit(num_classes=int(meta["num_classes"]))
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    model.load_state_dict(state)
    return model.eval(), meta
