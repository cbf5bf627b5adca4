"""ShapeWorld: a deterministic procedural image dataset with ground truth for every analysis.

Each image shows one to three objects on a low-contrast textured background. The **main
object** (index 0) is the largest one and is drawn on top; its shape is the image's class label.
Every object has a shape (one of :data:`SHAPES`), a colour (:data:`COLOURS`) and a texture
(:data:`TEXTURES`). Objects in one image always have distinct shapes, so keypoint and part names
are unique within an image.

Ground truth carried by every sample (see :meth:`ShapeWorld.__getitem__`):

* ``label`` / ``class_name``: the main object's shape.
* ``object_masks``: ``bool [K, S, S]`` visible (after occlusion) mask of each object, main first.
* ``part_masks``: ``{"arrow.head": bool [S, S], ...}`` for shapes that have parts.
* ``keypoints``: ``{"star.tip0": (x, y, visible), ...}`` in pixels (x right, y down, pixel
  centres at integer + 0.5). The same name is the same semantic point in every image: names are
  defined in the shape's own frame, and rotations stay within +-30 degrees.
* ``concept_masks``: ``bool [C, S, S]`` over the fixed global vocabulary :data:`CONCEPTS`
  (``(name, category)`` pairs, categories ``colour``, ``texture``, ``shape``, ``part``,
  ``class``). Colour, texture and shape masks are per pixel (the visible pixels of the objects that
  have them), part masks per pixel; the ``class`` concept is an image-level label (the whole image
  for the main object's class, as Broden/Network Dissection treats scene labels).

Determinism: sample ``i`` of split ``s`` with seed ``k`` is drawn from
``numpy.random.default_rng([k, SPLITS[s], i])`` only, so any index can be generated on its own,
in any order, and always gives the same bytes.

Style views: :meth:`ShapeWorld.restyled` renders the same scene (content, hence every mask and
keypoint) with new colours, textures and background, for self-supervised training.

Rendering is aliased on purpose: every pixel belongs to exactly one object or to the background,
so masks match the drawn pixels exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "COLOURS",
    "CONCEPTS",
    "PARTS",
    "SHAPES",
    "SPLITS",
    "TEXTURES",
    "ShapeWorld",
]

#: split name -> integer mixed into the seed; splits are independent streams.
SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2}

#: colour name -> RGB (uint8). Saturated and far apart so that colour is unambiguous.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (235, 220, 30),
    "green": (40, 170, 50),
    "cyan": (30, 200, 210),
    "blue": (35, 60, 215),
    "purple": (120, 40, 170),
    "magenta": (220, 40, 170),
}

#: object textures; in a textured object the pattern's "on" pixels carry the exact object colour
#: and the "off" pixels a darkened version (0.45 x) of it.
TEXTURES: tuple[str, ...] = ("solid", "stripes", "dots", "checker", "grid")

_DARK = 0.45


# --------------------------------------------------------------------------------------------
# Shapes: polygons in a canonical frame (x right, y down, object roughly inside [-1, 1]^2)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """A shape: named parts (each a polygon, drawn in order) and named keypoints."""

    name: str
    parts: tuple[tuple[str | None, np.ndarray], ...]  # (part name or None, [V, 2] polygon)
    keypoints: dict[str, tuple[float, float]] = field(default_factory=dict)


def _regular(n: int, r: float = 1.0, start_deg: float = -90.0) -> np.ndarray:
    a = np.deg2rad(start_deg + 360.0 * np.arange(n) / n)
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def _poly(*pts: tuple[float, float]) -> np.ndarray:
    return np.asarray(pts, dtype=np.float64)


def _build_shapes() -> tuple[_Shape, ...]:
    shapes = []
    shapes.append(_Shape("circle", ((None, _regular(40, 1.0)),), {"centre": (0.0, 0.0)}))
    sq = _poly((-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85))
    shapes.append(
        _Shape(
            "square",
            ((None, sq),),
            dict(zip(("top_left", "top_right", "bottom_right", "bottom_left"), map(tuple, sq),
                     strict=True))
            | {"centre": (0.0, 0.0)},
        )
    )
    tri = _poly((0.0, -1.0), (0.95, 0.75), (-0.95, 0.75))
    shapes.append(
        _Shape(
            "triangle",
            ((None, tri),),
            {"apex": tuple(tri[0]), "right": tuple(tri[1]), "left": tuple(tri[2]),
             "centre": (0.0, 0.15)},
        )
    )
    pent = _regular(5, 1.0)
    shapes.append(
        _Shape(
            "pentagon",
            ((None, pent),),
            {f"corner{i}": tuple(p) for i, p in enumerate(pent)} | {"centre": (0.0, 0.0)},
        )
    )
    hexa = _regular(6, 1.0, start_deg=0.0)
    shapes.append(
        _Shape(
            "hexagon",
            ((None, hexa),),
            {f"corner{i}": tuple(p) for i, p in enumerate(hexa)} | {"centre": (0.0, 0.0)},
        )
    )
    outer = _regular(5, 1.05)
    inner = _regular(5, 0.42, start_deg=-90.0 + 36.0)
    tips = [
        _poly(tuple(outer[i]), tuple(inner[i]), tuple(inner[(i - 1) % 5])) for i in range(5)
    ]
    shapes.append(
        _Shape(
            "star",
            (("core", inner),) + tuple(("tips", t) for t in tips),
            {f"tip{i}": tuple(outer[i]) for i in range(5)} | {"centre": (0.0, 0.0)},
        )
    )
    w = 0.33
    shapes.append(
        _Shape(
            "cross",
            ((None, _poly((-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1),
                          (-w, w), (-1, w), (-1, -w), (-w, -w))),),
            {"top": (0.0, -1.0), "right": (1.0, 0.0), "bottom": (0.0, 1.0), "left": (-1.0, 0.0),
             "centre": (0.0, 0.0)},
        )
    )
    shapes.append(
        _Shape(
            "arrow",
            (
                ("shaft", _poly((-1.0, -0.25), (0.15, -0.25), (0.15, 0.25), (-1.0, 0.25))),
                ("head", _poly((0.1, -0.75), (1.0, 0.0), (0.1, 0.75))),
            ),
            {"tip": (1.0, 0.0), "barb_top": (0.1, -0.75), "barb_bottom": (0.1, 0.75),
             "tail_top": (-1.0, -0.25), "tail_bottom": (-1.0, 0.25)},
        )
    )
    shapes.append(
        _Shape(
            "house",
            (
                ("body", _poly((-0.7, -0.05), (0.7, -0.05), (0.7, 0.95), (-0.7, 0.95))),
                ("roof", _poly((0.0, -1.0), (0.95, 0.0), (-0.95, 0.0))),
            ),
            {"roof_apex": (0.0, -1.0), "eave_right": (0.95, 0.0), "eave_left": (-0.95, 0.0),
             "base_right": (0.7, 0.95), "base_left": (-0.7, 0.95)},
        )
    )
    shapes.append(
        _Shape(
            "tee",
            (
                ("bar", _poly((-1.0, -1.0), (1.0, -1.0), (1.0, -0.45), (-1.0, -0.45))),
                ("stem", _poly((-0.28, -0.5), (0.28, -0.5), (0.28, 1.0), (-0.28, 1.0))),
            ),
            {"bar_left": (-1.0, -1.0), "bar_right": (1.0, -1.0), "stem_foot_left": (-0.28, 1.0),
             "stem_foot_right": (0.28, 1.0)},
        )
    )
    shapes.append(
        _Shape(
            "ell",
            (
                ("upright", _poly((-0.8, -1.0), (-0.25, -1.0), (-0.25, 0.45), (-0.8, 0.45))),
                ("foot", _poly((-0.8, 0.4), (0.9, 0.4), (0.9, 1.0), (-0.8, 1.0))),
            ),
            {"top": (-0.8, -1.0), "corner": (-0.8, 1.0), "toe": (0.9, 1.0),
             "heel_top": (0.9, 0.4)},
        )
    )
    dia = _poly((0.0, -1.0), (0.62, 0.0), (0.0, 1.0), (-0.62, 0.0))
    shapes.append(
        _Shape(
            "diamond",
            ((None, dia),),
            {"top": (0.0, -1.0), "right": (0.62, 0.0), "bottom": (0.0, 1.0),
             "left": (-0.62, 0.0), "centre": (0.0, 0.0)},
        )
    )
    return tuple(shapes)


_SHAPES = _build_shapes()
_SHAPE_INDEX = {s.name: i for i, s in enumerate(_SHAPES)}

#: the shape classes, in label order.
SHAPES: tuple[str, ...] = tuple(s.name for s in _SHAPES)

#: part names ``"<shape>.<part>"`` (shapes with parts only).
PARTS: tuple[str, ...] = tuple(
    dict.fromkeys(f"{s.name}.{p}" for s in _SHAPES for p, _ in s.parts if p is not None)
)

#: the global concept vocabulary: ``(name, category)``; ``concept_masks[c]`` follows this order.
CONCEPTS: tuple[tuple[str, str], ...] = (
    tuple((c, "colour") for c in COLOURS)
    + tuple((t, "texture") for t in TEXTURES)
    + tuple((s, "shape") for s in SHAPES)
    + tuple((p, "part") for p in PARTS)
    + tuple((f"class:{s}", "class") for s in SHAPES)
)
_CONCEPT_INDEX = {name: i for i, (name, _) in enumerate(CONCEPTS)}


# --------------------------------------------------------------------------------------------
# Textures: binary "on" patterns over pixel coordinates
# --------------------------------------------------------------------------------------------


def _pattern(kind: str, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator,
             scale: float) -> np.ndarray:
    """Binary pattern ``bool [S, S]`` (True = "on" pixel). ``scale`` = image side / 64."""
    if kind == "solid":
        return np.ones(yy.shape, dtype=bool)
    period = float(rng.uniform(5.0, 8.0)) * scale
    phase = float(rng.uniform(0.0, period))
    if kind == "stripes":
        theta = float(rng.choice([0.0, 45.0, 90.0, 135.0])) * math.pi / 180.0
        u = xx * math.cos(theta) + yy * math.sin(theta) + phase
        return (np.floor(u / (period / 2.0)) % 2) == 0
    if kind == "dots":
        u = (xx + phase) % period - period / 2.0
        v = (yy + phase) % period - period / 2.0
        return u * u + v * v <= (0.3 * period) ** 2
    if kind == "checker":
        p = period / 2.0 + 0.5
        return ((np.floor((xx + phase) / p) + np.floor((yy + phase) / p)) % 2) == 0
    if kind == "grid":
        u = (xx + phase) % period
        v = (yy + phase) % period
        t = max(1.0, 0.4 * period)
        return ~((u < t) | (v < t))
    raise ValueError(f"unknown texture {kind!r}; expected one of {TEXTURES}")


# --------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------


@dataclass
class _Rendered:
    image: np.ndarray  # uint8 [S, S, 3]
    owner: np.ndarray  # int8 [S, S]: object index owning the pixel, -1 = background
    part_owner: np.ndarray  # int16 [S, S]: index into PARTS, -1 = none
    objects: list[dict[str, Any]]


class ShapeWorld:
    """A torch-style map dataset of procedural images with exact ground truth.

    Args:
        n: number of samples.
        seed: dataset seed; with ``split`` and the index it fully determines each sample.
        image_size: side ``S`` of the square RGB images in pixels (default 64). Shapes, textures
            and the background scale with it.
        split: ``"train"``, ``"val"`` or ``"test"`` (independent random streams).
        max_objects: 1 to 3; each image has ``1..max_objects`` objects (uniform).
        transform: optional callable applied to the PIL image in ``__getitem__``.

    ``ds[i]`` returns ``(image, record)``: a PIL RGB image (or ``transform(image)``) and a dict
    with keys ``index``, ``label`` (int), ``class_name``, ``objects`` (list of per-object dicts:
    ``shape``, ``colour``, ``texture``, ``centre`` (x, y) px, ``radius`` px, ``angle`` degrees,
    ``bbox`` (x0, y0, x1, y1) px of the visible mask), ``object_masks`` (bool ``[K, S, S]``),
    ``part_masks`` (name -> bool ``[S, S]``), ``keypoints`` (name -> (x, y, visible)),
    ``concept_masks`` (bool ``[C, S, S]`` over :data:`CONCEPTS`) and ``concepts`` (the
    :data:`CONCEPTS` list). For training use :meth:`images` and :attr:`labels`, which skip the
    ground-truth records.
    """

    classes: tuple[str, ...] = SHAPES
    concepts: tuple[tuple[str, str], ...] = CONCEPTS
    num_classes: int = len(SHAPES)

    def __init__(
        self,
        n: int,
        seed: int = 0,
        image_size: int = 64,
        split: str = "train",
        max_objects: int = 3,
        transform: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {tuple(SPLITS)}")
        if not 1 <= max_objects <= 3:
            raise ValueError("max_objects must be 1, 2 or 3")
        if image_size < 16:
            raise ValueError("image_size must be at least 16 pixels")
        self.n = int(n)
        self.seed = int(seed)
        self.image_size = int(image_size)
        self.split = split
        self.max_objects = int(max_objects)
        self.transform = transform
        s = self.image_size
        self._yy, self._xx = np.mgrid[0:s, 0:s].astype(np.float64) + 0.5
        self._labels: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (
            f"ShapeWorld(n={self.n}, seed={self.seed}, image_size={self.image_size}, "
            f"split={self.split!r}, max_objects={self.max_objects})"
        )

    # ---- public accessors -------------------------------------------------------------------

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        index = self._check_index(index)
        r = self._render(index)
        img = Image.fromarray(r.image, mode="RGB")
        if self.transform is not None:
            img = self.transform(img)
        return img, self._record(index, r)

    def image(self, index: int) -> Image.Image:
        """Sample ``index`` as a PIL RGB image of size ``S x S``."""
        return Image.fromarray(self._render(self._check_index(index)).image, mode="RGB")

    def images(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Images ``start..stop-1`` as ``uint8 [n, S, S, 3]`` (fast path, no records)."""
        stop = self.n if stop is None else min(stop, self.n)
        out = np.empty((max(stop - start, 0), self.image_size, self.image_size, 3), np.uint8)
        for j, i in enumerate(range(start, stop)):
            out[j] = self._render(i).image
        return out

    def restyled(self, indices: Any, styles: Any) -> np.ndarray:
        """Scenes ``indices`` re-rendered in other styles, ``uint8 [n, S, S, 3]``.

        Each scene keeps its content (shapes, sizes, positions, rotations, occlusion order, hence
        label, masks and keypoints) and gets new object colours, object textures and background,
        drawn from ``numpy.random.default_rng([seed, split, index, 1 + style])``: style ``k`` of
        a scene is always the same bytes, and different styles are independent draws (two
        styles may repeat a colour by chance). These are content-preserving, style-changing
        views in the sense of von Kuegelgen et al. (NeurIPS 2021), ShapeWorld's counterpart of
        the colour jitter of self-supervised training; ``images()`` is the original style.
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        styles = np.asarray(styles, dtype=np.int64).reshape(-1)
        if indices.shape != styles.shape:
            raise ValueError(f"need one style per index: got {len(indices)} indices and "
                             f"{len(styles)} styles")
        if (styles < 0).any():
            raise ValueError("styles must be non-negative integers")
        out = np.empty((len(indices), self.image_size, self.image_size, 3), np.uint8)
        for j, (i, k) in enumerate(zip(indices.tolist(), styles.tolist(), strict=True)):
            out[j] = self._render(self._check_index(i), style=k).image
        return out

    @property
    def labels(self) -> np.ndarray:
        """Class labels of all samples, ``int64 [n]`` (cheap: no drawing)."""
        if self._labels is None:
            self._labels = np.array(
                [self._layout(i)[0]["shape"] for i in range(self.n)], dtype=np.int64
            )
        return self._labels

    def concept_index(self, name: str) -> int:
        """Row of ``concept_masks`` holding concept ``name``."""
        return _CONCEPT_INDEX[name]

    # ---- generation -------------------------------------------------------------------------

    def _check_index(self, index: int) -> int:
        index = int(index)
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} samples")
        return index

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, SPLITS[self.split], index])

    def _layout(self, index: int) -> list[dict[str, Any]]:
        """Objects of sample ``index`` (main first): shape, colour, texture, pose. Drawing the
        layout consumes only the first draws of the sample's generator, so labels are cheap."""
        rng = self._rng(index)
        s = self.image_size
        k = int(rng.integers(1, self.max_objects + 1))
        shapes = rng.choice(len(SHAPES), size=k, replace=False)
        objs = []
        for j in range(k):
            main = j == 0
            radius = s * (rng.uniform(0.24, 0.34) if main else rng.uniform(0.12, 0.18))
            margin = radius * 0.9
            cx = rng.uniform(margin, s - margin)
            cy = rng.uniform(margin, s - margin)
            objs.append(
                {
                    "shape": int(shapes[j]),
                    "colour": int(rng.integers(len(COLOURS))),
                    "texture": int(rng.integers(len(TEXTURES))),
                    "centre": (float(cx), float(cy)),
                    "radius": float(radius),
                    "angle": float(rng.uniform(-30.0, 30.0)),
                }
            )
        # the generator continues after the layout for background and textures
        objs[0]["_rng"] = rng
        return objs

    def _render(self, index: int, style: int | None = None) -> _Rendered:
        s = self.image_size
        scale = s / 64.0
        objs = self._layout(index)
        rng: np.random.Generator = objs[0].pop("_rng")
        if style is not None:
            # same content, new style: colours, textures and background from the style's stream
            rng = np.random.default_rng([self.seed, SPLITS[self.split], index, 1 + int(style)])
            for o in objs:
                o["colour"] = int(rng.integers(len(COLOURS)))
                o["texture"] = int(rng.integers(len(TEXTURES)))
        yy, xx = self._yy, self._xx

        # background: pale grey-ish base with a low-contrast pattern and a smooth gradient
        base = rng.uniform(95, 175, size=3) * np.array([1.0, 1.0, 1.0]) + rng.uniform(-18, 18, 3)
        kind = TEXTURES[1 + int(rng.integers(len(TEXTURES) - 1))]
        pat = _pattern(kind, yy, xx, rng, scale * 1.6).astype(np.float64)
        amp = rng.uniform(8.0, 22.0)
        g = rng.uniform(-0.4, 0.4, size=2) * 40.0 / s
        grad = (xx - s / 2) * g[0] + (yy - s / 2) * g[1]
        img = base[None, None, :] + (amp * (pat - 0.5) + grad)[..., None]
        img = np.clip(img, 0, 255)

        owner = np.full((s, s), -1, dtype=np.int8)
        part_owner = np.full((s, s), -1, dtype=np.int16)
        # draw distractors first, the main object last (on top)
        order = list(range(1, len(objs))) + [0]
        for j in order:
            o = objs[j]
            shape = _SHAPES[o["shape"]]
            a = math.radians(o["angle"])
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            c = np.array(o["centre"])
            canvas = Image.new("L", (s, s), 0)
            draw = ImageDraw.Draw(canvas)
            part_ids = []
            for pi, (pname, poly) in enumerate(shape.parts):
                pts = poly @ rot.T * o["radius"] + c
                draw.polygon([tuple(p) for p in pts], fill=pi + 1)
                part_ids.append(-1 if pname is None else PARTS.index(f"{shape.name}.{pname}"))
            lab = np.asarray(canvas)
            m = lab > 0
            on = _pattern(TEXTURES[o["texture"]], yy, xx, rng, scale)
            col = np.array(COLOURS[list(COLOURS)[o["colour"]]], dtype=np.float64)
            img[m] = np.where(on[m][:, None], col, np.round(col * _DARK))
            owner[m] = j
            pid = np.asarray(part_ids, dtype=np.int16)[lab[m] - 1]
            part_owner[m] = pid
            o["keypoints_xy"] = {
                f"{shape.name}.{kn}": tuple(np.asarray(kp) @ rot.T * o["radius"] + c)
                for kn, kp in shape.keypoints.items()
            }
        return _Rendered(np.round(img).astype(np.uint8), owner, part_owner, objs)

    def _record(self, index: int, r: _Rendered) -> dict[str, Any]:
        s = self.image_size
        k = len(r.objects)
        object_masks = r.owner[None] == np.arange(k, dtype=np.int8)[:, None, None]
        part_masks = {
            PARTS[p]: r.part_owner == p for p in np.unique(r.part_owner) if p >= 0
        }
        objects, keypoints = [], {}
        concept_masks = np.zeros((len(CONCEPTS), s, s), dtype=bool)
        colour_names = list(COLOURS)
        for j, o in enumerate(r.objects):
            m = object_masks[j]
            ys, xs = np.nonzero(m)
            bbox = (
                (float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1)
                if len(xs)
                else (0.0, 0.0, 0.0, 0.0)
            )
            objects.append(
                {
                    "shape": SHAPES[o["shape"]],
                    "colour": colour_names[o["colour"]],
                    "texture": TEXTURES[o["texture"]],
                    "centre": o["centre"],
                    "radius": o["radius"],
                    "angle": o["angle"],
                    "bbox": bbox,
                }
            )
            for name, (x, y) in o["keypoints_xy"].items():
                visible = _near_mask(m, x, y)
                keypoints[name] = (float(x), float(y), visible)
            concept_masks[_CONCEPT_INDEX[colour_names[o["colour"]]]] |= m
            concept_masks[_CONCEPT_INDEX[TEXTURES[o["texture"]]]] |= m
            concept_masks[_CONCEPT_INDEX[SHAPES[o["shape"]]]] |= m
        for name, pm in part_masks.items():
            concept_masks[_CONCEPT_INDEX[name]] = pm
        main = SHAPES[r.objects[0]["shape"]]
        concept_masks[_CONCEPT_INDEX[f"class:{main}"]] = True
        return {
            "index": index,
            "label": int(r.objects[0]["shape"]),
            "class_name": main,
            "objects": objects,
            "object_masks": object_masks,
            "part_masks": part_masks,
            "keypoints": keypoints,
            "concept_masks": concept_masks,
            "concepts": CONCEPTS,
        }


def _near_mask(mask: np.ndarray, x: float, y: float, tol: float = 1.0) -> bool:
    """True when some mask pixel centre lies within ``tol`` pixels (Chebyshev) of ``(x, y)``."""
    s = mask.shape[0]
    x0, x1 = max(int(math.floor(x - 0.5 - tol)), 0), min(int(math.ceil(x - 0.5 + tol)), s - 1)
    y0, y1 = max(int(math.floor(y - 0.5 - tol)), 0), min(int(math.ceil(y - 0.5 + tol)), s - 1)
    if x0 > x1 or y0 > y1:
        return False
    return bool(mask[y0 : y1 + 1, x0 : x1 + 1].any())
