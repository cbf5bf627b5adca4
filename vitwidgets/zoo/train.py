"""Training command line of the mini zoo: trains one of the recipes of
:mod:`vitwidgets.zoo.recipes` on ShapeWorld, for the three supervision families:

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
  mean, or DINOv2's Sinkhorn-Knopp with ``--centring sinkhorn``, Oquab et al. 2023) and
  sharpening, cosine momentum schedule from ``--momentum`` to 1, optional KoLeo regulariser on
  the CLS features (``--koleo``, Sablayrolles et al. 2019, as in DINOv2; ``--koleo-on
  bottleneck`` spreads the head's bottleneck instead); ``--keep teacher`` exports the teacher,
  as DINO evaluates it.
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
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from vitwidgets.data import ShapeWorld
from vitwidgets.zoo import ZOO_NAMES
from vitwidgets.zoo.augment import ShapeWorldTensors
from vitwidgets.zoo.recipes import DEFAULTS, DINO_OPTIONS, PLAIN_DINO, build, lr_at

#: the command-line options, in ``--help`` order: (flag, ``argparse`` keyword arguments). A
#: default of ``None`` is filled in from :data:`DEFAULTS` of the method, else :data:`PLAIN_DINO`.
OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--method", dict(required=True, choices=ZOO_NAMES)),
    ("--out", dict(default=None, help="run folder (default runs/<method>)")),
    ("--steps", dict(type=int, default=None)),
    ("--batch-size", dict(type=int, default=None)),
    ("--lr", dict(type=float, default=None)),
    ("--weight-decay", dict(type=float, default=None)),
    ("--train-size", dict(type=int, default=20000, help="ShapeWorld training images")),
    ("--data-seed", dict(type=int, default=0, help="ShapeWorld dataset seed")),
    ("--seed", dict(type=int, default=0, help="initialisation / augmentation seed")),
    ("--device", dict(default="cuda" if torch.cuda.is_available() else "cpu")),
    ("--threads", dict(type=int, default=0, help="torch CPU threads (0: default)")),
    ("--save-every", dict(type=int, default=250)),
    ("--resume", dict(action="store_true", help="continue from <out>/checkpoint.pt")),
    ("--restyle", dict(type=float, default=None, help=(
        "dino: share of images whose second view is the scene re-rendered in a new style "
        "(colours, textures, background; ShapeWorld.restyled), so that views cannot always be "
        "matched by colour or texture"))),
    ("--out-dim", dict(type=int, default=1024, help="dino: number of prototypes")),
    ("--momentum", dict(type=float, default=0.996,
                        help="dino: teacher momentum at the start (cosine schedule to 1)")),
    ("--teacher-temp", dict(type=float, default=None, help=(
        "dino: final teacher temperature (warm-up from 0.04; lower = sharper)"))),
    ("--hue-jitter", dict(action="store_true", help=(
        "dino: DINO's hue/saturation jitter and 20%% greyscale on every view"))),
    ("--restyle-warmup", dict(type=int, default=0, help=(
        "dino: steps over which the restyled share grows from 0 to --restyle (plain views "
        "first, then ever more restyled ones)"))),
    ("--koleo", dict(type=float, default=None, help=(
        "dino: weight of the KoLeo regulariser on the student's CLS features (DINOv2 uses "
        "0.1)"))),
    ("--koleo-on", dict(choices=("cls", "bottleneck"), default=None, help=(
        "dino: the features KoLeo spreads: the backbone's CLS token (DINOv2), or the projection "
        "head's normalised bottleneck that the prototypes score, so the head's output cannot "
        "become the same for every image"))),
    ("--bn-head", dict(action="store_true", help=(
        "dino: batch norm in the projection MLP (DINO's use_bn_in_head)"))),
    ("--freeze-last", dict(type=int, default=None, help=(
        "dino: steps during which the prototype layer stays fixed (DINO: the first epoch)"))),
    ("--centring", dict(choices=("mean", "sinkhorn"), default="mean", help=(
        "dino: teacher centring: DINO's running mean, or DINOv2's Sinkhorn-Knopp normalisation "
        "over the batch (every prototype used equally often)"))),
    ("--local-style", dict(choices=("shared", "own"), default=None, help=(
        "dino, with --restyle: local crops alternate between the two global views' styles "
        "(shared), or come from a third rendering in a style of their own (own), so no teacher "
        "view shares its style with a student view"))),
    ("--keep", dict(choices=("student", "teacher"), default=None, help=(
        "dino: the encoder written to encoder.pt (DINO evaluates the teacher)"))),
    ("--export", dict(action="store_true", help=(
        "evaluate and write the float16 weights into the package"))),
    ("--quiet", dict(action="store_true")),
)


@dataclass
class Run:
    """The state of a training run, what its checkpoint holds: the task (model and heads), its
    optimiser and trained parameters, the augmentation generator, the next step, the compute
    seconds so far and the logged history."""

    task: nn.Module
    opt: torch.optim.Optimizer
    params: list[nn.Parameter]
    gen: torch.Generator
    step: int = 0
    elapsed: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    def save(self, path: Path, step: int) -> None:
        """Write the checkpoint of the run at ``step`` (atomically)."""
        tmp = path.with_suffix(".tmp")
        torch.save({"task": self.task.state_dict(), "opt": self.opt.state_dict(),
                    "gen": self.gen.get_state(), "torch_rng": torch.get_rng_state(),
                    "step": step, "elapsed": self.elapsed,
                    "history": json.dumps(self.history)}, tmp)
        tmp.replace(path)

    def load(self, path: Path, device: torch.device) -> None:
        """Continue from the checkpoint at ``path``, RNG states included."""
        ck = torch.load(path, map_location=device, weights_only=True)
        self.task.load_state_dict(ck["task"])
        self.opt.load_state_dict(ck["opt"])
        self.gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        self.step, self.elapsed = int(ck["step"]), float(ck["elapsed"])
        self.history = json.loads(ck["history"])


def new_run(args: argparse.Namespace, device: torch.device) -> Run:
    """A fresh run of ``args.method``: the task, AdamW (no weight decay on biases and norms,
    betas 0.9/0.95) and the generator seeded with ``args.seed``."""
    dino_options = {k: getattr(args, k) for k in DINO_OPTIONS} if args.method == "dino" else {}
    task = build(args.method, int(ShapeWorld.num_classes), **dino_options).to(device)
    params = task.trainable() if hasattr(task, "trainable") else list(task.parameters())
    decay = [p for p in params if p.ndim > 1 and p.requires_grad]
    no_decay = [p for p in params if p.ndim <= 1 and p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    return Run(task, opt, params, torch.Generator().manual_seed(args.seed))


def train_step(run: Run, data: ShapeWorldTensors, args: argparse.Namespace, step: int,
               warmup: int, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimiser step of the run (its compute time added to ``run.elapsed``): the loss and
    the task's logged numbers."""
    t0 = time.perf_counter()
    task, gen = run.task, run.gen
    for group in run.opt.param_groups:
        group["lr"] = lr_at(step, args.steps, args.lr, warmup)
    x, y, idx = data.batch(args.batch_size, gen)
    loss, info = task.loss(x.to(device), y, gen, step, args.steps,
                           restyle=lambda idx=idx: data.restyled(idx, gen))
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    if hasattr(task, "after_backward"):
        task.after_backward(step, args.steps)
    torch.nn.utils.clip_grad_norm_(run.params, 3.0)
    run.opt.step()
    if hasattr(task, "after_step"):
        task.after_step(step, args.steps)
    run.elapsed += time.perf_counter() - t0
    return loss, info


