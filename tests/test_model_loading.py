"""load_model: names, instances, local checkpoints, offline behaviour, unsupported models, and the
real DINOv2 weights' documented facts."""

from __future__ import annotations

import pytest
import timm
import torch
from safetensors.torch import save_file

import vitwidgets as vw
from vitwidgets.core.model import UnsupportedModelError
from vitwidgets.loading import WeightsUnavailableError

TINY = dict(depth=2, img_size=32)


def _tiny_state(**kw) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **{**TINY, **kw})
    return model.state_dict()


def test_safetensors_checkpoint_loads_and_reproduces_the_weights(tmp_path):
    state = _tiny_state(num_classes=7)
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    m = vw.load_model("vit_tiny_patch16_224", checkpoint=path, device="cpu", **TINY)
    assert m.model.head.out_features == 7  # classifier size read from the checkpoint
    for k, v in m.model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert m.metadata["checkpoint"] == str(path)


def test_checkpoint_without_head_gives_a_headless_model(tmp_path):
    state = {k: v for k, v in _tiny_state().items() if not k.startswith("head.")}
    path = tmp_path / "backbone.safetensors"
    save_file(state, str(path))
    m = vw.load_model("vit_tiny_patch16_224", checkpoint=path, device="cpu", **TINY)
    assert m.trace(torch.rand(3, 32, 32)).output.shape == (1, 192)


def test_pth_checkpoint_nested_state_dict_loads_with_weights_only(tmp_path):
    state = _tiny_state()
    path = tmp_path / "w.pth"
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}}, path)
    m = vw.load_model("vit_tiny_patch16_224", checkpoint=path, device="cpu", **TINY)
    assert torch.equal(m.model.pos_embed, state["pos_embed"])


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pth_with_pickled_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": _tiny_state(), "x": _Evil()}, path)
    with pytest.raises(ValueError, match="weights_only"):
        vw.load_model("vit_tiny_patch16_224", checkpoint=path, **TINY)
    assert "must never run" not in capsys.readouterr().out


def test_checkpoint_position_embedding_is_resampled_to_another_grid(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(_tiny_state(), str(path))
    m = vw.load_model("vit_tiny_patch16_224", checkpoint=path, device="cpu", depth=2, img_size=64)
    assert m.model.pos_embed.shape == (1, 1 + 16, 192)
    assert m.trace(torch.rand(3, 64, 64)).grid == (4, 4)


def test_checkpoint_of_another_architecture_gives_clear_error(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(_tiny_state(), str(path))
    with pytest.raises(ValueError, match="does not fit this architecture"):
        vw.load_model("vit_tiny_patch16_224", checkpoint=path, depth=3, img_size=32)


@pytest.mark.parametrize("name, error, match", [
    ("weights.onnx", ValueError, "unsupported checkpoint format"),
    ("missing.safetensors", FileNotFoundError, "no checkpoint file"),
])
def test_bad_checkpoint_paths(tmp_path, name, error, match):
    path = tmp_path / name
    if name.endswith(".onnx"):
        path.write_bytes(b"x")
    with pytest.raises(error, match=match):
        vw.load_model("vit_tiny_patch16_224", checkpoint=path)


def test_offline_pretrained_request_names_the_offline_alternatives(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="zoo:dino"):
        vw.load_model("vit_tiny_patch16_224")


def test_unknown_name_suggests_close_timm_names():
    with pytest.raises(ValueError, match="did you mean vit_small_patch16_224"):
        vw.load_model("vit_smal_patch16_224", pretrained=False)


def test_resnet_is_refused_with_the_list_of_supported_families():
    with pytest.raises(UnsupportedModelError, match="Supported: timm VisionTransformer"):
        vw.load_model("resnet18", pretrained=False)
    with pytest.raises(UnsupportedModelError):
        vw.load_model(timm.create_model("resnet18", pretrained=False))


def test_non_models_and_bad_options_are_refused():
    with pytest.raises(TypeError, match="timm model name"):
        vw.load_model(3.14)
    with pytest.raises(ValueError, match="apply to model names, not to a module"):
        vw.load_model(timm.create_model("vit_tiny_patch16_224", **TINY), img_size=64)
    with pytest.raises(ValueError, match="either checkpoint"):
        vw.load_model("vit_tiny_patch16_224", checkpoint="x.safetensors", pretrained=True)


def test_instance_geometry_identity_and_device():
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, reg_tokens=2, **TINY)
    m = vw.load_model(model, device="cpu")
    assert (m.patch_size, m.num_layers, m.num_heads, m.embed_dim) == (16, 2, 3, 192)
    assert m.prefix_names == ("cls", "reg0", "reg1") and m.num_prefix == 3
    assert m.input_size == (32, 32) and m.grid_for(32, 32) == (2, 2)
    assert m.device == torch.device("cpu") and next(m.model.parameters()).device.type == "cpu"
    ident = m.identity
    assert ident["num_layers"] == 2 and len(ident["weights_sha256"]) == 64
    assert vw.load_model(m) is m
    with pytest.raises(ValueError, match="multiple of the patch size"):
        m.grid_for(33, 32)


def test_fingerprint_changes_when_weights_change():
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **TINY)
    a = vw.load_model(model, device="cpu").fingerprint
    with torch.no_grad():
        model.cls_token.add_(1)
    assert vw.load_model(model, device="cpu").fingerprint != a


