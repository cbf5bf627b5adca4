"""Data for vitwidgets: the ShapeWorld procedural dataset and bundled demo photographs."""

from vitwidgets.data import shapeworld
from vitwidgets.data.samples import sample_image, sample_names
from vitwidgets.data.shapeworld import *  # noqa: F403

__all__ = [*shapeworld.__all__, "sample_image", "sample_names"]
