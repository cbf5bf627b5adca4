"""Shared by the benchmarks: what machine the figures come from, and device-synchronised timing."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (or platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(device=None) -> str:
    """One line naming the machine: CPU, cores, torch and its threads, the GPU when used."""
    import torch

    desc = (f"{cpu_name()}, {os.cpu_count()} logical cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads)")
    if device is not None and torch.device(device).type == "cuda":
        desc += f", GPU {torch.cuda.get_device_name(device)}"
    return desc


def timed(fn: Callable[[], object], device=None) -> float:
    """Wall seconds of ``fn()``, synchronising CUDA before and after when ``device`` is CUDA."""
    import torch

    cuda = device is not None and torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if cuda:
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0
