"""Training recipes of the mini zoo: one training task per supervision family, with its loss,
its options and their defaults.

- :class:`Supervised`: cross-entropy on the main object's shape (label smoothing 0.1).
- :class:`DINO`: self-distillation with a momentum teacher (Caron et al. 2021): multi-crop views
  (:func:`vitwidgets.zoo.augment.multi_crop`), optionally of restyled scenes; projection head
  (:class:`DINOHead`) with weight-normalised prototypes; teacher centring (DINO's running mean,
  or :func:`sinkhorn_knopp` as in DINOv2, Oquab et al. 2023) and sharpening; cosine momentum
  schedule; optional KoLeo regulariser (:func:`koleo_loss`, Sablayrolles et al. 2019, as in
  DINOv2).
- :class:`MAE`: masked autoencoding (He et al. 2022).

:func:`build` makes a method's task; :data:`DEFAULTS`, :data:`PLAIN_DINO` and
:data:`DINO_OPTIONS` are the options the training CLI exposes, :func:`lr_at` its learning-rate
schedule.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from vitwidgets.zoo import ARCH, ZOO_NAMES, create_vit
from vitwidgets.zoo.augment import multi_crop, random_resized_crop, restyled_scenes, restyled_share

#: each method's training hyper-parameters, and for DINO the bundled ``zoo:dino`` recipe
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

#: command-line options of the DINO recipe (keyword arguments of :class:`DINO`)
DINO_OPTIONS: tuple[str, ...] = ("out_dim", "momentum", "hue_jitter", "restyle", "teacher_temp",
                                 "bn_head", "freeze_last", "restyle_warmup", "koleo",
                                 "koleo_on", "centring", "local_style")

#: training options of each method that change the recipe, recorded with the weights
RECIPE_OPTIONS: dict[str, tuple[str, ...]] = {"dino": (*DINO_OPTIONS, "keep")}


# ------------------------------------------------------------------------------------ losses
def sinkhorn_knopp(logits: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    """Sinkhorn-Knopp centring of teacher scores ``[B, K]`` (already divided by the teacher
    temperature; SwAV, Caron et al. 2020; DINOv2's teacher, Oquab et al. 2023): the returned
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
    """KoLeo regulariser (Sablayrolles et al. 2019; used by DINOv2, Oquab et al. 2023): minus the
    mean log distance of each L2-normalised feature ``[B, D]`` to its nearest neighbour in the
    batch. It spreads the features over the sphere, so they cannot all collapse to one point."""
    z = F.normalize(features.float(), dim=-1, eps=eps)
    sim = z @ z.T
    sim.fill_diagonal_(-2.0)
    nearest = sim.argmax(dim=1)
    return -torch.log((z - z[nearest]).norm(dim=-1) + eps).mean()


def cross_view_loss(targets: list[torch.Tensor], log_probs: list[torch.Tensor]) -> torch.Tensor:
    """DINO's loss: the cross-entropy of every student view's log-probabilities ``log_probs``
    with every teacher view's targets ``targets`` except the same view, averaged."""
    total, terms = 0.0, 0
    for ti, tp in enumerate(targets):
        for si, sp in enumerate(log_probs):
            if si == ti:
                continue
            total = total + (-(tp * sp).sum(-1)).mean()
            terms += 1
    return total / terms


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Learning rate at ``step``: linear warm-up over ``warmup`` steps, then cosine decay."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * t)) + 1e-6


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be {' or '.join(map(repr, choices))}, not {value!r}")


# ----------------------------------------------------------------------------------- methods
class Supervised(nn.Module):
    """Classification of the main object's shape: cross-entropy with label smoothing 0.1 on
    random resized crops and flips."""

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
    weight-normalised prototypes (DINO, Caron et al. 2021)."""

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
    """Self-distillation with a momentum teacher (Caron et al. 2021); the keyword arguments are
    the recipe's options (:data:`DINO_OPTIONS`, ``local_crops`` aside)."""

    def __init__(self, out_dim: int = 1024, local_crops: int = 4, restyle: float = 0.0,
                 momentum: float = 0.996, hue_jitter: bool = False,
                 teacher_temp: float = 0.07, bn_head: bool = False, freeze_last: int = 0,
                 restyle_warmup: int = 0, koleo: float = 0.0, centring: str = "mean",
                 local_style: str = "shared", koleo_on: str = "cls"):
        super().__init__()
        _check_choice("centring", centring, ("mean", "sinkhorn"))
        _check_choice("local_style", local_style, ("shared", "own"))
        _check_choice("koleo_on", koleo_on, ("cls", "bottleneck"))
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
        # with restyling, the second global view of a share of the images shows the scene in a
        # new style (colours, textures, background); see vitwidgets.zoo.augment.restyled_scenes
        share = restyled_share(self.restyle, self.restyle_warmup, step)
        scenes = restyled_scenes(x, share, restyle, gen, own_local_style=self.local_style == "own")
        glob, loc = multi_crop(scenes, gen, self.local_crops, self.hue_jitter)
        t_out, t_prob = self._teacher_targets(glob, step, total)
        s_glob = self.encoder(torch.cat(glob))
        s_emb = self.head.embed(s_glob)
        s_out = [self.head.last(s_emb), self.head(self.encoder(torch.cat(loc)))]
        s_logp = [F.log_softmax(o / 0.1, dim=-1) for o in s_out]
        s_chunks = [*s_logp[0].chunk(2), *s_logp[1].chunk(self.local_crops)]
        total_loss = cross_view_loss(t_prob, s_chunks)
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

    @torch.no_grad()
    def _teacher_targets(self, glob: list[torch.Tensor], step: int, total: int):
        """The teacher's scores of the global views and its centred, sharpened targets (one per
        view); the temperature warms up from 0.04 to its final value over 30% of the steps."""
        teacher_temp = 0.04 + (self.teacher_temp - 0.04) * min(1.0, step / (0.3 * total))
        t_out = self.teacher_head(self.teacher(torch.cat(glob)))
        if self.centring == "sinkhorn":
            t_prob = sinkhorn_knopp(t_out / teacher_temp).to(t_out).chunk(2)
        else:
            t_prob = F.softmax((t_out - self.centre) / teacher_temp, dim=-1).chunk(2)
        return t_out, t_prob

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
    """Masked autoencoding (He et al. 2022): 75% of patches masked, the encoder sees the visible
    ones, a 2-block decoder predicts the per-patch-normalised pixels of the masked ones."""

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
