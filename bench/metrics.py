"""Benchmark of the analysis core, printed side by side in one run.

1. All per-head metrics of one ViT-B/16 image (distance, entropy, NMI, aligned canvas, offsets,
   prefix share, CLS map with its mask, rollout, proposed tags) relative to one forward pass.
   Goal: ratio <= 0.5.
2. Streaming minibatch CKA 12 x 12 (CLS mode) over a few hundred images (trace with tokens +
   accumulate) relative to forward-only time over the same batches. Goal: ratio <= 1.3.

Random-initialised ViT-B/16 (no download). Not part of CI. Usage:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/metrics.py [--images 192] [--batch 32] \
        [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import machine, timed  # noqa: E402

import vitwidgets as vw  # noqa: E402
from vitwidgets.core import streaming  # noqa: E402

M = vw.metrics


def interleaved(fns: dict, device, repeat: int) -> dict[str, float]:
    """Minimum wall time of each function over ``repeat`` rounds, the functions alternating
    within each round so that they see the same machine load (one warm-up round first)."""
    best = {k: float("inf") for k in fns}
    for r in range(repeat + 1):
        for k, fn in fns.items():
            t = timed(fn, device)
            if r:
                best[k] = min(best[k], t)
    return best


def all_head_metrics(tr) -> None:
    M.attention_distance(tr)
    M.attention_entropy(tr)
    M.attention_nmi(tr)
    M.aligned_attention(tr)
    M.head_offsets(tr)
    M.prefix_attention(tr)
    M.cls_attention_map(tr, layer=-1)
    M.attention_rollout(tr, query=0)
    M.propose_head_tags(tr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=192, help="images streamed for CKA")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--device", default=None, help="cpu / cuda (default: the model's)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    m = vw.load_model("vit_base_patch16_224", pretrained=False, device=args.device)
    dev = m.device
    print(f"machine: {machine(dev)}")
    print(f"model:   vit_base_patch16_224 (random init), {m.num_layers} blocks x "
          f"{m.num_heads} heads")

    gen = torch.Generator().manual_seed(0)
    one = torch.randn(1, 3, 224, 224, generator=gen).to(dev)
    with torch.inference_mode():
        tr = m.trace(None, pixels=one, attention=True, tokens=True)
        single = interleaved(
            {
                "forward": lambda: m.model(one),
                "trace": lambda: m.trace(None, pixels=one),
                "metrics": lambda: all_head_metrics(tr),
            },
            dev,
            args.repeat,
        )
    t_fwd, t_trace, t_metrics = single["forward"], single["trace"], single["metrics"]

    # Streaming CKA exactly as stream_metrics runs it (trace with tokens, accumulate, drop the
    # trace), each batch timed right after the forward-only pass of the same batch.
    n, bs = args.images, args.batch
    batches = [torch.randn(min(bs, n - s), 3, 224, 224, generator=gen) for s in range(0, n, bs)]
    acc = streaming.CKAAccumulator("cls")
    kw = {"attention": False, "tokens": True, "latents": False}

    def stream_step(b):
        acc.update(m.trace(None, pixels=b.to(dev), **kw), streaming.Batch(b))

    with torch.inference_mode():
        m.model(batches[0].to(dev))  # warm-up
        t_fwd_all = t_cka = 0.0
        for b in batches:
            t_fwd_all += timed(lambda b=b: m.model(b.to(dev)), dev)
            t_cka += timed(lambda b=b: stream_step(b), dev)
        t0 = time.perf_counter()
        cka = acc.result()
        t_cka += time.perf_counter() - t0
    assert cka.shape == (m.num_layers, m.num_layers)

    r1, r2 = t_metrics / t_fwd, t_cka / t_fwd_all
    print()
    print(f"{'measure':<58}{'seconds':>10}{'ratio':>9}{'goal':>8}")
    print(f"{'one forward pass, 1 image (min of interleaved runs)':<58}{t_fwd:>10.4f}")
    print(f"{'trace (attention + tokens), 1 image':<58}{t_trace:>10.4f}{t_trace / t_fwd:>9.2f}")
    print(f"{'all per-head metrics + tags, 1 image':<58}{t_metrics:>10.4f}{r1:>9.2f}{'<= 0.5':>8}")
    print(f"{f'forward only, {n} images in batches of {bs}':<58}{t_fwd_all:>10.2f}")
    print(f"{f'streaming CKA 12x12 (trace + accumulate), {n} images':<58}{t_cka:>10.2f}"
          f"{r2:>9.2f}{'<= 1.3':>8}")  # fmt: skip
    print()
    print(f"per-head metrics: {'OK' if r1 <= 0.5 else 'ABOVE GOAL'}; "
          f"streaming CKA: {'OK' if r2 <= 1.3 else 'ABOVE GOAL'}")  # fmt: skip


if __name__ == "__main__":
    main()
