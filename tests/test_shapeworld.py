"""ShapeWorld: deterministic bytes, and ground truth (masks, keypoints, concepts) consistent with
the drawn pixels."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vitwidgets.data import COLOURS, CONCEPTS, SHAPES, ShapeWorld

SAMPLES = 60


@pytest.fixture(scope="module")
def samples():
    ds = ShapeWorld(SAMPLES, seed=0, split="test")
    return [ds[i] for i in range(SAMPLES)]


def test_first_images_have_the_recorded_hash():
    # recorded once; a change here means every recorded zoo number may change too
    ds = ShapeWorld(8, seed=0)
    digest = hashlib.sha256(ds.images().tobytes()).hexdigest()
    assert digest == "60a0251e911b009e103b94dbb7a6be9e8ffc6069c3af0b7b73485f2bcf1b8af2"


def test_same_seed_same_bytes_in_any_order_and_other_seeds_differ():
    a = ShapeWorld(20, seed=3).images()
    b = ShapeWorld(20, seed=3)
    assert np.array_equal(np.asarray(b.image(17)), a[17])  # index generated on its own
    assert np.array_equal(b.images(), a)
    assert not np.array_equal(ShapeWorld(20, seed=4).images(), a)
    assert not np.array_equal(ShapeWorld(20, seed=3, split="val").images(), a)


def test_labels_match_records_and_cover_every_class():
    ds = ShapeWorld(400, seed=0)
    labels = ds.labels
    assert set(labels.tolist()) == set(range(len(SHAPES)))
    for i in range(0, 400, 37):
        assert ds[i][1]["label"] == labels[i]


def test_object_pixels_have_the_object_colour_or_its_dark_texture_shade(samples):
    for img, rec in samples:
        px = np.asarray(img)
        for obj, mask in zip(rec["objects"], rec["object_masks"], strict=True):
            if not mask.any():
                continue
            col = np.array(COLOURS[obj["colour"]])
            dark = np.round(col * 0.45)
            vals = px[mask]
            is_col = (vals == col).all(-1)
            is_dark = (vals == dark).all(-1)
            assert (is_col | is_dark).all(), (rec["index"], obj)
            if obj["texture"] == "solid":
                assert is_col.all()
            elif mask.sum() >= 40:  # a pattern shows both shades once enough of it is visible
                assert is_col.any() and is_dark.any()


def test_masks_are_disjoint_and_concepts_agree_with_objects(samples):
    for _img, rec in samples:
        masks = rec["object_masks"]
        assert (masks.sum(0) <= 1).all()
        cm = rec["concept_masks"]
        index = {name: i for i, (name, _cat) in enumerate(CONCEPTS)}
        for obj, mask in zip(rec["objects"], masks, strict=True):
            for concept in (obj["colour"], obj["texture"], obj["shape"]):
                assert cm[index[concept]][mask].all()
        union = masks.any(0)
        shape_rows = [i for i, (_n, c) in enumerate(CONCEPTS) if c == "shape"]
        assert np.array_equal(cm[shape_rows].any(0), union)
        assert cm[index[f"class:{rec['class_name']}"]].all()
        for name, pm in rec["part_masks"].items():
            assert np.array_equal(cm[index[name]], pm)
            assert (pm <= union).all()


def test_main_object_centre_keypoint_lies_inside_its_mask(samples):
    checked = 0
    for _img, rec in samples:
        name = f"{rec['class_name']}.centre"
        if name not in rec["keypoints"]:
            continue  # arrow, house, tee and ell have no centre keypoint
        x, y, visible = rec["keypoints"][name]
        assert visible
        assert rec["object_masks"][0][int(y), int(x)]
        checked += 1
    assert checked > SAMPLES // 3


def test_bbox_encloses_the_visible_mask(samples):
    for _img, rec in samples:
        for obj, mask in zip(rec["objects"], rec["object_masks"], strict=True):
            if mask.any():
                ys, xs = np.nonzero(mask)
                x0, y0, x1, y1 = obj["bbox"]
                assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_ten_thousand_images_generate():
    images = ShapeWorld(10_000, seed=1).images()
    assert images.shape == (10_000, 64, 64, 3) and images.dtype == np.uint8


@pytest.mark.parametrize("kwargs, match", [
    (dict(split="holdout"), "unknown split"),
    (dict(max_objects=4), "max_objects"),
    (dict(image_size=8), "image_size"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShapeWorld(10, **kwargs)


def test_restyled_scene_keeps_every_object_pixel_and_changes_the_style():
    ds = ShapeWorld(30, seed=0, split="val")
    idx = list(range(30))
    a = ds.restyled(idx, [7] * 30)
    assert np.array_equal(ds.restyled(idx, [7] * 30), a)  # a style is fixed bytes
    assert np.array_equal(ds.restyled([12], [7])[0], a[12])  # and independent of the batch
    b = ds.restyled(idx, [8] * 30)
    original = ds.images()
    changed_colour = 0
    for i in idx:
        rec = ds[i][1]
        # content is kept: each object's visible pixels are single-coloured (with its dark
        # shade) in every style, so the object masks of the original still cut the scene exactly
        for k, mask in enumerate(rec["object_masks"]):
            if not mask.any():  # fully occluded
                continue
            for img in (a[i], b[i]):
                vals = np.unique(img[mask], axis=0)
                assert 1 <= len(vals) <= 2, (i, k)
                shades = {tuple(c) for c in COLOURS.values()} | {
                    tuple(int(v) for v in np.round(np.array(c) * 0.45)) for c in COLOURS.values()}
                assert {tuple(int(v) for v in px) for px in vals} <= shades, (i, k)
        main = rec["object_masks"][0]
        changed_colour += int(not np.array_equal(a[i][main].max(0), original[i][main].max(0)))
    # 8 colours: a new style keeps the main object's colour 1 time in 8 on average
    assert changed_colour >= 20


def test_restyled_refuses_mismatched_or_negative_styles():
    ds = ShapeWorld(5)
    with pytest.raises(ValueError, match="one style per index"):
        ds.restyled([0, 1], [3])
    with pytest.raises(ValueError, match="non-negative"):
        ds.restyled([0], [-1])
    with pytest.raises(IndexError):
        ds.restyled([5], [0])
