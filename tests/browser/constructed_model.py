"""A tiny ViT whose block-0 attention is known analytically (used by the browser tests).

The model is the zoo architecture (``vitwidgets.zoo.create_vit``: 64x64 input, patch 8, an 8x8
grid, one CLS token, width D = 128, 4 heads of 32 dimensions, 6 blocks) with block 0 rewritten:

1. The patch embedding is zeroed (weight and bias), and so are the CLS token and its position
   embedding, so the tokens entering block 0 are the position embeddings alone: the image does
   not matter.
2. The position embedding of patch ``(r, c)`` holds, in dims 0..3, the angles of its column and
   row on a circle of period 16 (twice the grid, so nothing wraps around),
   ``u = (cos a_c, sin a_c, cos a_r, sin a_r)`` with ``a_x = 2 pi x / 16``, and ``-u`` in
   dims 4..7; every other dim is 0. Each patch token has mean 0 and the same norm, so ``norm1``
   (LayerNorm, weight 1 and bias 0) only scales every patch token by the same factor
   ``s = sqrt(D / 4)``; the CLS token stays 0.
3. ``qkv`` (bias 0): the key of every head is ``k = beta * s * u`` (the position code); the
   query of head ``h`` is the same code with the column angle advanced by ``dc_h`` steps and the
   row angle by ``dr_h`` steps, ``q = beta * s * (cos(a_c + dc a), sin(a_c + dc a),
   cos(a_r + dr a), sin(a_r + dr a))`` with ``a = 2 pi / 16`` (a rotation of the code, hence a
   linear map of it).

So the score of query patch ``(r, c)`` against key patch ``(r', c')`` is
``scale * beta^2 * s^2 * [cos(a (c' - c - dc)) + cos(a (r' - r - dr))]``, which falls with each
step between ``(r', c')`` and the target ``(r + dr, c + dc)`` (all distances are below half a
period): the head attends most to the target, or to the nearest patch inside the grid when the
target falls outside (a query on the right edge of the "right" head attends to itself). The CLS
key is 0. With ``beta`` as set below each head puts most of its attention on that one key and the
runner-up patch gets a few % of the peak. Head 0 looks one patch right, head 1 one left, head 2
one down, head 3 one up (OFFSETS).

The other blocks keep their random initialisation (noise-like attention), which the layer-switch
test uses as "a different picture".
"""

from __future__ import annotations

import math

import numpy as np

GRID = 8
NUM_PREFIX = 1
#: (dr, dc) of the key every head attends to, relative to the query patch
OFFSETS = ((0, 1), (0, -1), (1, 0), (-1, 0))
BETA = 3.2
PERIOD = 2 * GRID  # no wrap-around inside the grid


def expected_key(head: int, row: int, col: int) -> int:
    """Token index (CLS = 0, then patches row-major) head ``head`` attends to most in block 0
    from query patch ``(row, col)``."""
    dr, dc = OFFSETS[head]
    r = min(max(row + dr, 0), GRID - 1)
    c = min(max(col + dc, 0), GRID - 1)
    return NUM_PREFIX + r * GRID + c


def make_model(seed: int = 0):
    """The constructed timm VisionTransformer (eval mode, float32)."""
    import torch

    from vitwidgets.zoo import create_vit

    torch.manual_seed(seed)
    m = create_vit(num_classes=0).eval()
    D = m.embed_dim
    H = m.blocks[0].attn.num_heads
    hd = D // H
    assert (m.patch_embed.grid_size, H) == ((GRID, GRID), len(OFFSETS)), "zoo arch changed"
    a = 2 * math.pi / PERIOD
    with torch.no_grad():
        m.patch_embed.proj.weight.zero_()
        m.patch_embed.proj.bias.zero_()
        m.cls_token.zero_()
        pos = torch.zeros_like(m.pos_embed)  # [1, 1 + 64, D]
        for r in range(GRID):
            for c in range(GRID):
                u = torch.tensor(
                    [math.cos(a * c), math.sin(a * c), math.cos(a * r), math.sin(a * r)]
                )
                pos[0, NUM_PREFIX + r * GRID + c, 0:4] = u
                pos[0, NUM_PREFIX + r * GRID + c, 4:8] = -u
        m.pos_embed.copy_(pos)
        blk = m.blocks[0]
        blk.norm1.weight.fill_(1.0)
        blk.norm1.bias.zero_()
        W = torch.zeros(3 * D, D)
        for h, (dr, dc) in enumerate(OFFSETS):
            q0, k0 = h * hd, D + h * hd
            # key dims 0..3 of head h = beta * (code in dims 0..3)
            for i in range(4):
                W[k0 + i, i] = BETA
            # query = beta * rotation of the code: columns by dc steps, rows by dr steps
            for base, steps in ((0, dc), (2, dr)):
                cs, sn = math.cos(a * steps), math.sin(a * steps)
                # (cos(x + t), sin(x + t)) = R(t) (cos x, sin x)
                W[q0 + base, base], W[q0 + base, base + 1] = BETA * cs, -BETA * sn
                W[q0 + base + 1, base], W[q0 + base + 1, base + 1] = BETA * sn, BETA * cs
        blk.attn.qkv.weight.copy_(W)
        if blk.attn.qkv.bias is not None:
            blk.attn.qkv.bias.zero_()
    return m


def black_image() -> np.ndarray:
    """A 64x64 black RGB image: under the ``gray`` colour map at opacity 1 a cell's pixel value
    is then monotone in its attention (the brightest patch is white)."""
    return np.zeros((64, 64, 3), dtype=np.uint8)
