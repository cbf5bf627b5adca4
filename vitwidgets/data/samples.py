"""Bundled real photographs for demos (copied from scikit-image's sample data; see
``samples/LICENSES.md``)."""

from __future__ import annotations

from importlib import resources

from PIL import Image

__all__ = ["sample_image", "sample_names"]

_EXTS = (".jpg", ".jpeg", ".png")


def _folder():
    return resources.files("vitwidgets.data") / "samples"


def sample_names() -> list[str]:
    """Names of the bundled photographs (file stems), sorted."""
    return sorted(
        p.name.rsplit(".", 1)[0] for p in _folder().iterdir() if p.name.lower().endswith(_EXTS)
    )


def sample_image(name: str) -> Image.Image:
    """The bundled photograph ``name`` (see :func:`sample_names`) as a PIL RGB image."""
    for p in _folder().iterdir():
        if p.name.lower().endswith(_EXTS) and p.name.rsplit(".", 1)[0] == name:
            with p.open("rb") as f:
                img = Image.open(f)
                img.load()
            return img.convert("RGB")
    raise ValueError(f"unknown sample image {name!r}; available: {sample_names()}")