def log_step(run: Run, bar: Any, step: int, loss: torch.Tensor, info: dict[str, float]) -> None:
    """Add the step's loss and logged numbers to the history and the progress bar."""
    run.history.append({"step": step, "loss": round(loss.item(), 5),
                        **{k: round(v, 5) for k, v in info.items()}})
    bar.set_postfix(loss=f"{loss.item():.4f}", **{k: f"{v:.3f}" for k, v in info.items()})


def save_encoder(run: Run, args: argparse.Namespace, out: Path) -> Path:
    """Write ``<out>/encoder.pt``: the trained encoder (for ``--keep teacher`` DINO's teacher,
    the momentum average of the student that DINO evaluates, Caron et al. 2021, sec. 3.1) with
    the run's options, history and compute time."""
    keep_teacher = args.method == "dino" and args.keep == "teacher"
    encoder = (run.task.teacher if keep_teacher else run.task.encoder).eval()
    torch.save({"encoder": encoder.state_dict(), "num_classes": encoder.num_classes,
                "method": args.method, "args": vars(args), "history": run.history,
                "train_seconds": run.elapsed}, out / "encoder.pt")
    print(f"{args.method}: {args.steps} steps in {run.elapsed / 60:.1f} min of compute",
          file=sys.stderr)
    return out / "encoder.pt"


def train(args: argparse.Namespace) -> Path:
    """Train ``args.method`` in the run folder ``args.out`` (from its checkpoint with
    ``args.resume``); returns the path of the written ``encoder.pt``."""
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    data = ShapeWorldTensors(args.train_size, seed=args.data_seed, image_size=64)
    run = new_run(args, device)
    if args.resume and ckpt_path.is_file():
        run.load(ckpt_path, device)
        print(f"resumed {args.method} at step {run.step}", file=sys.stderr)
    warmup = max(1, int(0.05 * args.steps))
    run.task.train()
    bar = tqdm(range(run.step, args.steps), initial=run.step, total=args.steps,
               desc=args.method, mininterval=5, disable=args.quiet)
    for step in bar:
        loss, info = train_step(run, data, args, step, warmup, device)
        if step % 25 == 0 or step == args.steps - 1:
            log_step(run, bar, step, loss, info)
        if (step + 1) % args.save_every == 0:
            run.save(ckpt_path, step + 1)
    run.save(ckpt_path, args.steps)
    return save_encoder(run, args, out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The run's options from ``argv`` (default: the command line; :data:`OPTIONS`), with the
    recorded ``command`` and ``host`` added."""
    ap = argparse.ArgumentParser(prog="python -m vitwidgets.zoo.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, kwargs in OPTIONS:
        ap.add_argument(flag, **kwargs)
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
    """Train as the command line ``argv`` says; with ``--export``, evaluate and bundle."""
    args = parse_args(argv)
    encoder_path = train(args)
    if args.export:
        from vitwidgets.zoo.evaluate import export

        export(encoder_path)


if __name__ == "__main__":
    main()
