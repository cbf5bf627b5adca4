"""The analysis session the widgets ask: a model, its images and their cached trace.

Widgets never compute metrics themselves; they hold a :class:`Session` and ask it for compact
per-layer results (numpy arrays on the CPU, ready to ship as bytes). The session calls
:mod:`vitwidgets.metrics` and caches what it computed. It imports no widget code.

Shapes follow ``shared/spec/analyses.md``: ``L`` blocks, ``H`` heads, ``N = P + G`` tokens with
the ``P`` prefix tokens first and the ``G = gh * gw`` patches in row-major order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from vitwidgets import metrics
from vitwidgets.core.trace import Trace


class Session:
    """A model, a list of images and the attention of every block for each image.

    The whole batch is traced once when the session is made (attention only, every block), so
    that every later question (a layer's attention, rollout, aligned maps, head statistics) is
    answered from memory.

    Args:
        model: a :class:`~vitwidgets.ViTModel` (or anything :func:`vitwidgets.load_model` takes).
        images: one image or a list (PIL, path, numpy ``HxWx3``, torch ``3xHxW``), as
            :meth:`ViTModel.trace` takes them.
        batch_size: images traced per forward pass.

    Attributes:
        trace: the :class:`~vitwidgets.core.trace.Trace` of all images (``attn [L, B, H, N, N]``).
        model: the ``ViTModel`` or ``None`` for a session made from a trace.
        identity: what identifies the model's weights (for annotation files).
    """

    def __init__(self, model: Any, images: Any, *, batch_size: int = 8):
        from vitwidgets.core.model import load_model

        self.model = load_model(model)
        image_list = list(images) if isinstance(images, (list, tuple)) else [images]
        if not image_list:
            raise ValueError("explore needs at least one image")
        traces = [
            self.model.trace(image_list[i : i + batch_size], attention=True, tokens=False)
            for i in range(0, len(image_list), batch_size)
        ]
        self._init(_concat_traces(traces), self.model.identity)

    @classmethod
    def from_trace(cls, trace: Trace, identity: dict | None = None) -> Session:
        """A session over an existing trace (no model): e.g. a hand-built trace in tests.

        ``trace.attn`` must hold consecutive blocks from block 0 (``m.trace(..., layers=None)``).
        """
        self = cls.__new__(cls)
        self.model = None
        self._init(trace, identity or {"name": trace.model_name or "trace"})
        return self

    def _init(self, trace: Trace, identity: dict) -> None:
        if trace.attn is None:
            raise ValueError("the trace holds no attention: trace with attention=True")
        if list(trace.layers) != list(range(len(trace.layers))):
            raise ValueError(
                f"a session needs the attention of blocks 0..L-1 in order; this trace holds "
                f"blocks {list(trace.layers)} (trace with layers=None)"
            )
        self.trace = trace
        self.identity = dict(identity)
        self._stats: dict[int | None, metrics.HeadStats] = {}
        self._rollout: dict[tuple[int, int], np.ndarray] = {}
        self._proposals: list[dict] | None = None
        self._images: torch.Tensor | None = None

    # -- geometry ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.identity.get("name") or self.trace.model_name or "model")

    @property
    def num_images(self) -> int:
        return self.trace.batch_size

    @property
    def num_layers(self) -> int:
        return len(self.trace.layers)

    @property
    def num_heads(self) -> int:
        return int(self.trace.attn.shape[2])

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.trace.grid)

    @property
    def patch_size(self) -> int:
        return int(self.trace.patch_size)

    @property
    def num_prefix(self) -> int:
        return int(self.trace.num_prefix)

    @property
    def num_tokens(self) -> int:
        return self.trace.num_tokens

    @property
    def prefix_names(self) -> tuple[str, ...]:
        names = tuple(self.trace.prefix_names)
        if len(names) != self.num_prefix:  # hand-built traces may leave them out
            names = ("cls",) + tuple(f"prefix{i}" for i in range(1, self.num_prefix))
        return names[: self.num_prefix]

    # -- checks -----------------------------------------------------------------------------
    def check_image(self, image: int) -> int:
        if not isinstance(image, (int, np.integer)) or not 0 <= image < self.num_images:
            raise ValueError(
                f"image {image!r} out of range: this session holds {self.num_images} image(s) "
                f"(0..{self.num_images - 1})"
            )
        return int(image)

    def check_layer(self, layer: int) -> int:
        if not isinstance(layer, (int, np.integer)) or not 0 <= layer < self.num_layers:
            raise ValueError(
                f"layer {layer!r} out of range: {self.name} has {self.num_layers} blocks "
                f"(0..{self.num_layers - 1})"
            )
        return int(layer)

    # -- answers ----------------------------------------------------------------------------
    def image_rgb(self, image: int) -> np.ndarray:
        """The model input of image ``image`` as displayable RGB: ``[H_px, W_px, 3]`` uint8."""
        image = self.check_image(image)
        if self._images is None:
            self._images = self.trace.images_uint8()
        return self._images[image].numpy()

    def layer_attention(self, image: int, layer: int) -> np.ndarray:
        """Post-softmax attention of block ``layer`` for one image: ``[H, N, N]`` float16
        (rows = queries, columns = keys; prefix tokens first)."""
        image, layer = self.check_image(image), self.check_layer(layer)
        a = self.trace.attn[layer, image]
        return a.detach().to("cpu", torch.float16).contiguous().numpy()

    def rollout(self, image: int, layer: int) -> np.ndarray:
        """Attention rollout [ABNAR] of blocks ``0..layer`` for one image: ``[N, N]`` float16,
        rows sum to 1 (``metrics.attention_rollout``)."""
        image, layer = self.check_image(image), self.check_layer(layer)
        key = (image, layer)
        if key not in self._rollout:
            tr = self.trace
            joint = metrics.attention_rollout(
                tr.attn[: layer + 1, image : image + 1],
                grid=tr.grid,
                num_prefix=tr.num_prefix,
            )[0]
            self._rollout[key] = joint.detach().to("cpu", torch.float16).numpy()
        return self._rollout[key]

    def head_stats(self, image: int | None = None) -> metrics.HeadStats:
        """Per-head statistics (``metrics.head_stats``) of one image, or averaged over all
        images when ``image`` is ``None``. Shapes ``[L, H]``; distance in patches."""
        key = None if image is None else self.check_image(image)
        if key not in self._stats:
            tr = self.trace
            attn = tr.attn if key is None else tr.attn[:, key : key + 1]
            self._stats[key] = metrics.head_stats(
                attn,
                grid=tr.grid,
                num_prefix=tr.num_prefix,
                patch_size=tr.patch_size,
                layers=tuple(tr.layers),
            )
        return self._stats[key]

    def aligned(self, image: int, layer: int) -> np.ndarray:
        """Query-aligned average attention canvas [TM] of every head of block ``layer`` for one
        image: ``[H, 2gh-1, 2gw-1]`` float16; the centre cell is the query itself."""
        layer = self.check_layer(layer)
        canvas = self.head_stats(image).canvas[layer]
        return canvas.detach().to("cpu", torch.float16).numpy()

    def layer_table(self, image: int | None = None) -> dict[str, np.ndarray]:
        """Per-head metrics as ``[L, H]`` float arrays for plotting: ``distance_px`` (mean
        attention distance in pixels), ``entropy`` (nats), ``nmi`` (0..1), ``prefix_share``
        (share of the patch queries' attention on prefix tokens, 0..1), ``offset_dy`` and
        ``offset_dx`` (centre of mass of the aligned canvas, patches)."""
        s = self.head_stats(image)

        def arr(t: torch.Tensor) -> np.ndarray:
            return t.detach().to("cpu", torch.float64).numpy()

        return {
            "distance_px": arr(s.distance) * self.patch_size,
            "entropy": arr(s.entropy),
            "nmi": arr(s.nmi),
            "prefix_share": arr(s.prefix_share),
            "offset_dy": arr(s.offset[..., 0]),
            "offset_dx": arr(s.offset[..., 1]),
        }

    def proposals(self) -> list[dict]:
        """Proposed tag per head over all images (``metrics.propose_head_tags``): a
        layer-major list of ``{"layer", "head", "tag", "direction", "rule", "evidence"}``."""
        if self._proposals is None:
            self._proposals = metrics.propose_head_tags(self.head_stats(None))
        return self._proposals


def _concat_traces(traces: Sequence[Trace]) -> Trace:
    """One trace of all images from traces of consecutive batches (attention only)."""
    if len(traces) == 1:
        return traces[0]
    first = traces[0]
    fields = dict(first.__dict__)
    fields["pixels"] = torch.cat([t.pixels for t in traces])
    fields["attn"] = torch.cat([t.attn for t in traces], dim=1)
    if first.output is not None:
        fields["output"] = torch.cat([t.output for t in traces])
    return Trace(**fields)
