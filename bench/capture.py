"""Benchmark: traced forward vs plain timm forward (fused attention), side by side in one run.

    python bench/capture.py                        # ViT-S/16 and ViT-B/16, batch 1 and 32
    python bench/capture.py --batches 1 8 --repeats 5 --device cuda

For every (model, batch) the two variants run interleaved (plain, traced, plain, traced, ...) so
that machine load affects both alike; the median of the repeats is reported with the ratio
traced / plain. "traced" keeps attention of every block ([L, B, H, N, N]) and the residual stream
([L+1, B, N, D]), both float32 unless --fp16. Goals: ratio <= 1.3 on the CPU, <= 1.15 on a GPU.
Random weights (timing does not depend on them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from _common import machine, timed  # noqa: E402

import vitwidgets as vw  # noqa: E402

MODELS = {"ViT-S/16": "vit_small_patch16_224", "ViT-B/16": "vit_base_patch16_224"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default=None)
    ap.add_argument("--fp16", action="store_true", help="store attention as float16")
    args = ap.parse_args()

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    print(f"machine: {machine(device)}; device {device}")
    print(f"{'model':9} {'batch':>5} {'plain s':>9} {'traced s':>9} {'ratio':>6} {'attn MB':>8}")
    ratios = []
    for label in args.models:
        torch.manual_seed(0)
        m = vw.load_model(MODELS[label], pretrained=False, device=device)
        for batch in args.batches:
            pixels = torch.randn(batch, 3, 224, 224, device=device)

            def plain(m=m, pixels=pixels):
                with torch.no_grad():
                    m.model(pixels)

            def traced(m=m, pixels=pixels):
                m.trace(None, pixels=pixels,
                        attn_dtype=torch.float16 if args.fp16 else torch.float32)

            plain()
            traced()  # warm-up (allocator, kernels)
            tp, tt = [], []
            for _ in range(args.repeats):
                tp.append(timed(plain, device))
                tt.append(timed(traced, device))
            p, t = statistics.median(tp), statistics.median(tt)
            n = 197
            attn_mb = m.num_layers * batch * m.num_heads * n * n * (2 if args.fp16 else 4) / 1e6
            ratios.append(t / p)
            print(f"{label:9} {batch:>5} {p:>9.4f} {t:>9.4f} {t / p:>6.2f} {attn_mb:>8.0f}",
                  flush=True)
    goal = 1.15 if device.type == "cuda" else 1.3
    print(f"worst ratio {max(ratios):.2f} (goal <= {goal} on {device.type})")


if __name__ == "__main__":
    main()
