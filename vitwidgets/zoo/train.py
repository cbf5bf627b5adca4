"""Training recipes of the mini zoo, on ShapeWorld, for the three supervision families:

    python -m vitwidgets.zoo.train --method supervised --out runs/supervised
    python -m vitwidgets.zoo.train --method dino --out runs/dino --resume
    python -m vitwidgets.zoo.train --method mae --out runs/mae --export   # -> zoo/weights/mae...

- ``supervised``: cross-entropy on the main object's shape (label smoothing 0.1).
- ``dino``: self-distillation with a momentum teacher (Caron et al. 2021): multi-crop (2 global
  64 px + 4 local 32 px crops, brightness/contrast jitter; ``--hue-jitter`` adds DINO's hue,
  saturation and greyscale jitter; ``--restyle P`` shows a share P of the images' second view
  re-rendered in a new style, :meth:`ShapeWorld.restyled`, a share that can grow over
  ``--restyle-warmup`` steps; ``--local-style own`` renders the local crops' scene in a third
  style), projection head (``--bn-head``: with batch norm) with a weight-normalised prototype
  layer (``--out-dim``; fixed for ``--freeze-last`` steps), teacher centring (DINO's running
  mean, or DINOv2's Sinkhorn-Knopp with ``--centring sinkhorn``) and sharpening, cosine momentum
  schedule from ``--momentum`` to 1, optional KoLeo regulariser on the CLS features
  (``--koleo``, as in DINOv2; ``--koleo-on bottleneck`` spreads the head's bottleneck
  instead); ``--keep teacher`` exports the teacher, as DINO evaluates it.
- ``mae``: masked autoencoding (He et al. 2022): 75% of patches masked, the encoder sees the
  visible ones, a 2-block decoder predicts the per-patch-normalised pixels of the masked ones.

Fixed seeds; a checkpoint (model, heads, optimiser, step, RNG) every ``--save-every`` steps and at
the end, resumable with ``--resume``; tqdm progress. The defaults train on two CPU cores in about
10-30 minutes; on a GPU (``--device cuda``) raise ``--steps`` and ``--batch-size``. The DINO
defaults are the bundled ``zoo:dino`` recipe (``--restyle 1.0 --local-style own --koleo 0.1
--koleo-on bottleneck --teacher-temp 0.04 --freeze-last 300 --keep teacher``, batch 64) at 1800
steps (26 min on two CPU cores; it learns the shape class weakly, the bundled 4000-step run
better: ``MODEL_CARD.md`` has its command and why the views are restyled). DINO's plain recipe,
which on ShapeWorld learns colour and not shape, is ``--restyle 0 --koleo 0 --teacher-temp 0.07
--freeze-last 0 --keep student`` (:data:`PLAIN_DINO`).
``--export`` evaluates the trained encoder (:mod:`vitwidgets.zoo.evaluate`) and writes the
float16 weights with their training record into the package.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn
from tqdm.auto import tqdm

from vitwidgets.data import ShapeWorld
from vitwidgets.zoo import ARCH, DATA_CONFIG, ZOO_NAMES, create_vit

DEFAULTS: dict[str, dict[str, Any]] = {
    "supervised": dict(steps=1500, batch_size=128, lr=1e-3, weight_decay=0.05),
    "dino": dict(steps=1800, batch_size=64, lr=5e-4, weight_decay=0.04, restyle=1.0,
                 local_style="own", koleo=0.1, koleo_on="bottleneck", teacher_temp=0.04,
                 freeze_last=300, keep="teacher"),
    "mae": dict(steps=2500, batch_size=128, lr=1.5e-3, weight_decay=0.05),
}

#: the DINO options' values when neither the method's defaults nor the command line set them:
#: DINO's plain recipe (what ``--method dino`` trains with ``--restyle 0 --koleo 0
#: --teacher-temp 0.07 --freeze-last 0 --keep student --local-style shared --koleo-on cls``)
PLAIN_DINO: dict[str, Any] = dict(restyle=0.0, local_style="shared", koleo=0.0, koleo_on="cls",
                                  teacher_temp=0.07, freeze_last=0, keep="student")


# ------------------------------------------------------------------------------------- data
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


def sinkhorn_knopp(logits: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    """Sinkhorn-Knopp centring of teacher scores ``[B, K]`` (already divided by the teacher
    temperature; SwAV, Caron et al. 2020; DINOv2's teacher, Oquab et al. 2024): the returned
    ``[B, K]`` rows are probabilities whose column sums are as equal as ``iterations``
    alternating normalisations make them, so every prototype is used by the batch equally
    often and the targets can neither all be the same prototype nor uniform."""
    q = torch.exp(logits.float() - logits.max()).T  # [K, B]
    q = q / q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q = q / q.sum(dim=1, keepdim=True) / k  # every prototype gets mass 1/K
        q = q / q.sum(dim=0, keepdim=True) / b  # every sample gets mass 1/B
    return (q * b).T


def koleo_loss(features: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """KoLeo regulariser (Sablayrolles et al., ICLR 2019; used by DINOv2): minus the mean log
    distance of each L2-normalised feature ``[B, D]`` to its nearest neighbour in the batch. It
    spreads the features over the sphere, so they cannot all collapse to one point."""
    z = F.normalize(features.float(), dim=-1, eps=eps)
    sim = z @ z.T
    sim.fill_diagonal_(-2.0)
    nearest = sim.argmax(dim=1)
    return -torch.log((z - z[nearest]).norm(dim=-1) + eps).mean()


# ---------------------------------------------------------------------------------- methods
class Supervised(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.encoder = create_vit(num_classes=num_classes)

    def loss(self, x, y, gen, step, total, restyle=None):
        x = random_resized_crop(x, 64, (0.5, 1.0), gen)
        logits = self.encoder(x)
        return F.cross_entropy(logits, y.to(x.device), label_smoothing=0.1), {
            "acc": (logits.argmax(-1) == y.to(x.device)).float().mean().item()
        }


class DINOHead(nn.Module):
    """Projection MLP (optionally with batch norm, DINO's ``use_bn_in_head``) + L2 normalisation +
    weight-normalised prototypes (DINO)."""

    def __init__(self, dim: int, out_dim: int = 1024, hidden: int = 256, bottleneck: int = 64,
                 batch_norm: bool = False):
        super().__init__()
        norm = (lambda: nn.BatchNorm1d(hidden)) if batch_norm else nn.Identity
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), norm(), nn.GELU(), nn.Linear(hidden, hidden), norm(),
            nn.GELU(), nn.Linear(hidden, bottleneck),
        )
        self.last = nn.utils.parametrizations.weight_norm(
            nn.Linear(bottleneck, out_dim, bias=False)
        )
        self.last.parametrizations.weight.original0.data.fill_(1.0)
        self.last.parametrizations.weight.original0.requires_grad = False

    def embed(self, x):
        """The L2-normalised bottleneck ``[B, bottleneck]`` the prototypes score."""
        return F.normalize(self.mlp(x), dim=-1)

    def forward(self, x):
        return self.last(self.embed(x))


class DINO(nn.Module):
    def __init__(self, out_dim: int = 1024, local_crops: int = 4, restyle: float = 0.0,
                 momentum: float = 0.996, hue_jitter: bool = False,
                 teacher_temp: float = 0.07, bn_head: bool = False, freeze_last: int = 0,
                 restyle_warmup: int = 0, koleo: float = 0.0, centring: str = "mean",
                 local_style: str = "shared", koleo_on: str = "cls"):
        super().__init__()
        if centring not in ("mean", "sinkhorn"):
            raise ValueError(f"centring must be 'mean' or 'sinkhorn', not {centring!r}")
        if local_style not in ("shared", "own"):
            raise ValueError(f"local_style must be 'shared' or 'own', not {local_style!r}")
        if koleo_on not in ("cls", "bottleneck"):
            raise ValueError(f"koleo_on must be 'cls' or 'bottleneck', not {koleo_on!r}")
        self.koleo_on = koleo_on
        self.centring = centring
        self.local_style = local_style
        self.teacher_temp = teacher_temp
        self.restyle_warmup = restyle_warmup
        self.koleo = koleo
        self.freeze_last = freeze_last
        self.hue_jitter = hue_jitter
        self.restyle = restyle
        self.momentum = momentum
        self.encoder = create_vit(num_classes=0)
        self.head = DINOHead(ARCH["embed_dim"], out_dim, batch_norm=bn_head)
        self.teacher = create_vit(num_classes=0)
        self.teacher_head = DINOHead(ARCH["embed_dim"], out_dim, batch_norm=bn_head)
        self.teacher.load_state_dict(self.encoder.state_dict())
        self.teacher_head.load_state_dict(self.head.state_dict())
        for p in [*self.teacher.parameters(), *self.teacher_head.parameters()]:
            p.requires_grad = False
        self.register_buffer("centre", torch.zeros(1, out_dim))
        self.local_crops = local_crops

    def trainable(self):
        return [*self.encoder.parameters(), *self.head.parameters()]

    def loss(self, x, _y, gen, step, total, restyle=None):
        # with restyling, the second global view of a share ``restyle`` of the images shows the
        # scene in a new style (colours, textures, background), a share that grows linearly
        # from 0 over the first ``restyle_warmup`` steps; local crops alternate between the two
        # scenes, or (``local_style="own"``) come from a third rendering in a style of their own,
        # so that no teacher view shares its style with any student view
        share = self.restyle * min(1.0, step / self.restyle_warmup) if self.restyle_warmup \
            else self.restyle
        scenes = [x, x]
        if share > 0:
            which = (torch.rand(len(x), generator=gen) < share).to(x.device)
            scenes[1] = torch.where(which[:, None, None, None], restyle().to(x), x)
            if self.local_style == "own":
                scenes.append(torch.where(which[:, None, None, None], restyle().to(x), x))

        def view(src: torch.Tensor, size: int, scale: tuple[float, float]) -> torch.Tensor:
            v = colour_jitter(random_resized_crop(src, size, scale, gen), gen)
            return hue_saturation_jitter(v, gen) if self.hue_jitter else v

        glob = [view(scenes[i], 64, (0.4, 1.0)) for i in range(2)]
        loc = [view(scenes[2] if len(scenes) == 3 else scenes[i % 2], 32, (0.1, 0.4))
               for i in range(self.local_crops)]
        # teacher temperature: warm-up from 0.04 to its final value over 30% of the steps
        teacher_temp = 0.04 + (self.teacher_temp - 0.04) * min(1.0, step / (0.3 * total))
        with torch.no_grad():
            t_out = self.teacher_head(self.teacher(torch.cat(glob)))
            if self.centring == "sinkhorn":
                t_prob = sinkhorn_knopp(t_out / teacher_temp).to(t_out).chunk(2)
            else:
                t_prob = F.softmax((t_out - self.centre) / teacher_temp, dim=-1).chunk(2)
        s_glob = self.encoder(torch.cat(glob))
        s_emb = self.head.embed(s_glob)
        s_out = [self.head.last(s_emb), self.head(self.encoder(torch.cat(loc)))]
        s_logp = [F.log_softmax(o / 0.1, dim=-1) for o in s_out]
        s_chunks = [*s_logp[0].chunk(2), *s_logp[1].chunk(self.local_crops)]
        total_loss, terms = 0.0, 0
        for ti, tp in enumerate(t_prob):
            for si, sp in enumerate(s_chunks):
                if si == ti:
                    continue
                total_loss = total_loss + (-(tp * sp).sum(-1)).mean()
                terms += 1
        total_loss = total_loss / terms
        info = {}
        if self.koleo:
            spread = sum(koleo_loss(c) for c in
                         (s_glob if self.koleo_on == "cls" else s_emb).chunk(2)) / 2
            info["koleo"] = spread.item()
            total_loss = total_loss + self.koleo * spread
        with torch.no_grad():
            self.centre.mul_(0.9).add_(0.1 * t_out.mean(0, keepdim=True))
            entropy = -(t_prob[0] * t_prob[0].clamp_min(1e-12).log()).sum(-1).mean().item()
        return total_loss, {"teacher_entropy": entropy, **info}

    def after_backward(self, step, total):
        """DINO keeps the prototypes fixed for the first steps (``freeze_last``), which
        stabilises the start of training."""
        if step < self.freeze_last:
            for p in self.head.last.parameters():
                p.grad = None

    @torch.no_grad()
    def after_step(self, step, total):
        m = 1 - (1 - self.momentum) * (math.cos(math.pi * step / total) + 1) / 2
        for ps, pt in zip(self.trainable(), [*self.teacher.parameters(),
                                              *self.teacher_head.parameters()], strict=True):
            pt.mul_(m).add_(ps.detach(), alpha=1 - m)
        # batch-norm running statistics are buffers, not parameters: the teacher follows too
        for bs, bt in zip(self.head.buffers(), self.teacher_head.buffers(), strict=True):
            bt.copy_(bs)


class MAE(nn.Module):
    def __init__(self, mask_ratio: float = 0.75, dec_dim: int = 96, dec_depth: int = 2):
        super().__init__()
        self.encoder = create_vit(num_classes=0)
        d, p = ARCH["embed_dim"], ARCH["patch_size"]
        g = (ARCH["img_size"] // p) ** 2
        self.mask_ratio = mask_ratio
        self.dec_embed = nn.Linear(d, dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.dec_pos = nn.Parameter(torch.randn(1, 1 + g, dec_dim) * 0.02)
        self.dec_blocks = nn.Sequential(*[Block(dec_dim, 4, mlp_ratio=3.0) for _ in
                                          range(dec_depth)])
        self.dec_norm = nn.LayerNorm(dec_dim)
        self.dec_pred = nn.Linear(dec_dim, p * p * 3)
        nn.init.normal_(self.mask_token, std=0.02)

    def patchify(self, x):
        p = ARCH["patch_size"]
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p * c)

    def loss(self, x, _y, gen, step, total, restyle=None):
        x = random_resized_crop(x, 64, (0.6, 1.0), gen)
        enc = self.encoder
        tokens = enc._pos_embed(enc.patch_embed(x))  # [B, 1+G, D] (CLS first, pos added)
        cls, patches = tokens[:, :1], tokens[:, 1:]
        b, g, d = patches.shape
        keep = int(g * (1 - self.mask_ratio))
        order = torch.rand(b, g, generator=gen).argsort(1).to(x.device)
        restore = order.argsort(1)
        visible = torch.gather(patches, 1, order[:, :keep, None].expand(-1, -1, d))
        h = enc.norm(enc.blocks(enc.norm_pre(torch.cat([cls, visible], 1))))
        h = self.dec_embed(h)
        masked = self.mask_token.expand(b, g - keep, -1)
        full = torch.cat([h[:, 1:], masked], 1)
        full = torch.gather(full, 1, restore[:, :, None].expand(-1, -1, full.shape[-1]))
        full = torch.cat([h[:, :1], full], 1) + self.dec_pos
        pred = self.dec_pred(self.dec_norm(self.dec_blocks(full)))[:, 1:]
        target = self.patchify(x)
        mu, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        target = (target - mu) / (var + 1e-6).sqrt()
        mask = torch.ones(b, g, device=x.device)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, restore)
        err = ((pred - target) ** 2).mean(-1)
        return (err * mask).sum() / mask.sum(), {}


#: command-line options of the DINO recipe (keyword arguments of :class:`DINO`)
DINO_OPTIONS: tuple[str, ...] = ("out_dim", "momentum", "hue_jitter", "restyle", "teacher_temp",
                                 "bn_head", "freeze_last", "restyle_warmup", "koleo",
                                 "koleo_on", "centring", "local_style")


def build(method: str, num_classes: int, **dino_options: Any) -> nn.Module:
    """The training task of ``method``; ``dino_options`` (names in :data:`DINO_OPTIONS`) are
    passed to :class:`DINO` and must be left out for the other methods' defaults."""
    if method == "supervised":
        return Supervised(num_classes)
    if method == "dino":
        return DINO(**dino_options)
    if method == "mae":
        return MAE()
    raise ValueError(f"unknown method {method!r}; expected one of {ZOO_NAMES}")


# -------------------------------------------------------------------------------- training
def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * t)) + 1e-6


