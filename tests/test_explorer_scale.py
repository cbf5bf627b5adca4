"""The explorer at scale: which form a layer's attention travels in (attention, queries and
keys, or rows from the kernel) and the ``rows`` command, against the session's own answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_capture import FAMILIES, _sharpen
from test_widgets import request

import vitwidgets as vw
from vitwidgets.core.session import Session
from vitwidgets.widgets import AttentionExplorer
from vitwidgets.widgets.explorer import attention_form

F16 = 2e-3  # float16 rounding of q, k and of the rows themselves


@pytest.fixture(scope="module")
def lazy():
    make, size, *_ = FAMILIES["registers"]
    torch.manual_seed(0)
    m = vw.load_model(_sharpen(make()), device="cpu")
    rng = np.random.default_rng(0)
    return Session.from_model(m, [rng.integers(0, 255, (*size, 3), dtype=np.uint8)
                                  for _ in range(2)])


def _f16(buffer: bytes, shape) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(buffer, np.float16).reshape(shape).astype(np.float32))


def test_small_layers_ship_attention_big_ones_queries_and_keys_then_kernel_rows(lazy):
    h, n, d = lazy.num_heads, lazy.num_tokens, lazy.head_dim  # 4, 21, 8
    dense, qk = h * n * n * 2, 2 * h * n * (2 * d + 2)
    assert qk < dense
    assert attention_form(lazy, 8_000_000) == "dense"  # under DENSE_LAYER_BYTES
    assert attention_form(lazy, qk) == "qk"
    assert attention_form(lazy, qk - 1) == "kernel"


def test_queries_and_keys_reply_gives_the_kernels_rows_within_float16(lazy):
    w = AttentionExplorer(lazy)
    w.max_layer_bytes = 2 * lazy.num_heads * lazy.num_tokens * (2 * lazy.head_dim + 2)
    reply, buffers = request(w, "layer_data", image=1, layer=2, include=["attention"])
    result = reply["result"]
    assert result["attention_form"] == "qk" and result["head_dim"] == lazy.head_dim
    assert [a["name"] for a in result["arrays"]] == ["q", "k", "lse"]
    q, k = (_f16(b, a["shape"]) for b, a in zip(buffers[:2], result["arrays"], strict=False))
    lse = torch.from_numpy(np.frombuffer(buffers[2], np.float32).reshape(q.shape[:2]).copy())
    want = lazy.layer_attention(1, 2)
    torch.testing.assert_close(torch.softmax(q @ k.transpose(-1, -2), -1), want,
                               atol=F16, rtol=0)
    torch.testing.assert_close(torch.exp(q @ k.transpose(-1, -2) - lse[..., None]), want,
                               atol=F16 * 4, rtol=0)
    assert sum(len(b) for b in buffers) <= w.max_layer_bytes


def test_kernel_form_sends_no_attention_and_rows_answer_every_kind(lazy):
    w = AttentionExplorer(lazy, max_layer_bytes=100)
    reply, buffers = request(w, "layer_data", image=0, layer=1, mode="rollout",
                             include=["attention", "rollout"])
    assert reply["result"]["attention_form"] == "kernel"
    assert reply["result"]["rollout_form"] == "kernel" and buffers == []
    tokens = [0, 5, lazy.num_tokens - 1]
    wants = {"row": lazy.attention_rows(0, 1, tokens).transpose(0, 1),
             "column": lazy.attention_columns(0, 1, tokens).transpose(0, 1),
             "rollout": lazy.rollout(0, 1)[tokens][:, None]}
    for kind, want in wants.items():
        reply, buffers = request(w, "rows", image=0, layer=1, kind=kind, tokens=tokens)
        desc = reply["result"]["arrays"][0]
        assert desc["shape"] == list(want.shape) and reply["result"]["tokens"] == tokens
        torch.testing.assert_close(_f16(buffers[0], desc["shape"]), want, atol=F16, rtol=0)


@pytest.mark.parametrize("params, message", [
    ({"kind": "diagonal", "tokens": [1]}, "unknown kind 'diagonal'"),
    ({"kind": "row", "tokens": []}, "1..16 token indices"),
    ({"kind": "row", "tokens": list(range(17))}, "1..16 token indices"),
    ({"kind": "row", "tokens": [99]}, "query 99 is not a token index 0..20"),
])
def test_rows_rejects_bad_requests_with_what_was_expected(lazy, params, message):
    reply, _ = request(AttentionExplorer(lazy), "rows", image=0, layer=0, **params)
    assert not reply["ok"] and message in reply["error"]


def test_layer_metrics_and_annotator_fill_in_from_the_background_while_a_loop_runs(tmp_path):
    import asyncio
    import threading

    from vitwidgets.widgets import HeadAnnotator, LayerMetrics

    make, size, *_ = FAMILIES["registers"]
    torch.manual_seed(0)
    m = vw.load_model(_sharpen(make()), device="cpu")
    rng = np.random.default_rng(1)
    s = Session.from_model(m, [rng.integers(0, 255, (*size, 3), dtype=np.uint8)
                               for _ in range(2)])

    async def look():
        metrics = LayerMetrics(s)
        first = metrics.status.value
        annotator = HeadAnnotator(s, path=tmp_path / "heads.json")
        while s.metrics_progress()[0] < s.num_images:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.6)  # the widgets look every 0.25 s
        return first, metrics, annotator

    # a loop of its own in a thread of its own (the browser tests' Playwright may hold one here)
    out: list = []
    runner = threading.Thread(target=lambda: out.append(asyncio.run(look())))
    runner.start()
    runner.join(120)
    first, metrics, annotator = out[0]
    assert first == "computing metrics: 0 of 2 images…"
    assert metrics.status.value == "" and "pending" not in metrics.source.data["tag"]
    assert len(metrics.source.data["nmi"]) == s.num_layers * s.num_heads
    assert all(row["proposed"] for row in annotator.rows)
    assert "proposed tags once" not in annotator.status
