"""Training data and views of the mini zoo: ShapeWorld rendered once into tensors, and the seeded,
batched augmentations the recipes draw their views with.

- :class:`ShapeWorldTensors`: the training images as one uint8 tensor, normalised batches and
  restyled re-renderings of the same scenes (:meth:`ShapeWorld.restyled`).
- :func:`random_resized_crop`, :func:`colour_jitter`: the crops and brightness/contrast jitter
  of every recipe.
- :func:`hue_saturation_jitter`: the hue, saturation and greyscale jitter of DINO (Caron et al.
  2021).
- :func:`restyled_share`, :func:`restyled_scenes`, :func:`multi_crop`: DINO's multi-crop views
  (2 global + local crops), optionally of restyled scenes.

Every random draw comes from an explicit ``torch.Generator``, so a run is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from vitwidgets.data import ShapeWorld
from vitwidgets.zoo import DATA_CONFIG


class ShapeWorldTensors:
    """ShapeWorld images rendered once into a uint8 tensor ``[n, 3, S, S]`` with labels ``[n]``,
    and normalised float batches drawn from them with a seeded generator."""

    def __init__(self, n: int, seed: int, split: str = "train", image_size: int = 64):
        self.dataset = ShapeWorld(n, seed=seed, split=split, image_size=image_size)
        self.images = torch.from_numpy(self.dataset.images()).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(self.dataset.labels)
        self.mean = torch.tensor(DATA_CONFIG["mean"]).view(1, 3, 1, 1)
        self.std = torch.tensor(DATA_CONFIG["std"]).view(1, 3, 1, 1)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, 3, S, S]`` -> normalised float."""
        return (images.float() / 255.0 - self.mean) / self.std

    def batch(
        self, batch_size: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(images [B, 3, S, S] normalised, labels [B], dataset indices [B])``."""
        idx = torch.randint(len(self.labels), (batch_size,), generator=gen)
        return self.normalise(self.images[idx]), self.labels[idx], idx

    def restyled(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The scenes ``idx`` re-rendered in random new styles (:meth:`ShapeWorld.restyled`),
        normalised ``[B, 3, S, S]``."""
        styles = torch.randint(2**31 - 1, (len(idx),), generator=gen)
        imgs = self.dataset.restyled(idx.numpy(), styles.numpy())
        return self.normalise(torch.from_numpy(imgs).permute(0, 3, 1, 2))


def random_resized_crop(
    x: torch.Tensor, size: int, scale: tuple[float, float], gen: torch.Generator,
    flip: bool = True,
) -> torch.Tensor:
    """Batched random resized crop (aspect ratio 3/4..4/3) and horizontal flip of ``[B, C, H, W]``
    with one affine resampling (bilinear), each image its own crop."""
    b = x.shape[0]
    area = torch.empty(b).uniform_(*scale, generator=gen)
    log_r = torch.empty(b).uniform_(math.log(3 / 4), math.log(4 / 3), generator=gen)
    ratio = torch.exp(log_r)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (torch.rand(b, generator=gen) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, generator=gen) * 2 - 1) * (1 - h)
    sx = w.clone()
    if flip:
        sx = torch.where(torch.rand(b, generator=gen) < 0.5, -sx, sx)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sx, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    grid = F.affine_grid(theta.to(x), [b, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def colour_jitter(x: torch.Tensor, gen: torch.Generator, strength: float = 0.3) -> torch.Tensor:
    """Random brightness and contrast per image (normalised space; hue is left alone, because
    colour is one of ShapeWorld's concepts)."""
    b = x.shape[0]
    bright = torch.empty(b, 1, 1, 1).uniform_(-strength, strength, generator=gen)
    contrast = torch.empty(b, 1, 1, 1).uniform_(1 - strength, 1 + strength, generator=gen)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + bright).to(x)


def hue_saturation_jitter(
    x: torch.Tensor, gen: torch.Generator, hue: float = 0.1, saturation: float = 0.2,
    grey_p: float = 0.2,
) -> torch.Tensor:
    """DINO's colour augmentation beyond brightness/contrast, per image: a hue rotation by up to
    ``hue`` turns (a rotation of RGB about the grey axis), saturation scaled by
    ``1 +- saturation``, and greyscale with probability ``grey_p``. The normalisation is the same
    for every channel, so these act on normalised images exactly as on pixels about mid-grey."""
    b = x.shape[0]
    theta = (torch.rand(b, generator=gen) * 2 - 1) * hue * 2 * math.pi
    u = torch.full((3,), 3 ** -0.5)
    ux = torch.tensor([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])
    c, s_ = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    rot = c * torch.eye(3) + s_ * ux + (1 - c) * torch.outer(u, u)  # [B, 3, 3]
    x = torch.einsum("bij,bjhw->bihw", rot.to(x), x)
    grey = x.mean(1, keepdim=True)
    sat = 1 + (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * saturation
    sat = torch.where(torch.rand(b, 1, 1, 1, generator=gen) < grey_p, torch.zeros_like(sat), sat)
    return grey + sat.to(x) * (x - grey)


def restyled_share(restyle: float, warmup: int, step: int) -> float:
    """The share of images shown restyled at ``step``: ``restyle``, reached linearly from 0 over
    the first ``warmup`` steps (at once when ``warmup`` is 0)."""
    return restyle * min(1.0, step / warmup) if warmup else restyle


def restyled_scenes(
    x: torch.Tensor, share: float, restyle: Callable[[], torch.Tensor] | None,
    gen: torch.Generator, own_local_style: bool = False,
) -> list[torch.Tensor]:
    """The scenes DINO's views are cropped from: ``[x, x]``, where for a share ``share`` of the
    images the second shows the scene re-rendered in a new style (``restyle()``, called once per
    rendering); with ``own_local_style`` a third scene, in a style of its own, for the local
    crops, so that no teacher view shares its style with any student view."""
    scenes = [x, x]
    if share > 0:
        which = (torch.rand(len(x), generator=gen) < share).to(x.device)

        def rendering() -> torch.Tensor:
            return torch.where(which[:, None, None, None], restyle().to(x), x)

        scenes[1] = rendering()
        if own_local_style:
            scenes.append(rendering())
    return scenes


def multi_crop(
    scenes: list[torch.Tensor], gen: torch.Generator, local_crops: int = 4,
    hue_jitter: bool = False,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """DINO's multi-crop views (Caron et al. 2021): 2 global 64 px crops (scale 0.4-1) of
    ``scenes[0]`` and ``scenes[1]``, and ``local_crops`` local 32 px crops (scale 0.1-0.4) of the
    third scene when there is one, else alternating between the two; every view with
    brightness/contrast jitter, and with ``hue_jitter`` hue, saturation and greyscale jitter."""

    def view(src: torch.Tensor, size: int, scale: tuple[float, float]) -> torch.Tensor:
        v = colour_jitter(random_resized_crop(src, size, scale, gen), gen)
        return hue_saturation_jitter(v, gen) if hue_jitter else v

    glob = [view(scenes[i], 64, (0.4, 1.0)) for i in range(2)]
    loc = [view(scenes[2] if len(scenes) == 3 else scenes[i % 2], 32, (0.1, 0.4))
           for i in range(local_crops)]
    return glob, loc
