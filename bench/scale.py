"""Benchmark: the lazy analysis core on the models people study, at their native resolution.

    python bench/scale.py              # ViT-S/16, ViT-B/16 @224, DINOv2-B/14, -L/14-reg4 @518
    python bench/scale.py --models ViT-S/16@224 --images 4

Each model runs in a fresh process (so peak RSS is its own) on random weights and 8 random
images, inside an asyncio loop as in a Jupyter kernel (metrics fill in a background thread).
Per model, side by side:

- ``forward s``: one plain forward pass of one image (timm, fused attention): the yardstick;
- ``explore s`` and ``ratio``: ``vw.explore(model, images)`` returning, and that / forward
  (goal <= 3 for DINOv2-L/14-reg4 @518 on the 2-core CPU);
- ``first s``: the kernel's first paint-ready answer (the ``rows`` reply for the first hover of
  layer 0: tracing image 0 up to block 0 included) and ``first kB``: the bytes the browser gets
  before that first paint (widget state with the image and thumbnails, plus that reply;
  goal <= 2 MB);
- ``layer MB`` and ``form``: the explorer's ``layer_data`` reply for one layer (goal: every
  message < 10 MB);
- ``all s``: until every image's per-head metrics are in;
- ``hover p50/p95 ms``: the kernel's ``rows`` command for one hovered query (the fallback),
  goal p95 <= 5 ms for DINOv2-L; ``switch p95 ms``: ``layer_data`` of another cached layer;
- ``RSS GB``: peak resident memory of the process, weights included (goal <= 4 GB);
- ``cache``: used / budget (must never exceed it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine  # noqa: E402

import vitwidgets as vw  # noqa: E402
from vitwidgets.widgets._wire import synced_bytes  # noqa: E402

MODELS = {
    "ViT-S/16@224": ("vit_small_patch16_224", {}),
    "ViT-B/16@224": ("vit_base_patch16_224", {}),
    "DINOv2-B/14@518": ("vit_base_patch14_dinov2", {"img_size": 518}),
    "DINOv2-L/14-reg4@518": ("vit_large_patch14_reg4_dinov2", {"img_size": 518}),
    "ViT-g/14-reg4@518": ("vit_giant_patch14_reg4_dinov2", {"img_size": 518}),
}
DEFAULT = list(MODELS)[:4]


def _request(widget, method: str, **params) -> tuple[float, dict, int]:
    """Seconds, reply and buffer bytes of one frontend request, as the comm delivers it."""
    sent: list = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers or []))
    t0 = time.perf_counter()
    widget._on_frontend_msg(widget, {"kind": "request", "id": "b", "method": method,
                                     "params": params}, [])
    seconds = time.perf_counter() - t0
    reply, buffers = sent[-1]
    if not reply.get("ok"):
        raise RuntimeError(reply.get("error"))
    return seconds, reply, sum(len(b) for b in buffers)


def _forward_seconds(m, pixels) -> float:
    with torch.no_grad():
        m.model(pixels)  # warm-up
        t0 = time.perf_counter()
        m.model(pixels)
    return time.perf_counter() - t0


async def _measure(label: str, count: int) -> dict:
    name, kwargs = MODELS[label]
    import timm

    torch.manual_seed(0)
    m = vw.ViTModel(timm.create_model(name, pretrained=False, **kwargs), name=name)
    rng = np.random.default_rng(0)
    side = m.input_size[0]
    images = [rng.integers(0, 255, (side, side, 3), dtype=np.uint8) for _ in range(count)]
    forward = _forward_seconds(m, m.preprocess(images[:1]))

    t0 = time.perf_counter()
    dash = vw.explore(m, images, annotations=Path("/tmp/vitwidgets-bench.heads.json"))
    explore = time.perf_counter() - t0
    ex, s = dash.explorer, dash.session
    state = sum(synced_bytes(w) for w in (ex, dash.annotator))
    centre = s.num_prefix + s.num_tokens // 2
    first, _, first_bytes = _request(ex, "rows", image=0, layer=0, kind="row", tokens=[centre])
    _, reply, layer_bytes = _request(ex, "layer_data", image=0, layer=0, include=["attention"])

    while s.metrics_progress()[0] < s.num_images and s.fill_error is None:
        await asyncio.sleep(0.05)
    if s.fill_error is not None:
        raise s.fill_error
    all_in = time.perf_counter() - t0

    tokens = rng.integers(s.num_prefix, s.num_tokens, 200).tolist()
    layer = s.num_layers // 2
    _request(ex, "rows", image=0, layer=layer, kind="row", tokens=[tokens[0]])  # traced
    hover = [_request(ex, "rows", image=0, layer=layer, kind="row", tokens=[t])[0]
             for t in tokens]
    switch = [_request(ex, "layer_data", image=0, layer=b, include=["attention"])[0]
              for b in range(s.num_layers) for _ in range(2)][1::2]
    info = s.cache_info()
    return {
        "model": label, "tokens": s.num_tokens, "forward": forward, "explore": explore,
        "first": first, "first_bytes": state + first_bytes, "layer_bytes": layer_bytes,
        "form": reply["result"]["attention_form"], "all": all_in,
        "hover50": statistics.median(hover), "hover95": np.percentile(hover, 95),
        "switch95": np.percentile(switch, 95),
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "used": info.used, "budget": info.budget,
    }


HEAD = (f"{'model':21} {'N':>5} {'forward s':>9} {'explore s':>9} {'ratio':>5} "
        f"{'first s':>7} {'first kB':>8} {'layer MB':>8} {'form':>6} {'all s':>7} "
        f"{'hover p50/p95 ms':>16} {'switch p95 ms':>13} {'RSS GB':>6} {'cache MB':>13}")


def _row(r: dict) -> None:
    print(f"{r['model']:21} {r['tokens']:>5} {r['forward']:>9.2f} {r['explore']:>9.2f} "
          f"{r['explore'] / r['forward']:>5.2f} {r['first']:>7.3f} "
          f"{r['first_bytes'] / 1e3:>8.0f} {r['layer_bytes'] / 1e6:>8.2f} {r['form']:>6} "
          f"{r['all']:>7.1f} {r['hover50'] * 1e3:>7.2f}/{r['hover95'] * 1e3:<8.2f} "
          f"{r['switch95'] * 1e3:>13.1f} {r['rss'] / 1e9:>6.2f} "
          f"{r['used'] / 2**20:>6.0f}/{r['budget'] / 2**20:<6.0f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", nargs="+", default=DEFAULT, choices=list(MODELS))
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(_measure(args.one, args.images)), default=float))
        return
    print(f"machine: {machine('cpu')}; {args.images} images per model, random weights")
    print(HEAD)
    for label in args.models:
        out = subprocess.run([sys.executable, __file__, "--one", label, "--images",
                              str(args.images)], capture_output=True, text=True)
        if out.returncode:
            print(f"{label}: failed\n{out.stderr[-2000:]}", flush=True)
            continue
        _row(json.loads(out.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