def train(args: argparse.Namespace) -> Path:
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"

    data = ShapeWorldTensors(args.train_size, seed=args.data_seed, image_size=64)
    num_classes = int(ShapeWorld.num_classes)
    dino_options = {k: getattr(args, k) for k in DINO_OPTIONS} if args.method == "dino" else {}
    task = build(args.method, num_classes, **dino_options).to(device)
    params = task.trainable() if hasattr(task, "trainable") else list(task.parameters())
    decay = [p for p in params if p.ndim > 1 and p.requires_grad]
    no_decay = [p for p in params if p.ndim <= 1 and p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    start, elapsed, history = 0, 0.0, []
    if args.resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        task.load_state_dict(ck["task"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        start, elapsed, history = int(ck["step"]), float(ck["elapsed"]), json.loads(ck["history"])
        print(f"resumed {args.method} at step {start}", file=sys.stderr)

    def save(step: int) -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"task": task.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "step": step, "elapsed": elapsed,
                    "history": json.dumps(history)}, tmp)
        tmp.replace(ckpt_path)

    warmup = max(1, int(0.05 * args.steps))
    task.train()
    bar = tqdm(range(start, args.steps), initial=start, total=args.steps, desc=args.method,
               mininterval=5, disable=args.quiet)
    for step in bar:
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, warmup)
        x, y, idx = data.batch(args.batch_size, gen)
        loss, info = task.loss(x.to(device), y, gen, step, args.steps,
                               restyle=lambda idx=idx: data.restyled(idx, gen))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if hasattr(task, "after_backward"):
            task.after_backward(step, args.steps)
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        if hasattr(task, "after_step"):
            task.after_step(step, args.steps)
        elapsed += time.perf_counter() - t0
        if step % 25 == 0 or step == args.steps - 1:
            history.append({"step": step, "loss": round(loss.item(), 5),
                            **{k: round(v, 5) for k, v in info.items()}})
            bar.set_postfix(loss=f"{loss.item():.4f}", **{k: f"{v:.3f}" for k, v in info.items()})
        if (step + 1) % args.save_every == 0:
            save(step + 1)
    save(args.steps)
    # DINO evaluates the teacher, the momentum average of the student (Caron et al. 2021, sec. 3.1)
    encoder = (task.teacher if args.method == "dino" and args.keep == "teacher"
               else task.encoder).eval()
    torch.save({"encoder": encoder.state_dict(), "num_classes": encoder.num_classes,
                "method": args.method, "args": vars(args), "history": history,
                "train_seconds": elapsed}, out / "encoder.pt")
    print(f"{args.method}: {args.steps} steps in {elapsed / 60:.1f} min of compute",
          file=sys.stderr)
    return out / "encoder.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m vitwidgets.zoo.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", required=True, choices=ZOO_NAMES)
    ap.add_argument("--out", default=None, help="run folder (default runs/<method>)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--train-size", type=int, default=20000, help="ShapeWorld training images")
    ap.add_argument("--data-seed", type=int, default=0, help="ShapeWorld dataset seed")
    ap.add_argument("--seed", type=int, default=0, help="initialisation / augmentation seed")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    ap.add_argument("--restyle", type=float, default=None,
                    help="dino: share of images whose second view is the scene re-rendered in a "
                         "new style (colours, textures, background; ShapeWorld.restyled), so "
                         "that views cannot always be matched by colour or texture")
    ap.add_argument("--out-dim", type=int, default=1024, help="dino: number of prototypes")
    ap.add_argument("--momentum", type=float, default=0.996,
                    help="dino: teacher momentum at the start (cosine schedule to 1)")
    ap.add_argument("--teacher-temp", type=float, default=None,
                    help="dino: final teacher temperature (warm-up from 0.04; lower = sharper)")
    ap.add_argument("--hue-jitter", action="store_true",
                    help="dino: DINO's hue/saturation jitter and 20%% greyscale on every view")
    ap.add_argument("--restyle-warmup", type=int, default=0,
                    help="dino: steps over which the restyled share grows from 0 to --restyle "
                         "(plain views first, then ever more restyled ones)")
    ap.add_argument("--koleo", type=float, default=None,
                    help="dino: weight of the KoLeo regulariser on the student's CLS features "
                         "(DINOv2 uses 0.1)")
    ap.add_argument("--koleo-on", choices=("cls", "bottleneck"), default=None,
                    help="dino: the features KoLeo spreads: the backbone's CLS token (DINOv2), or "
                         "the projection head's normalised bottleneck that the prototypes score, "
                         "so the head's output cannot become the same for every image")
    ap.add_argument("--bn-head", action="store_true",
                    help="dino: batch norm in the projection MLP (DINO's use_bn_in_head)")
    ap.add_argument("--freeze-last", type=int, default=None,
                    help="dino: steps during which the prototype layer stays fixed (DINO: the "
                         "first epoch)")
    ap.add_argument("--centring", choices=("mean", "sinkhorn"), default="mean",
                    help="dino: teacher centring: DINO's running mean, or DINOv2's Sinkhorn-Knopp "
                         "normalisation over the batch (every prototype used equally often)")
    ap.add_argument("--local-style", choices=("shared", "own"), default=None,
                    help="dino, with --restyle: local crops alternate between the two global "
                         "views' styles (shared), or come from a third rendering in a style of "
                         "their own (own), so no teacher view shares its style with a student view")
    ap.add_argument("--keep", choices=("student", "teacher"), default=None,
                    help="dino: the encoder written to encoder.pt (DINO evaluates the teacher)")
    ap.add_argument("--export", action="store_true",
                    help="evaluate and write the float16 weights into the package")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    for k, v in {**PLAIN_DINO, **DEFAULTS[args.method]}.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.out is None:
        args.out = f"runs/{args.method}"
    args.command = "python -m vitwidgets.zoo.train " + " ".join(
        sys.argv[1:] if argv is None else argv)
    args.host = f"{platform.processor() or platform.machine()}, torch {torch.__version__}"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    encoder_path = train(args)
    if args.export:
        from vitwidgets.zoo.evaluate import export

        export(encoder_path)


if __name__ == "__main__":
    main()
