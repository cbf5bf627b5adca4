"""The lazy session (queries and keys per block, attention recomputed in query chunks) gives
the same answers as the dense one (a trace of every block's attention) to 1e-5, for every
capture family: prefix and register tokens, no CLS, non-square grids, RoPE (EVA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_capture import FAMILIES, _sharpen

import vitwidgets as vw
from vitwidgets.core.session import Session

# float32 rounding: absolute 1e-5 for values up to ~100 (distances in pixels); relative 2^-15 for
# attention near 1 in peaked heads, whose logits (up to ~128, qk-norm models) carry a few ulps
# of float32 (2^-23 * 128 = 1.5e-5 each) that the two paths round differently
ATOL, RTOL = 1e-5, 2**-15


def _images(size, count=2, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (*size, 3), dtype=np.uint8) for _ in range(count)]


def _pair(name: str, cache=None):
    make, size, *_ = FAMILIES[name]
    torch.manual_seed(0)
    m = vw.load_model(_sharpen(make()), device="cpu")
    size_arg = size if m.dynamic_size else None
    images = _images(size)
    dense = Session(m.trace(images, tokens=False, size=size_arg), identity=m.identity, model=m)
    return dense, Session.from_model(m, images, cache=cache, size=size_arg)


@pytest.fixture(params=sorted(FAMILIES), ids=sorted(FAMILIES))
def pair(request):
    # 128 kB: query chunks of 1 to 11 tokens, and q/k evicted and recomputed along the way
    return _pair(request.param, cache="128kB")


def close(a, b):
    torch.testing.assert_close(a, b, atol=ATOL, rtol=RTOL)


def test_lazy_attention_rows_columns_and_rollout_equal_the_dense_session(pair):
    dense, lazy = pair
    assert lazy.grid == dense.grid and lazy.prefix_names == dense.prefix_names
    n = dense.num_tokens
    tokens = sorted({0, n // 2, n - 1})
    for i in range(dense.num_images):
        for layer in range(dense.num_layers):
            close(lazy.layer_attention(i, layer), dense.layer_attention(i, layer))
            close(lazy.attention_rows(i, layer, tokens), dense.attention_rows(i, layer, tokens))
            close(lazy.attention_columns(i, layer, tokens),
                  dense.attention_columns(i, layer, tokens))
            close(lazy.rollout(i, layer), dense.rollout(i, layer))
    assert lazy.cache_info().used <= lazy.cache.budget


def test_lazy_head_stats_layer_table_and_proposals_equal_the_dense_session(pair):
    dense, lazy = pair
    for image in (1, None):
        want, got = dense.head_stats(image), lazy.head_stats(image)
        for field in want._FIELDS:
            close(getattr(got, field), getattr(want, field))
        for name, column in dense.layer_table(image).items():
            close(lazy.layer_table(image)[name], column)
    close(lazy.aligned(0, -1), dense.aligned(0, -1))
    assert [p["tag"] for p in lazy.proposals()] == [p["tag"] for p in dense.proposals()]
    assert lazy.metrics_progress() == (2, 2)


def test_layer_qk_gives_rows_and_columns_through_the_log_sum_exp():
    dense, lazy = _pair("registers")
    qk, lse = lazy.layer_qk(1, 2)
    logits = qk.q @ qk.k.transpose(-1, -2)
    close(torch.softmax(logits, -1), dense.layer_attention(1, 2))
    close(torch.exp(logits - lse[..., None]).float(), dense.layer_attention(1, 2))
    assert lse.dtype == torch.float64 and lse.shape == (lazy.num_heads, lazy.num_tokens)


def test_nothing_is_traced_until_asked_and_a_layer_traces_only_the_blocks_up_to_it():
    _, lazy = _pair("plain_cls_p8")
    assert not [k for k, _ in lazy.cache_info().entries if k[0] == "qk"]
    lazy.attention_rows(1, 0, [0])
    qk_keys = sorted(k for k, _ in lazy.cache_info().entries if k[0] == "qk")
    assert qk_keys == [("qk", 1, 0)]
    assert lazy.metrics_progress() == (0, 2)


def test_evicted_entries_are_recomputed_to_the_same_values():
    _, lazy = _pair("eva_rope", cache="24kB")
    first = lazy.attention_rows(0, 2, [3]).clone()
    for i in range(2):
        for layer in range(3):
            lazy.rollout(i, layer)  # fills the cache well past its budget
    assert lazy.cache.evictions > 0 and lazy.cache_info().used <= lazy.cache.budget
    torch.testing.assert_close(lazy.attention_rows(0, 2, [3]), first, atol=0, rtol=0)


def test_budget_too_small_for_one_block_or_one_row_is_a_clear_error():
    make, size, *_ = FAMILIES["plain_cls_p8"]
    m = vw.load_model(make(), device="cpu")
    with pytest.raises(ValueError, match="smaller than one block's queries and keys"):
        Session.from_model(m, _images(size), cache="4kB")
    with pytest.raises(ValueError, match="working memory for one attention row"):
        Session.from_model(m, _images(size), cache="5000B")
    with pytest.raises(ValueError, match="cache budget"):
        Session.from_model(m, _images(size), cache="lots")
    with pytest.raises(ValueError):
        Session.from_model(m, _images(size), cache=-5)


def test_token_lists_are_checked():
    _, lazy = _pair("plain_cls_p8")
    with pytest.raises(ValueError, match="query 99 is not a token index 0..16"):
        lazy.attention_rows(0, 0, [99])
    with pytest.raises(ValueError, match="at least one key"):
        lazy.attention_columns(0, 0, [])


def test_background_fill_computes_every_image_while_rows_are_answered():
    dense, lazy = _pair("registers")
    thread = lazy.fill_in_background()
    close(lazy.attention_rows(1, 1, [2]), dense.attention_rows(1, 1, [2]))
    thread.join(60)
    assert lazy.fill_error is None and lazy.metrics_progress() == (2, 2)
    assert lazy.fill_in_background() is None
    close(lazy.head_stats().entropy, dense.head_stats().entropy)


def test_background_fill_does_the_prioritised_image_next():
    _, lazy = _pair("plain_cls_p8")
    lazy.prioritise(1)
    lazy.fill_in_background().join(60)
    assert list(lazy._done) == [1, 0]


def test_a_trace_in_the_notebook_while_the_background_fill_runs_is_exact():
    # Both passes hook the same blocks: without one lock per model the background pass's
    # stop-after hook ended the user's trace early (StopForward) or mixed their captures.
    dense, lazy = _pair("registers")
    m, pixels = lazy.model, dense.trace.pixels
    reference = m.trace(None, pixels=pixels, tokens=False).attn
    thread = lazy.fill_in_background()
    while thread.is_alive():
        close(m.trace(None, pixels=pixels, tokens=False).attn, reference)
    thread.join(60)
    assert lazy.fill_error is None and lazy.metrics_progress() == (2, 2)
