"""The session's bounded cache: byte budget, least-recently-used eviction, clear errors."""

from __future__ import annotations

import pytest
import torch

from vitwidgets.core.cache import ByteCache, default_budget, nbytes_of, parse_bytes


@pytest.mark.parametrize(("text", "size"), [
    ("2GB", 2 * 10**9), ("512 MiB", 512 * 2**20), ("1.5e3", 1500), (4096, 4096),
    ("3kb", 3000), ("1GiB", 2**30),
])
def test_parse_bytes_reads_decimal_and_binary_units(text, size):
    assert parse_bytes(text) == size


@pytest.mark.parametrize("bad", ["two gigs", "2 GBs", "", "-1GB"])
def test_parse_bytes_rejects_unreadable_strings_saying_what_is_expected(bad):
    with pytest.raises(ValueError, match='cache budget must be a positive number of bytes'):
        parse_bytes(bad)


@pytest.mark.parametrize("bad", [-5, 0, True, None, [1]])
def test_parse_bytes_rejects_non_positive_and_non_numbers(bad):
    with pytest.raises((ValueError, TypeError), match="positive number of bytes"):
        parse_bytes(bad)


def _mb(n: int) -> torch.Tensor:
    return torch.zeros(n * 2**20, dtype=torch.uint8)


def test_budget_is_never_exceeded_and_least_recent_goes_first():
    cache = ByteCache(3 * 2**20)
    for i in range(3):
        cache.put(i, _mb(1))
    cache.get(0)  # 0 is now the most recent: 1 goes first
    cache.put(3, _mb(1))
    assert 1 not in cache and {0, 2, 3} <= set(k for k, _ in cache.info().entries)
    for i in range(4, 20):
        cache.put(i, (_mb(1), {"x": _mb(1)}) if i % 2 else _mb(1))
        assert cache.used <= cache.budget
        assert cache.used == sum(size for _, size in cache.info().entries)
    assert cache.info().evictions > 0


def test_entry_larger_than_the_budget_is_returned_but_not_kept():
    cache = ByteCache("1MiB")
    value = cache.get_or_compute("big", lambda: _mb(2))
    assert nbytes_of(value) == 2 * 2**20 and "big" not in cache
    assert cache.info().not_kept == 1 and cache.used == 0


def test_evicted_entry_is_recomputed_with_the_same_value():
    cache = ByteCache(2 * 2**20)
    calls = []

    def compute():
        calls.append(1)
        return torch.arange(2**18, dtype=torch.float32)  # 1 MiB

    first = cache.get_or_compute("a", compute)
    cache.put("b", _mb(1))
    cache.put("c", _mb(1))  # evicts "a"
    again = cache.get_or_compute("a", compute)
    assert len(calls) == 2 and torch.equal(first, again)


def test_put_without_eviction_keeps_only_what_fits():
    cache = ByteCache(2 * 2**20)
    cache.put("a", _mb(1))
    assert cache.put("b", _mb(1), evict=False)
    assert not cache.put("c", _mb(1), evict=False)
    assert "a" in cache and "b" in cache and "c" not in cache
    assert "MiB" in str(cache.info())


def test_a_view_counts_the_storage_it_keeps_alive():
    qkv = torch.zeros(3, 4, 256)  # like timm's fused qkv output
    k = qkv[1]
    assert nbytes_of(k) == qkv.numel() * 4 and nbytes_of(k.clone()) == k.numel() * 4


def test_default_budget_on_the_cpu_is_a_32nd_of_memory_within_256_mib_and_1_gib():
    budget = default_budget("cpu")
    assert 256 * 2**20 <= budget <= 2**30