# -- the real DINOv2 ViT-S/14 weights (shared/weights/README.md) ---------------------------------
@pytest.fixture(scope="module")
def dinov2(dinov2_weights):
    return vw.load_model("vit_small_patch14_dinov2", checkpoint=dinov2_weights, img_size=224,
                         device="cpu")


def test_dinov2_weights_load_with_documented_geometry(dinov2):
    geometry = (dinov2.patch_size, dinov2.num_layers, dinov2.num_heads, dinov2.embed_dim)
    assert geometry == (14, 12, 6, 384)
    assert dinov2.prefix_names == ("cls",) and dinov2.grid_for(224, 224) == (16, 16)
    assert dinov2.data_config["mean"] == (0.485, 0.456, 0.406)


def test_dinov2_cls_cosine_facts_from_the_weights_readme(dinov2):
    from PIL import Image
    from skimage import data

    cat = Image.fromarray(data.chelsea())
    images = [cat, cat.transpose(Image.FLIP_LEFT_RIGHT), Image.fromarray(data.coffee()),
              Image.fromarray(data.astronaut())]
    tr = dinov2.trace(images, attention=False, tokens=False)
    cls = torch.nn.functional.normalize(tr.output, dim=-1)
    cos = (cls[0] @ cls[1:].T).tolist()
    # README: flip 0.97, coffee 0.50, astronaut 0.29 (our resampling differs from PIL's slightly)
    assert cos[0] == pytest.approx(0.97, abs=0.03)
    assert cos[1] == pytest.approx(0.50, abs=0.04)
    assert cos[2] == pytest.approx(0.29, abs=0.04)
    assert cos[0] > cos[1] > cos[2]


def test_dinov2_first_pca_component_separates_the_cat_from_the_background(dinov2):
    from skimage import data

    tr = dinov2.trace(data.chelsea(), attention=False)
    patches = tr.patch_tokens(-1)[0]  # [G, D]
    centred = patches - patches.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    pc1 = (centred @ v[0]).reshape(16, 16)
    # chelsea: the cat's face fills the centre; the right edge is background
    cat_face = pc1[2:10, 4:12].mean()
    right_edge = pc1[4:11, 15].mean()
    assert torch.sign(cat_face) != torch.sign(right_edge)
    assert abs(cat_face - right_edge) > 1.5 * pc1.std()


def test_offline_error_is_short_says_why_and_drops_the_hub_chain(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        vw.load_model("vit_tiny_patch16_224")
    e = info.value
    assert str(e).startswith(
        "could not fetch pretrained weights for 'vit_tiny_patch16_224': the model hub is "
        "switched off here (HF_HUB_OFFLINE=1). Offline alternatives: the bundled mini zoo"
    )
    assert "checkpoint='weights.safetensors'" in str(e) and "vit_tiny_patch16_224'," in str(e)
    assert e.__cause__ is None and e.__suppress_context__, "the hub's chain is not shown"
    assert e.__context__ is not None, "but kept for whoever digs"
    assert isinstance(e, RuntimeError)


def test_a_timm_option_the_model_does_not_take_is_a_short_type_error():
    with pytest.raises(TypeError, match=r"vw.load_model\('vit_tiny_patch16_224', \.\.\.\): "
                                        r"timm's vit_tiny_patch16_224 does not take an option "
                                        r".*options given: img_sise") as info:
        vw.load_model("vit_tiny_patch16_224", pretrained=False, img_sise=64)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_zoo_and_module_option_errors_name_the_call():
    with pytest.raises(ValueError, match=r"^vw.load_model\('zoo:dino'\): zoo models take no"):
        vw.load_model("zoo:dino", img_size=64)
    with pytest.raises(ValueError, match=r"^unknown zoo model 'dinosaur'; the zoo holds"):
        vw.load_model("zoo:dinosaur")
