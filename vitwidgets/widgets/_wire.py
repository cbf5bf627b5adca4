"""The wire format: how the analysis core's torch answers travel to the browser, in one place.

Arrays travel as raw little-endian bytes in a message buffer, described by ``{name, shape,
dtype}`` (as jupyter-scatter's ndarray serializer does); the frontend decodes them with
``js/src/codecs.js``. Images travel as PNG. Nothing here computes anything about the model.
"""

from __future__ import annotations

import io
import json

import numpy as np
import torch
from PIL import Image

__all__ = ["encode_array", "png_bytes", "synced_bytes", "WIRE_DTYPES"]

#: dtypes the frontend decodes (js/src/codecs.js), by wire name
WIRE_DTYPES = {"float16": torch.float16, "float32": torch.float32}


def encode_array(name: str, x: torch.Tensor, dtype: str = "float16") -> tuple[dict, bytes]:
    """``x`` (any device) as ``({"name", "shape", "dtype"}, bytes)`` in C order.

    float16 keeps about 3 significant digits (relative error <= 2**-11 = 4.9e-4 for normal
    values; attention below 6.1e-5 is stored subnormal, with absolute error <= 3e-8).
    """
    if dtype not in WIRE_DTYPES:
        raise ValueError(f"wire dtype must be one of {sorted(WIRE_DTYPES)}, got {dtype!r}")
    array = x.detach().to("cpu", WIRE_DTYPES[dtype]).contiguous()
    return {"name": name, "shape": list(array.shape), "dtype": dtype}, array.numpy().tobytes()


def png_bytes(rgb: torch.Tensor | np.ndarray, max_side: int | None = None) -> bytes:
    """PNG of an ``[H, W, 3]`` uint8 image, optionally shrunk so its longer side is
    ``max_side`` pixels."""
    array = rgb.numpy() if isinstance(rgb, torch.Tensor) else rgb
    img = Image.fromarray(np.ascontiguousarray(array))
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def synced_bytes(widget) -> int:
    """Bytes of a widget's synced state as the comm sends it when displayed: JSON plus binary
    buffers (what a browser receives before it can draw anything)."""
    from ipywidgets.widgets.widget import _remove_buffers

    state, _paths, buffers = _remove_buffers(widget.get_state())
    return len(json.dumps(state).encode()) + sum(len(memoryview(b).cast("B")) for b in buffers)
