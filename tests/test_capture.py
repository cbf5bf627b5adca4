"""Capture exactness across timm ViT families (small random-initialised configs).

For each family: the captured attention equals timm's own unfused computation (the module's
``fused_attn`` turned off on a copy, attention read at ``attn_drop``) to 1e-5, the model's output
with tracing is bitwise the output without, the residual stream and sub-block latents are the
tensors the model computes, and the geometry (grid, prefix tokens, patch size) is right.
"""

from __future__ import annotations

import copy

import pytest
import timm
import torch
from timm.models.deit import VisionTransformerDistilled
from timm.models.eva import Eva
from timm.models.vision_transformer import VisionTransformer

import vitwidgets as vw

SMALL = dict(embed_dim=32, depth=3, num_heads=4, mlp_ratio=2.0)


def _sharpen(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights large enough that attention is far from uniform (a stronger test)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 1 and ("weight" in name or "bias" in name or "gamma" in name
                                or "token" in name or "pos_embed" in name):
                scale = 0.3 if p.ndim > 1 else 0.5
                if "q_norm" in name or "k_norm" in name:
                    scale = 4.0  # normalised q, k need large gains for peaked attention
                p.copy_(torch.randn(p.shape, generator=g) * scale)
    return model.eval()


FAMILIES = {
    "plain_cls_p8": (lambda: VisionTransformer(img_size=32, patch_size=8, **SMALL),
                     (32, 32), (4, 4), ("cls",), 8),
    "patch14": (lambda: VisionTransformer(img_size=42, patch_size=14, **SMALL),
                (42, 42), (3, 3), ("cls",), 14),
    "patch16": (lambda: VisionTransformer(img_size=48, patch_size=16, **SMALL),
                (48, 48), (3, 3), ("cls",), 16),
    "global_pool_no_cls_mae": (
        lambda: VisionTransformer(img_size=32, patch_size=8, class_token=False,
                                  global_pool="avg", **SMALL),
        (32, 32), (4, 4), (), 8),
    "deit_distilled": (lambda: VisionTransformerDistilled(img_size=32, patch_size=8, **SMALL),
                       (32, 32), (4, 4), ("cls", "dist"), 8),
    "registers": (lambda: VisionTransformer(img_size=32, patch_size=8, reg_tokens=4,
                                            no_embed_class=True, **SMALL),
                  (32, 32), (4, 4), ("cls", "reg0", "reg1", "reg2", "reg3"), 8),
    "dinov2_layerscale": (lambda: VisionTransformer(img_size=28, patch_size=14, init_values=1e-5,
                                                    **SMALL),
                          (28, 28), (2, 2), ("cls",), 14),
    "clip_pre_norm": (lambda: VisionTransformer(img_size=32, patch_size=8, pre_norm=True,
                                                **SMALL),
                      (32, 32), (4, 4), ("cls",), 8),
    "qk_norm": (lambda: VisionTransformer(img_size=32, patch_size=8, qk_norm=True, **SMALL),
                (32, 32), (4, 4), ("cls",), 8),
    "non_square_dynamic_224x160": (
        lambda: VisionTransformer(img_size=224, patch_size=16, dynamic_img_size=True, **SMALL),
        (224, 160), (14, 10), ("cls",), 16),
    "eva_rope": (lambda: Eva(img_size=32, patch_size=8, use_rot_pos_emb=True, use_abs_pos_emb=False,
                             **SMALL),
                 (32, 32), (4, 4), ("cls",), 8),
}


def _unfused_reference(model: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """timm's own unfused attention [L, B, H, N, N], read at each block's attn_drop."""
    ref = copy.deepcopy(model)
    captured: list[torch.Tensor] = []
    for blk in ref.blocks:
        blk.attn.fused_attn = False  # this copy only; never the global switch
        blk.attn.attn_drop.register_forward_hook(lambda _m, _i, out: captured.append(out))
    with torch.inference_mode():
        ref(pixels)
    return torch.stack(captured)


@pytest.fixture(params=sorted(FAMILIES), ids=sorted(FAMILIES))
def family(request):
    make, size, grid, prefix, patch = FAMILIES[request.param]
    torch.manual_seed(0)
    return _sharpen(make()), size, grid, prefix, patch


def _pixels(size, batch=2, seed=1):
    return torch.randn((batch, 3, *size), generator=torch.Generator().manual_seed(seed))


def test_captured_attention_equals_timm_unfused_path(family):
    model, size, grid, prefix, _ = family
    m = vw.load_model(model, device="cpu")
    pixels = _pixels(size)
    tr = m.trace(None, pixels=pixels)
    ref = _unfused_reference(model, pixels)
    assert tr.attn.shape == ref.shape
    torch.testing.assert_close(tr.attn, ref, atol=1e-5, rtol=0)
    # far from uniform, so the comparison means something
    assert tr.attn.max() > 3.0 / tr.num_tokens


def test_model_output_with_trace_is_bitwise_output_without(family):
    model, size, *_ = family
    m = vw.load_model(model, device="cpu")
    pixels = _pixels(size)
    with torch.inference_mode():
        plain = model(pixels)
    tr = m.trace(None, pixels=pixels, latents=True)
    assert torch.equal(tr.output, plain)


def test_geometry_grid_prefix_and_shapes(family):
    model, size, grid, prefix, patch = family
    m = vw.load_model(model, device="cpu")
    tr = m.trace(None, pixels=_pixels(size))
    assert tr.grid == grid
    assert tr.patch_size == patch == m.patch_size
    assert tr.prefix_names == prefix and tr.num_prefix == len(prefix)
    n = len(prefix) + grid[0] * grid[1]
    assert tr.attn.shape == (3, 2, 4, n, n)
    assert tr.tokens.shape == (4, 2, n, 32)
    assert (m.num_layers, m.num_heads, m.embed_dim) == (3, 4, 32)


def test_tokens_are_block_inputs_and_outputs_and_latents_are_sub_block_residuals(family):
    model, size, *_ = family
    m = vw.load_model(model, device="cpu")
    pixels = _pixels(size)
    tr = m.trace(None, pixels=pixels, latents=True)
    # reference: run the blocks by hand, recording the residual stream
    with torch.inference_mode():
        inputs: list[torch.Tensor] = []
        hooks = [b.register_forward_pre_hook(lambda _m, a: inputs.append(a[0].clone()))
                 for b in model.blocks]
        feats = model.forward_features(pixels)
        for h in hooks:
            h.remove()
    for layer in range(m.num_layers):
        torch.testing.assert_close(tr.tokens[layer], inputs[layer], atol=0, rtol=0)
    torch.testing.assert_close(model.norm(tr.tokens[-1]), feats, atol=1e-6, rtol=0)
    assert tr.latents.shape[0] == 2 * m.num_layers + 1
    torch.testing.assert_close(tr.latents[0::2], tr.tokens, atol=0, rtol=0)
    with torch.inference_mode():
        blk = model.blocks[1]
        x = tr.tokens[1]
        attn_kwargs = {}
        if isinstance(model, Eva):
            attn_kwargs["rope"] = model.rope.get_embed() if model.rope is not None else None
        branch = blk.attn(blk.norm1(x), **attn_kwargs)
        branch = blk.gamma_1 * branch if getattr(blk, "gamma_1", None) is not None else branch
        branch = blk.ls1(branch) if hasattr(blk, "ls1") else branch
    torch.testing.assert_close(tr.latents[3], x + branch, atol=1e-5, rtol=0)


def test_trace_leaves_fused_attention_switches_untouched():
    from timm.layers import config as timm_config

    model = _sharpen(VisionTransformer(img_size=32, patch_size=8, **SMALL))
    before_global = timm_config.use_fused_attn()
    before_modules = [b.attn.fused_attn for b in model.blocks]
    vw.load_model(model, device="cpu").trace(None, pixels=_pixels((32, 32)))
    assert timm_config.use_fused_attn() == before_global
    assert [b.attn.fused_attn for b in model.blocks] == before_modules
    # and no hook is left behind
    assert all(not b.attn.q_norm._forward_hooks for b in model.blocks)
    assert all(not b._forward_hooks and not b._forward_pre_hooks for b in model.blocks)


def test_layers_option_keeps_only_chosen_blocks_and_float16_storage():
    model = _sharpen(VisionTransformer(img_size=32, patch_size=8, **SMALL))
    m = vw.load_model(model, device="cpu")
    pixels = _pixels((32, 32))
    full = m.trace(None, pixels=pixels)
    part = m.trace(None, pixels=pixels, layers=[-1, 0], attn_dtype=torch.float16, tokens=False)
    assert part.layers == (2, 0)
    assert part.attn.dtype == torch.float16 and part.tokens is None
    torch.testing.assert_close(part.attn[0].float(), full.attn[2], atol=1e-3, rtol=0)
    torch.testing.assert_close(part.attn[part.attn_index(0)].float(), full.attn[0], atol=1e-3,
                               rtol=0)
    with pytest.raises(ValueError, match="not captured"):
        part.attn_index(1)
    with pytest.raises(ValueError, match="out of range"):
        m.trace(None, pixels=pixels, layers=[3])


def test_non_square_image_kept_at_its_size_on_dynamic_model():
    model = _sharpen(VisionTransformer(img_size=224, patch_size=16, dynamic_img_size=True,
                                       **SMALL))
    m = vw.load_model(model, device="cpu")
    img = torch.rand(3, 230, 170)  # cropped to 224 x 160, the largest patch multiples
    tr = m.trace(img, size="keep")
    assert tuple(tr.pixels.shape[-2:]) == (224, 160) and tr.grid == (14, 10)
    tr2 = m.trace(img, size=(160, 224))
    assert tr2.grid == (10, 14)
    assert m.trace(img).grid == (14, 14)  # default: the configured size


def test_fixed_size_model_refuses_other_sizes_with_a_clear_error():
    m = vw.load_model(VisionTransformer(img_size=32, patch_size=8, **SMALL), device="cpu")
    with pytest.raises(ValueError, match="dynamic image size"):
        m.trace(torch.rand(3, 40, 48), size="keep")
    with pytest.raises(ValueError, match="dynamic image size"):
        m.trace(torch.rand(3, 40, 48), size=(40, 48))


def test_trace_from_named_timm_model_random_weights():
    m = vw.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, img_size=64,
                      device="cpu")
    tr = m.trace(torch.rand(3, 80, 64))
    assert tr.grid == (4, 4) and tr.attn.shape == (2, 1, 3, 17, 17)
    assert torch.allclose(tr.attn.sum(-1), torch.ones(()), atol=1e-5)
    assert timm.data.resolve_model_data_config(m.model)["mean"] == m.data_config["mean"]


def test_capture_qk_gives_q_and_k_whose_softmax_is_timm_attention(family):
    model, size, *_ = family
    m = vw.load_model(model, device="cpu")
    pixels = _pixels(size)
    ref = _unfused_reference(model, pixels)
    got: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    m.capture_qk(pixels, lambda layer, q, k: got.__setitem__(layer, (q.clone(), k.clone())))
    assert sorted(got) == list(range(m.num_layers))
    for layer, (q, k) in got.items():
        assert q.shape[-1] == m.head_dim
        attn = torch.softmax(q * m.attention_scale @ k.transpose(-2, -1), dim=-1)
        torch.testing.assert_close(attn, ref[layer], atol=1e-5, rtol=0)


def test_capture_qk_stops_after_the_requested_block():
    torch.manual_seed(0)
    m = vw.load_model(VisionTransformer(img_size=32, patch_size=8, **SMALL), device="cpu")
    seen: list[int] = []
    m.capture_qk(_pixels((32, 32)), lambda layer, q, k: seen.append(layer), stop_after=0)
    assert seen == [0]
