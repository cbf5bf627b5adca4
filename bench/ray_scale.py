"""Benchmark: a dataset analysis on Ray against the single-process path, side by side.

    python bench/ray_scale.py                         # ViT-S/16 @224, batch 32, 4 batches
    python bench/ray_scale.py --batches 8 --analysis head_stats

Random weights (timm ``vit_small_patch16_224``, offline) and random images ``[N, 3, 224, 224]``
given as a tensor (each worker slices its own batches: no file reading in the measure). One
process, three runs of ``vw.metrics.dataset_<analysis>`` on the same images:

- ``local x1``: this process, ``torch.set_num_threads(1)``;
- ``ray 1x1``: ``RayEngine(num_workers=1, threads=1)``: Ray's overhead against ``local x1``
  (goal: wall <= 1.15x);
- ``ray 2x1``: two single-threaded workers: the scaling on two cores (goal: >= 1.6x the
  throughput of ``ray 1x1``);
- with ``--gpus N`` on a GPU machine: 1 worker per GPU, 1 vs N GPUs.

Per run: ``wall s`` (the whole call; for Ray: starting the workers, loading the model in each,
tracing, returning and merging the states), ``steady img/s`` (for Ray: each worker's images
over the wall-clock span from the start of its first batch to the end of its last, summed over
the workers, i.e. the pool's rate once it is up; locally: images / wall), and the ratios.
Memory per worker: peak resident (``getrusage``, which also counts the pages of Ray's shared
object store the worker touched) and private memory (psutil's USS), once the model is loaded,
after its first batch and after its last; if the last is about the first, a worker holds its
model, one batch and its states however many batches it sees. Every Ray result is checked
bitwise equal to the local one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from _common import machine  # noqa: E402

import vitwidgets as vw  # noqa: E402

ANALYSES = ("features", "head_stats", "cka", "fourier")
MB = 2**20


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, torch.Tensor):
        return bool(torch.equal(a, b))
    if isinstance(a, (tuple, list)):
        return all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return all(_equal(getattr(a, f), getattr(b, f)) for f in a._FIELDS if getattr(a, f) is not None)


def _steady(info) -> float:
    """The pool's images per second once up: each worker's images over the span from its first
    batch's start to its last batch's end, summed over the workers."""
    return sum(w["rows"] / max(w["ended"] - w["began"], 1e-9) for w in info.workers.values())


def _run(fn, engine=None) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(engine)
    return out, time.perf_counter() - t0


def _memory(info) -> list[str]:
    out = []
    for pid, m in sorted(info.workers.items()):
        peak = "/".join(f"{m[k] / MB:.0f}" for k in ("loaded_peak", "first_peak", "last_peak"))
        own = "/".join(f"{m[k] / MB:.0f}"
                       for k in ("loaded_private", "first_private", "last_private"))
        out.append(f"    worker {pid}: peak RSS {peak} MB, private (USS) {own} MB "
                   "(model loaded / after first batch / after last)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=4, help="batches per run")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--analysis", choices=ANALYSES, default="features")
    ap.add_argument("--gpus", type=int, default=0, help="on a GPU machine: 1 vs this many")
    args = ap.parse_args()

    import ray
    import timm

    from vitwidgets.engines.ray import RayEngine

    torch.set_num_threads(1)
    net = timm.create_model("vit_small_patch16_224", pretrained=False)
    device = "cuda" if args.gpus else "cpu"
    m = vw.load_model(net, device=device)
    n = args.batches * args.batch
    x = torch.rand(n, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    fn = getattr(vw.metrics, f"dataset_{args.analysis}")

    def call(engine):
        return fn(m, x, batch_size=args.batch, progress=False, engine=engine)

    print(machine(device))
    print(f"ViT-S/16 @224, random weights, {args.analysis}, {args.batches} batches of "
          f"{args.batch} ({n} images), one batch {x[: args.batch].numel() * 4 / MB:.0f} MB")
    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), num_gpus=args.gpus, include_dashboard=False,
             log_to_driver=False)
    print(f"ray.init: {time.perf_counter() - t0:.1f} s (not counted below)")
    runs = [("local x1", None, 1)]
    if args.gpus:
        runs += [(f"ray {g} GPU", RayEngine(num_workers=g, num_gpus=1), g)
                 for g in sorted({1, args.gpus})]
    else:
        runs += [("ray 1x1", RayEngine(num_workers=1, threads=1), 1),
                 ("ray 2x1", RayEngine(num_workers=2, threads=1), 2)]
    results, rows = {}, []
    for name, engine, _ in runs:
        out, wall = _run(call, engine)
        results[name] = out
        steady = n / wall if engine is None else _steady(engine.last_run)
        rows.append((name, engine, wall, steady))
    base_wall, base_steady = rows[0][2], rows[0][3]
    print(f"\n{'run':<10} {'wall s':>8} {'steady img/s':>13} {'wall / local':>13} "
          f"{'img/s vs local':>15} {'bitwise':>8}")
    for name, engine, wall, steady in rows:
        same = "-" if engine is None else str(_equal(results["local x1"], results[name]))
        print(f"{name:<10} {wall:8.1f} {steady:13.2f} {wall / base_wall:13.2f} "
              f"{steady / base_steady:15.2f} {same:>8}")
    if not args.gpus:
        (_, _, w1, s1), (_, _, w2, s2) = rows[1], rows[2]
        print(f"\nRay overhead, 1 worker vs local (goal <= 1.15): wall {w1 / base_wall:.2f}x, "
              f"steady {base_steady / s1:.2f}x")
        print(f"2 workers vs 1 (goal >= 1.6): throughput {w1 / w2:.2f}x by wall, "
              f"{s2 / s1:.2f}x steady")
    for name, engine, _, _ in rows[1:]:
        info = engine.last_run
        print(f"\n{name}: {info.batches} batches, largest state {info.state_bytes / MB:.2f} MB")
        print("\n".join(_memory(info)))
    ray.shutdown()


if __name__ == "__main__":
    main()
