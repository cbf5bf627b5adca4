"""The session's bounded cache: one byte budget for everything a session keeps, least recently
used first out, and a way to see what it holds.

Everything in it can be recomputed (a forward pass, a chunked reduction), so eviction loses
nothing: the next request computes the entry again. Sizes count the bytes of every tensor an
entry holds (on whatever device it lives); an entry larger than the whole budget is returned to
its caller but not kept.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import torch

from .errors import UserTypeError, UserValueError

__all__ = ["ByteCache", "CacheInfo", "parse_bytes", "format_bytes", "default_budget", "nbytes_of"]

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_bytes(value: int | float | str, *, what: str = "cache budget") -> int:
    """A byte count from an int, a float or a string such as ``"2GB"``, ``"512 MiB"`` or
    ``"1.5e9"`` (decimal kB/MB/GB/TB and binary KiB/MiB/GiB/TiB units)."""
    expected = f'{what} must be a positive number of bytes or a string like "2GB" or "512MiB"'
    if isinstance(value, bool):
        raise UserTypeError(f"{expected}; got {value!r}")
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    elif isinstance(value, str):
        m = _PATTERN.match(value)
        if not m or m.group(2).lower() not in _UNITS:
            raise UserValueError(f"{expected}; could not read {value!r} "
                             f"(units: {', '.join(u for u in _UNITS if u)})")
        number, unit = float(m.group(1)), m.group(2).lower()
    else:
        raise UserTypeError(f"{expected}; got {type(value).__name__}")
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise UserValueError(f"{expected}; got {value!r}")
    return size


def default_budget(device: torch.device | str) -> int:
    """The budget a session gets unless told otherwise: a quarter of the GPU's memory on CUDA;
    on the CPU a 32nd of the machine's memory, clamped to 256 MiB .. 1 GiB (the model's
    weights, the kernel's other work and the allocator's slack need the rest: DINOv2-L/14 at
    518 px peaks near 3.6 GB with a 768 MiB cache)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory // 4
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        ram = 8 * 2**30
    return int(min(max(ram // 32, 256 * 2**20), 2**30))


def nbytes_of(value: Any) -> int:
    """Bytes of every tensor in ``value`` (tensors, tuples, lists, dicts, dataclasses): the
    bytes each tensor keeps alive, i.e. its whole storage when it is a view into a bigger one
    (a key sliced out of timm's fused ``qkv`` output holds all of it)."""
    if isinstance(value, torch.Tensor):
        return max(value.untyped_storage().nbytes(), value.numel() * value.element_size())
    if isinstance(value, (tuple, list)):
        return sum(nbytes_of(v) for v in value)
    if isinstance(value, dict):
        return sum(nbytes_of(v) for v in value.values())
    if is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes_of(getattr(value, f.name)) for f in fields(value))
    return 0


def format_bytes(n: int | float) -> str:
    """``n`` bytes for people: ``"812 B"``, ``"5.6 MiB"``, ``"1.50 GiB"``."""
    if n < 2**10:
        return f"{int(n)} B"
    if n < 2**20:
        return f"{n / 2**10:.1f} KiB"
    if n < 2**30:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**30:.2f} GiB"


@dataclass(frozen=True)
class CacheInfo:
    """What a :class:`ByteCache` holds. ``entries``: ``(key, bytes)`` from least to most
    recently used; ``hits``/``misses``/``evictions`` count since the cache was made;
    ``not_kept``: entries larger than the whole budget (returned, not kept)."""

    budget: int
    used: int
    entries: tuple[tuple[Hashable, int], ...]
    hits: int
    misses: int
    evictions: int
    not_kept: int

    def __str__(self) -> str:
        kinds: dict[str, list[int]] = {}
        for key, size in self.entries:
            kind = key[0] if isinstance(key, tuple) and key else str(key)
            kinds.setdefault(str(kind), []).append(size)
        parts = ", ".join(f"{k}: {len(v)} ({format_bytes(sum(v))})" for k, v in kinds.items())
        return (f"{format_bytes(self.used)} of {format_bytes(self.budget)} in "
                f"{len(self.entries)} entries ({parts or 'empty'}); {self.hits} hits, "
                f"{self.misses} misses, {self.evictions} evicted")


_MISSING = object()


def _locked(method):
    """Run a ByteCache method under the cache's lock (entries and counters change together)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


class ByteCache:
    """Least-recently-used cache whose entries' bytes never sum past ``budget``.

    Args:
        budget: bytes, or a string for :func:`parse_bytes` (``"2GB"``).
    """

    def __init__(self, budget: int | str):
        self.budget = parse_bytes(budget)
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.used = 0
        self.hits = self.misses = self.evictions = self.not_kept = 0
        # the lazy session fills the cache from a background thread while the kernel answers
        self._lock = threading.RLock()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @_locked
    def get(self, key: Hashable, default: Any = None) -> Any:
        """The entry (now the most recently used), or ``default``."""
        if key not in self._entries:
            self.misses += 1
            return default
        self.hits += 1
        self._entries.move_to_end(key)
        return self._entries[key][0]

    @_locked
    def put(self, key: Hashable, value: Any, *, evict: bool = True) -> bool:
        """Keep ``value`` under ``key`` (replacing an older entry), evicting the least recently
        used entries to make room; with ``evict=False`` only when it fits without evicting.
        Returns whether it was kept."""
        size = nbytes_of(value)
        self.pop(key)
        if size > self.budget:
            self.not_kept += 1
            return False
        if not evict and self.used + size > self.budget:
            return False
        while self.used + size > self.budget:
            _, (_, old) = self._entries.popitem(last=False)
            self.used -= old
            self.evictions += 1
        self._entries[key] = (value, size)
        self.used += size
        return True

    @_locked
    def pop(self, key: Hashable) -> Any:
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        self.used -= entry[1]
        return entry[0]

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The entry, or ``compute()`` kept under ``key`` (when it fits) and returned. The lock
        is not held while computing: two threads may both compute a missing entry."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            self.put(key, value)
        return value

    @_locked
    def clear(self) -> None:
        self._entries.clear()
        self.used = 0

    @_locked
    def info(self) -> CacheInfo:
        return CacheInfo(
            budget=self.budget, used=self.used,
            entries=tuple((k, size) for k, (_, size) in self._entries.items()),
            hits=self.hits, misses=self.misses, evictions=self.evictions,
            not_kept=self.not_kept,
        )
