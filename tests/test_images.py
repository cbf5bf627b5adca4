"""Image input: every accepted kind converts to the same RGB tensor; bad input is refused clearly;
the eval geometry follows timm's data config."""

from __future__ import annotations

import numpy as np
import pytest
import timm.data
import torch
from PIL import Image

import vitwidgets as vw
from vitwidgets.core.images import resize_and_crop, to_rgb_tensors

RGB = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3


def test_pil_numpy_torch_and_path_inputs_agree(tmp_path):
    path = tmp_path / "im.png"
    Image.fromarray(RGB).save(path)
    expected = torch.from_numpy(RGB.astype(np.float32) / 255).permute(2, 0, 1)
    for image in (Image.fromarray(RGB), RGB, RGB.astype(np.float64) / 255, str(path), path,
                  torch.from_numpy(RGB).permute(2, 0, 1),
                  torch.from_numpy(RGB).permute(2, 0, 1).float() / 255):
        (out,) = to_rgb_tensors(image)
        torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_batches_and_lists_become_one_tensor_per_image():
    assert len(to_rgb_tensors(torch.rand(5, 3, 8, 8))) == 5
    batch = np.stack([RGB, RGB[::-1]])
    a, b = to_rgb_tensors(batch)
    assert torch.equal(b, to_rgb_tensors(RGB[::-1].copy())[0]) and a.shape == (3, 4, 6)
    assert len(to_rgb_tensors([RGB, Image.fromarray(RGB), torch.rand(2, 3, 4, 6)])) == 4


def test_grayscale_palette_rgba_and_16bit_images_are_converted():
    grey = np.full((4, 4), 128, np.uint8)
    (g,) = to_rgb_tensors(Image.fromarray(grey))
    assert g.shape == (3, 4, 4) and torch.allclose(g, torch.full_like(g, 128 / 255))
    (g2,) = to_rgb_tensors(grey)
    assert torch.equal(g, g2)
    # palette: red and blue entries
    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((1, 0), 1)
    (p,) = to_rgb_tensors(pal)
    assert p[:, 0, 0].tolist() == [1, 0, 0] and p[:, 0, 1].tolist() == [0, 0, 1]
    # RGBA: fully transparent pixel becomes white, opaque keeps its colour, half blends
    rgba = np.array([[[255, 0, 0, 0], [255, 0, 0, 255], [0, 0, 0, 128]]], np.uint8)
    (a,) = to_rgb_tensors(Image.fromarray(rgba, "RGBA"))
    assert a[:, 0, 0].tolist() == [1, 1, 1] and a[:, 0, 1].tolist() == [1, 0, 0]
    torch.testing.assert_close(a[:, 0, 2], torch.full((3,), 1 - 128 / 255), atol=1e-6, rtol=0)
    # 16-bit: full scale -> 1
    deep = np.array([[0, 65535]], np.uint16)
    (d,) = to_rgb_tensors(Image.fromarray(deep))
    assert d[0].tolist() == [[0.0, 1.0]]
    (d2,) = to_rgb_tensors(deep)
    assert torch.equal(d, d2)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.zeros((3, 8, 8), np.uint8), ValueError, "channels-first"),
        (torch.zeros(8, 8, 3), ValueError, "channels-last"),
        (np.full((4, 4, 3), 2.0), ValueError, r"\[0, 1\]"),
        (np.full((4, 4, 3), np.nan), ValueError, "NaN"),
        (torch.zeros(2, 2, 3, 4, 4), ValueError, "shape"),
        (np.zeros((2, 2, 4, 4, 3), np.uint8), ValueError, "shape"),
        (42, TypeError, "expected a PIL image"),
        ([], ValueError, "empty list"),
        ([[RGB]], TypeError, "nested"),
    ],
)
def test_bad_inputs_raise_clear_errors(bad, error, match):
    with pytest.raises(error, match=match):
        to_rgb_tensors(bad)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image file"):
        to_rgb_tensors(tmp_path / "nope.jpg")


def test_resize_and_crop_keeps_the_centre_of_a_wide_image():
    # left third red, middle third green, right third blue; crop to a square keeps the middle
    img = torch.zeros(3, 30, 90)
    img[0, :, :30] = 1
    img[1, :, 30:60] = 1
    img[2, :, 60:] = 1
    out = resize_and_crop(img, (30, 30), crop_pct=1.0)
    assert out.shape == (3, 30, 30)
    assert out[1].mean() > 0.99 and out[0].mean() < 0.01


def test_preprocess_matches_timm_eval_transform_on_a_photo():
    pytest.importorskip("skimage")
    from skimage import data

    m = vw.load_model("vit_tiny_patch16_224", pretrained=False, depth=1, device="cpu")
    photo = Image.fromarray(data.chelsea())
    ours = m.preprocess(photo)[0]
    cfg = timm.data.resolve_model_data_config(m.model)
    theirs = timm.data.create_transform(**cfg, is_training=False)(photo)
    assert ours.shape == theirs.shape == (3, 224, 224)
    # PIL's uint8 bicubic and torch's float antialiased bicubic differ by rounding only:
    # measured 0.031 in normalised units (~0.007 of the pixel range); a one-pixel shift is 0.08
    assert (ours - theirs).abs().mean() < 0.045
