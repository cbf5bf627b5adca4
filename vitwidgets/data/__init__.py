"""Data for vitwidgets: the ShapeWorld procedural dataset and bundled demo photographs."""

from vitwidgets.data.samples import sample_image, sample_names
from vitwidgets.data.shapeworld import (
    COLOURS,
    CONCEPTS,
    PARTS,
    SHAPES,
    SPLITS,
    TEXTURES,
    ShapeWorld,
)

__all__ = [
    "COLOURS",
    "CONCEPTS",
    "PARTS",
    "SHAPES",
    "SPLITS",
    "TEXTURES",
    "ShapeWorld",
    "sample_image",
    "sample_names",
]
