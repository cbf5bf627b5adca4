"""Benchmark of the RepresentationMap's streaming CKA against forward-only time, side by side.

``bench/metrics.py`` times the bare accumulator loop (trace with tokens + ``CKAAccumulator``).
This one times what the widget runs: :func:`vitwidgets.core.profiles.representation_map`
(one streaming pass: preprocessing, trace with tokens, minibatch CKA, token similarity of every
block, the partial matrix after every batch for the progress line), the function
``vw.RepresentationMap`` calls, over ``--images`` images. Its ``on_batch`` callback closes the
widget's time of each batch, then runs and times the plain forward pass (preprocessing + the
timm model) of the same batch, so the two alternate batch by batch and see the same machine
load; the callback's own time is not counted for the widget. Goal: ratio <= 1.3.

Random-initialised ViT-S/16 at 224 px by default (no download). Not part of CI. Usage:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/cka_stream.py [--images 1000] [--batch 32] \
        [--model vit_small_patch16_224] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import machine, timed  # noqa: E402

import vitwidgets as vw  # noqa: E402
from vitwidgets.core.profiles import representation_map  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--model", default="vit_small_patch16_224")
    ap.add_argument("--device", default=None, help="cpu / cuda (default: the model's)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    m = vw.load_model(args.model, pretrained=False, device=args.device)
    dev = m.device
    h, w = m.input_size
    print(f"machine: {machine(dev)}")
    print(f"model:   {args.model} (random init), {m.num_layers} blocks, {h}x{w} px")
    gen = torch.Generator().manual_seed(0)
    n, bs = args.images, args.batch
    # the images as a [N, 3, H, W] tensor: both runs cut it into the same batches
    images = torch.rand(n, 3, h, w, generator=gen)

    clock = {"last": 0.0, "widget": 0.0, "forward": 0.0}

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def forward(batch: torch.Tensor) -> None:
        with torch.inference_mode():
            m.model(m.preprocess(batch))

    def on_batch(done: int, total: int | None, _partial) -> None:
        sync()
        clock["widget"] += time.perf_counter() - clock["last"]
        batch = images[(done - 1) * bs : done * bs]
        clock["forward"] += timed(lambda: forward(batch), dev)
        print(f"\r  batch {done} of {total}", end="", flush=True)
        clock["last"] = time.perf_counter()

    forward(images[:bs])  # warm-up
    clock["last"] = time.perf_counter()
    result = representation_map(m, images, batch_size=bs, on_batch=on_batch)
    assert result.cka.shape == (m.num_layers, m.num_layers) and result.num_images == n
    ratio = clock["widget"] / clock["forward"]
    print()
    print(f"{'measure':<64}{'seconds':>10}{'ratio':>9}{'goal':>8}")
    print(f"{f'forward only (preprocess + model), {n} images in batches of {bs}':<64}"
          f"{clock['forward']:>10.2f}")
    what = f"RepresentationMap {m.num_layers}x{m.num_layers} CKA + token similarity, {n} images"
    print(f"{what:<64}"
          f"{clock['widget']:>10.2f}{ratio:>9.2f}{'<= 1.3':>8}")  # fmt: skip
    print()
    print(f"streaming CKA in the widget: {'OK' if ratio <= 1.3 else 'ABOVE GOAL'}")


if __name__ == "__main__":
    main()
