"""The analysis session the widgets ask: a model, its images and what was computed about them.

Widgets never compute metrics themselves; they hold a :class:`Session` and ask it for the
attention of a layer, rollout, aligned maps, per-head statistics and tag proposals. Answers are
torch tensors on the trace's device (the widgets encode them for the browser); what was
computed is cached.

Shapes: ``L`` blocks, ``H`` heads, ``N = P + G`` tokens with the ``P`` prefix tokens first and
the ``G = gh * gw`` patches in row-major order. Layer arguments follow
:mod:`vitwidgets.core.indexing` (``-1`` = the last block).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from . import metrics
from .indexing import block_index, check_image
from .model import ViTModel
from .trace import Trace

__all__ = ["Session"]


class Session:
    """A model's attention over a list of images, and the answers computed from it.

    Args:
        trace: a :class:`~vitwidgets.core.trace.Trace` holding the attention of every block
            (``attn [L, B, H, N, N]``, blocks ``0..L-1`` in order), e.g. a hand-built one.
        identity: what identifies the model's weights (``ViTModel.identity``), for annotation
            files; defaults to the trace's model name.
        model: the :class:`~vitwidgets.core.model.ViTModel` that made the trace, if any.

    Use :meth:`from_model` to trace images with a model.
    """

    def __init__(
        self, trace: Trace, *, identity: dict | None = None, model: ViTModel | None = None
    ):
        if trace.attn is None:
            raise ValueError("the trace holds no attention: trace with attention=True")
        if list(trace.layers) != list(range(trace.num_layers)):
            raise ValueError(
                f"a session needs the attention of blocks 0..L-1 in order; this trace holds "
                f"blocks {list(trace.layers)} (trace with layers=None)"
            )
        self.trace = trace
        self.model = model
        self.identity = dict(identity or {"name": trace.model_name or "trace"})
        self._stats: dict[int | None, metrics.HeadStats] = {}
        self._rollout: dict[tuple[int, int], torch.Tensor] = {}
        self._proposals: list[dict] | None = None
        self._images: torch.Tensor | None = None

    @classmethod
    def from_model(
        cls, model: ViTModel | nn.Module, images: Any, *, batch_size: int = 8
    ) -> Session:
        """Trace ``images`` with ``model`` (attention of every block, ``batch_size`` images per
        forward pass).

        Args:
            model: a :class:`ViTModel` (``vw.load_model(...)``) or a timm ViT module.
            images: one image or a list (PIL, path, numpy ``HxWx3``, torch ``3xHxW``), as
                :meth:`ViTModel.trace` takes them.
        """
        vit = model if isinstance(model, ViTModel) else ViTModel(model)
        image_list = list(images) if isinstance(images, (list, tuple)) else [images]
        if not image_list:
            raise ValueError("a session needs at least one image")
        traces = [
            vit.trace(image_list[i : i + batch_size], attention=True, tokens=False)
            for i in range(0, len(image_list), batch_size)
        ]
        return cls(_concat_traces(traces), identity=vit.identity, model=vit)

    # -- geometry ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.identity.get("name") or self.trace.model_name or "model")

    @property
    def num_images(self) -> int:
        return self.trace.batch_size

    @property
    def num_layers(self) -> int:
        return self.trace.num_layers

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
        return self.trace.prefix_names

    # -- checks -----------------------------------------------------------------------------
    def check_image(self, image_index: int) -> int:
        """``image_index`` as ``0 .. B-1``, or a ValueError naming the valid range."""
        return check_image(image_index, self.num_images, owner="this session")

    def check_layer(self, layer: int) -> int:
        """Block ``layer`` as ``0 .. L-1`` (``-1`` = the last block), or a ValueError."""
        return block_index(layer, self.num_layers, owner=self.name)

    # -- answers ----------------------------------------------------------------------------
    def image_rgb(self, image_index: int) -> torch.Tensor:
        """The model input of one image as displayable RGB: ``[H_px, W_px, 3]`` uint8 (CPU)."""
        image_index = self.check_image(image_index)
        if self._images is None:
            self._images = self.trace.images_uint8()
        return self._images[image_index]

    def layer_attention(self, image_index: int, layer: int) -> torch.Tensor:
        """Post-softmax attention of block ``layer`` for one image: ``[H, N, N]`` (rows =
        queries, columns = keys; prefix tokens first), as captured."""
        image_index, layer = self.check_image(image_index), self.check_layer(layer)
        return self.trace.attn[layer, image_index]

    def rollout(self, image_index: int, layer: int) -> torch.Tensor:
        """Attention rollout (Abnar & Zuidema 2020) of blocks ``0..layer`` for one image:
        ``[N, N]``, rows sum to 1 (:func:`vitwidgets.metrics.attention_rollout`)."""
        key = (self.check_image(image_index), self.check_layer(layer))
        if key not in self._rollout:
            image_index, layer = key
            tr = self.trace
            self._rollout[key] = metrics.attention_rollout(
                tr.attn[: layer + 1, image_index : image_index + 1],
                grid=tr.grid,
                num_prefix=tr.num_prefix,
            )[0]
        return self._rollout[key]

    def head_stats(self, image_index: int | None = None) -> metrics.HeadStats:
        """Per-head statistics (:func:`vitwidgets.metrics.head_stats`) of one image, or
        averaged over all images when ``image_index`` is ``None``. Shapes ``[L, H]``."""
        key = None if image_index is None else self.check_image(image_index)
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

    def aligned(self, image_index: int, layer: int) -> torch.Tensor:
        """Query-aligned average attention canvas (Walmer et al. 2023) of every head of block
        ``layer`` for one image: ``[H, 2gh-1, 2gw-1]``; the centre cell is the query itself."""
        layer = self.check_layer(layer)
        return self.head_stats(image_index).canvas[layer]

    def layer_table(self, image_index: int | None = None) -> dict[str, torch.Tensor]:
        """Per-head metrics as ``[L, H]`` float64 CPU tensors for plotting: ``distance_px``
        (mean attention distance in pixels), ``entropy`` (nats), ``nmi`` (0..1),
        ``prefix_share`` (share of the patch queries' attention on prefix tokens, 0..1),
        ``offset_dy`` and ``offset_dx`` (centre of mass of the aligned canvas, patches)."""
        s = self.head_stats(image_index)
        columns = {
            "distance_px": s.distance_pixels,
            "entropy": s.entropy,
            "nmi": s.nmi,
            "prefix_share": s.prefix_share,
            "offset_dy": s.offset_patches[..., 0],
            "offset_dx": s.offset_patches[..., 1],
        }
        return {k: v.detach().to("cpu", torch.float64) for k, v in columns.items()}

    def proposals(self) -> list[dict]:
        """Proposed tag per head over all images (:func:`vitwidgets.metrics.propose_head_tags`):
        a layer-major list of ``{"layer", "head", "tag", "direction", "rule", "evidence"}``."""
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
