"""Constructed traces for the tests: one Trace builder, and attention whose heads are known.

No test module imports another; they all build their traces here.
"""

from __future__ import annotations

import asyncio
import threading

import torch

from vitwidgets.core.trace import Trace

GRID = (3, 4)  # non-square on purpose
#: identity of the toy model (as ViTModel.identity gives it) for sessions and annotation files
IDENTITY = {"name": "toy", "num_layers": 3, "num_heads": 3, "weights_sha256": "00"}


def make_trace(
    attn: torch.Tensor | None = None,
    grid: tuple[int, int] = GRID,
    num_prefix: int = 1,
    patch_size: int = 16,
    *,
    tokens: torch.Tensor | None = None,
    latents: torch.Tensor | None = None,
    pixels: torch.Tensor | None = None,
    prefix_names: tuple[str, ...] | None = None,
    model_name: str = "",
) -> Trace:
    """A Trace of a model with ``num_prefix`` prefix tokens on ``grid`` from any of
    ``attn [L, B, H, N, N]`` (all ``L`` blocks captured), ``tokens [L+1, B, N, D]`` and
    ``latents [2L+1, B, N, D]``; ``pixels`` default to zeros ``[B, 3, gh*p, gw*p]``."""
    gh, gw = grid
    lead = next(t for t in (attn, tokens, latents, pixels) if t is not None)
    num_images = lead.shape[0] if lead is pixels else lead.shape[1]
    if pixels is None:
        pixels = torch.zeros(num_images, 3, gh * patch_size, gw * patch_size)
    layers = tuple(range(attn.shape[0])) if attn is not None else ()
    return Trace(
        pixels=pixels, grid=(gh, gw), num_prefix=num_prefix, patch_size=patch_size,
        layers=layers, prefix_names=prefix_names or (), mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5), attn=attn, tokens=tokens, latents=latents, model_name=model_name,
    )


def toy_attention(
    num_layers: int = 3, num_images: int = 2, grid: tuple[int, int] = GRID,
    num_prefix: int = 1, extra_heads: int = 0,
) -> torch.Tensor:
    """Attention ``[L, B, 3 + extra_heads, N, N]`` with known heads: head 0 looks at the patch
    left of each query (its own patch in column 0), head 1 puts 0.9 on the prefix tokens (when
    there are any), head 2 and any extra heads attend uniformly."""
    gh, gw = grid
    p, g = num_prefix, gh * gw
    n, h = p + g, 3 + extra_heads
    a = torch.full((h, n, n), 1.0 / n)
    left = torch.zeros(n, n)
    left[:p] = 1.0 / n
    for q in range(g):
        r, c = divmod(q, gw)
        left[p + q, p + r * gw + max(c - 1, 0)] = 1.0
    a[0] = left
    if p:
        prefix = torch.zeros(n, n)
        prefix[:, :p] = 0.9 / p
        prefix[:, p:] = 0.1 / g
        a[1] = prefix
    return a.expand(num_layers, num_images, h, n, n).clone()


def toy_trace(
    num_layers: int = 3, num_images: int = 2, grid: tuple[int, int] = GRID, patch_size: int = 8,
    num_prefix: int = 1, extra_heads: int = 0,
) -> Trace:
    """The toy model's trace: :func:`toy_attention`, images a horizontal colour ramp, prefix
    tokens named ``cls``, ``reg0``, ..."""
    gh, gw = grid
    ramp = torch.linspace(-1, 1, gw * patch_size).view(1, 1, 1, -1)
    pixels = ramp.expand(num_images, 3, gh * patch_size, gw * patch_size).clone()
    names = ("cls",) + tuple(f"reg{i}" for i in range(num_prefix - 1))
    attn = toy_attention(num_layers, num_images, grid, num_prefix, extra_heads)
    return make_trace(attn, grid, num_prefix, patch_size, pixels=pixels,
                      prefix_names=names[:num_prefix], model_name="toy")


def patch_rc(grid: tuple[int, int]) -> list[tuple[int, int]]:
    """``(row, col)`` of every patch in row-major order."""
    gh, gw = grid
    return [(q // gw, q % gw) for q in range(gh * gw)]


def neighbour_attention(grid, num_prefix, dy, dx, prefix_mass=0.0, L=1, B=1, H=1,
                        dtype=torch.float64):
    """Every patch query puts (1 - prefix_mass) on the patch (r+dy, c+dx) and prefix_mass on the
    first prefix token. Queries whose neighbour falls outside the grid attend to themselves.
    Returns the attention ``[L, B, H, N, N]`` and the bool mask ``[G]`` of queries whose
    neighbour exists."""
    gh, gw = grid
    n = num_prefix + gh * gw
    a = torch.zeros(n, n, dtype=dtype)
    valid = torch.zeros(gh * gw, dtype=torch.bool)
    for q, (r, c) in enumerate(patch_rc(grid)):
        rr, cc = r + dy, c + dx
        ok = 0 <= rr < gh and 0 <= cc < gw
        valid[q] = ok
        k = rr * gw + cc if ok else q
        a[num_prefix + q, num_prefix + k] = 1 - prefix_mass
        if num_prefix:
            a[num_prefix + q, 0] = prefix_mass
    for p in range(num_prefix):
        a[p] = 1.0 / n
    if prefix_mass and not num_prefix:
        raise ValueError("prefix mass without prefix tokens")
    if not num_prefix:
        a = a / a.sum(-1, keepdim=True)
    return a.expand(L, B, H, n, n).clone(), valid


def tiny_vit(depth: int, seed: int):
    """A random ``ViTModel`` of ``depth`` blocks: 32 px input, 8 px patches (4 x 4 grid), width
    32, 2 heads, 3 classes."""
    from timm.models.vision_transformer import VisionTransformer

    from vitwidgets.core.model import ViTModel

    torch.manual_seed(seed)
    return ViTModel(VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=depth,
                                      num_heads=2, num_classes=3))


def in_own_loop(coroutine_fn):
    """``asyncio.run(coroutine_fn())`` in a thread of its own: a kernel's running loop, whatever
    loop this thread holds (the browser tests' Playwright keeps one running)."""
    out: list = []
    runner = threading.Thread(target=lambda: out.append(asyncio.run(coroutine_fn())))
    runner.start()
    runner.join(60)
    assert out, "the loop did not finish within 60 s"
    return out[0]


def without_loop(fn):
    """``fn()`` in a thread without an event loop (whatever this thread runs); its error is
    raised here."""
    out: list = []

    def call():
        try:
            out.append((True, fn()))
        except Exception as e:
            out.append((False, e))

    runner = threading.Thread(target=call)
    runner.start()
    runner.join(60)
    ok, value = out[0]
    if not ok:
        raise value
    return value
