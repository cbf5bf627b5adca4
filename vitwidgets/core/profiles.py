"""What the study views show, each computed in ONE streaming pass over a dataset with the
existing accumulators: a representation map (minibatch CKA between the block outputs of one or
two models, Nguyen, Raghu & Kornblith 2021, with the token similarity of Park et al. 2023 as a
companion curve) and a model's depth profile (Fourier high-frequency amplitude and feature-map
variance per sub-layer, Park & Kim 2022; mean attention distance and NMI per block, Raghu et al.
2021 and Park et al. 2023; k-NN and linear-probe accuracy per block on labelled data, Walmer et
al. 2023).

Both drive :func:`vitwidgets.core.streaming.stream_traces` and report after every batch
(``on_batch(done, total, partial)``), so that a widget can show progress and fill in. The
numbers equal the core's single functions: ``representation_map(...).cka`` is
:func:`~vitwidgets.core.streaming.dataset_cka` of the same batches, the depth profile's
entries are :class:`~vitwidgets.core.metrics.representation.FourierAccumulator`,
:class:`~vitwidgets.core.metrics.attention.HeadStatsAccumulator` and
:func:`~vitwidgets.core.metrics.probing.knn_per_layer` /
:func:`~vitwidgets.core.metrics.probing.linear_probe_per_layer` results.

A plain list of single images (PIL, paths, ``HxWx3`` arrays, ``3xHxW`` tensors) is cut into
batches of ``batch_size`` here (:func:`image_batches`); anything else goes to the streaming
driver as it is (batches, a ``[N, 3, H, W]`` tensor, a torch ``Dataset`` or ``DataLoader``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vitwidgets.core.capture import pre_norm_block_types
from vitwidgets.core.errors import UserValueError
from vitwidgets.core.metrics.attention import HeadStatsAccumulator
from vitwidgets.core.metrics.probing import ProbeResult, knn_per_layer, linear_probe_per_layer
from vitwidgets.core.metrics.representation import (
    FEATURE_MODES,
    CKAAccumulator,
    FeatureAccumulator,
    FourierAccumulator,
    token_similarity,
)
from vitwidgets.core.streaming import stream_traces
from vitwidgets.core.trace import Trace

__all__ = [
    "OnBatch",
    "TokenSimilarityAccumulator",
    "RepresentationMapResult",
    "representation_map",
    "ModelProfile",
    "depth_profile",
    "image_batches",
    "count_batches",
    "latent_depths",
]

#: ``on_batch(done, total, partial)``: batches streamed, the total (``None`` when the data has
#: no length) and the result so far (``None`` while there is none)
OnBatch = Callable[[int, "int | None", Any], None]


def _is_single_image(x: Any) -> bool:
    from PIL import Image

    if isinstance(x, (Image.Image, str, Path)):
        return True
    return isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim == 3


def image_batches(data: Any, batch_size: int) -> Any:
    """``data`` as the streaming driver takes it: a list or tuple of single images becomes a
    list of batches of ``batch_size`` images; anything else is returned as it is."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
    if isinstance(data, (list, tuple)) and data and all(_is_single_image(x) for x in data):
        return [list(data[s : s + batch_size]) for s in range(0, len(data), batch_size)]
    return data


def count_batches(data: Any, batch_size: int) -> int | None:
    """How many batches :func:`stream_traces` yields for ``data`` (``None`` when unknown)."""
    if isinstance(data, torch.Tensor) or (
        isinstance(data, Dataset) and not isinstance(data, DataLoader)
    ):
        size = data.shape[0] if isinstance(data, torch.Tensor) else getattr(data, "__len__", None)
        size = size() if callable(size) else size
        return None if size is None else math.ceil(size / batch_size)
    return len(data) if hasattr(data, "__len__") else None


class TokenSimilarityAccumulator:
    """Mean pairwise cosine similarity of the patch tokens of every residual-stream entry
    (Park et al. 2023, representation collapse), averaged over every streamed image: ``[L+1]``
    (entry 0 the embedding, ``l + 1`` the output of block ``l``). The sum of
    :func:`~vitwidgets.core.metrics.representation.token_similarity` over images, so exact over
    batches. An accumulator of :func:`vitwidgets.core.streaming.stream_metrics`."""

    needs = {"tokens": True}

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.count = 0

    def update(self, trace: Trace, batch=None) -> None:
        sims = token_similarity(trace).double().sum(1)  # [L+1]
        self.total = sims if self.total is None else self.total + sims
        self.count += trace.batch_size

    def result(self) -> torch.Tensor:
        if self.total is None:
            raise ValueError("no batch streamed")
        return self.total / self.count


# ------------------------------------------------------------------ representation map
@dataclass
class RepresentationMapResult:
    """Minibatch CKA ``cka [La, Lb]`` (float64) between the block outputs of model A (rows)
    and model B (columns; A itself when there is no B), and the token similarity ``[L+1]`` of
    each model's residual stream (``similarity_b`` is ``None`` within one model).
    ``num_images`` images were streamed; ``skipped`` of them (in batches under 4 images, which
    the unbiased HSIC cannot use) are not in the CKA."""

    cka: torch.Tensor
    similarity_a: torch.Tensor
    similarity_b: torch.Tensor | None
    num_images: int
    skipped: int


def _check_mode(mode: str) -> str:
    if mode not in FEATURE_MODES:
        raise UserValueError(f"mode must be one of {FEATURE_MODES}, got {mode!r}")
    return mode


def representation_map(
    model: Any,
    data: Any,
    model_b: Any | None = None,
    *,
    mode: str = "cls",
    batch_size: int = 16,
    progress: bool = False,
    on_batch: OnBatch | None = None,
) -> RepresentationMapResult:
    """CKA between every block output of ``model`` and every block output of ``model_b`` (or
    of ``model`` itself), streamed over ``data`` in one pass, with both models' token
    similarity from the same traces.

    Args:
        model, model_b: :class:`~vitwidgets.core.model.ViTModel` objects; each preprocesses
            the raw images itself (as :func:`~vitwidgets.core.streaming.dataset_cka`).
        data: images or batches (see the module docstring).
        mode: features per image, as :func:`~vitwidgets.core.metrics.representation.layer_features`.
        on_batch: called after every batch with ``(done, total, cka so far [La, Lb] or None)``.

    Returns:
        :class:`RepresentationMapResult`; ``cka`` equals ``dataset_cka(model, data, model_b,
        mode=mode, batch_size=batch_size)``.
    """
    _check_mode(mode)
    batches = image_batches(data, batch_size)
    total = count_batches(batches, batch_size)
    acc = CKAAccumulator(mode)
    sim_a, sim_b = TokenSimilarityAccumulator(), TokenSimilarityAccumulator()
    kw = {"attention": False, "tokens": True, "latents": False}
    done = images = 0
    for trace, batch in stream_traces(
        model, batches, batch_size=batch_size, progress=progress, desc="CKA", **kw
    ):
        other = None
        if model_b is not None:
            with torch.inference_mode():
                other = model_b.trace(batch.images, **kw)
            sim_b.update(other)
        acc.update(trace, batch, other)
        sim_a.update(trace)
        done, images = done + 1, images + trace.batch_size
        if on_batch is not None:
            on_batch(done, total, acc.cka.result() if acc.cka.num_batches else None)
    if not done:
        raise UserValueError("the data yielded no images")
    if not acc.cka.num_batches:
        raise UserValueError(
            f"CKA needs batches of at least 4 images (unbiased HSIC), but every batch of the "
            f"{images} images was smaller: give more images or a larger batch_size"
        )
    return RepresentationMapResult(
        cka=acc.cka.result().cpu(), similarity_a=sim_a.result().cpu(),
        similarity_b=None if model_b is None else sim_b.result().cpu(),
        num_images=images, skipped=acc.skipped,
    )


# ------------------------------------------------------------------ depth profile
@dataclass
class ModelProfile:
    """Per-depth curves of one model over a dataset (CPU tensors).

    Attributes:
        name: the model's name. num_layers: ``L``. num_images: images streamed.
        sub_layers: whether the Fourier entries are the ``2L+1`` sub-layer latents (embedding,
            then after each attention and after each MLP residual) or, for models that are not
            pre-norm, the ``L+1`` residual-stream entries.
        fourier: ``[K, n]`` :func:`~vitwidgets.core.metrics.representation.fourier_profile`
            (delta log amplitude from zero to the highest frequency); ``high_frequency [K]`` its
            last column (Park & Kim 2022). ``variance [K]`` feature-map variance.
        distance_px: ``[L]`` mean attention distance in pixels, mean over heads.
        nmi: ``[L]`` normalised mutual information of queries and keys, mean over heads.
        token_similarity: ``[L+1]`` mean pairwise cosine of the patch tokens (entry 0 the
            embedding).
        knn, linear_probe: :class:`~vitwidgets.core.metrics.probing.ProbeResult` per block
            (``best_layer`` a block index) when labels were given, else ``None``.
    """

    name: str
    num_layers: int
    num_images: int
    sub_layers: bool
    fourier: torch.Tensor
    variance: torch.Tensor
    distance_px: torch.Tensor
    nmi: torch.Tensor
    token_similarity: torch.Tensor
    knn: ProbeResult | None = None
    linear_probe: ProbeResult | None = None

    @property
    def high_frequency(self) -> torch.Tensor:
        return self.fourier[:, -1]


def latent_depths(num_layers: int, sub_layers: bool) -> torch.Tensor:
    """Depth of every Fourier entry in blocks: ``-1`` the embedding, ``l - 0.5`` after block
    ``l``'s attention residual, ``l`` after its MLP (the block's output); without sub-layers
    ``-1, 0, 1, ..., L-1``. Shape ``[2L+1]`` or ``[L+1]``."""
    if sub_layers:
        return torch.arange(2 * num_layers + 1, dtype=torch.float64) / 2 - 1
    return torch.arange(num_layers + 1, dtype=torch.float64) - 1


def _as_labels(labels: Any) -> torch.Tensor | None:
    if labels is None:
        return None
    y = torch.as_tensor(labels)
    if y.ndim != 1 or y.is_floating_point():
        raise UserValueError(f"labels must be a list of whole class numbers, got {tuple(y.shape)}")
    return y.long()


def _probes(feats, labels, k, probe, names) -> tuple[ProbeResult | None, ProbeResult | None]:
    if labels is None:
        return None, None
    if labels.shape[0] != feats.shape[1]:
        raise UserValueError(
            f"labels has {labels.shape[0]} entries but the data has {feats.shape[1]} images"
        )
    knn = knn_per_layer(feats, labels, k=k, layers=names)
    return knn, (linear_probe_per_layer(feats, labels, layers=names) if probe else None)


def depth_profile(
    model: Any,
    data: Any,
    *,
    labels: Sequence[int] | torch.Tensor | None = None,
    mode: str = "cls",
    k: int = 20,
    probe: bool = True,
    batch_size: int = 16,
    progress: bool = False,
    on_batch: OnBatch | None = None,
) -> ModelProfile:
    """Every per-depth curve of ``model`` over ``data`` in one streaming pass (attention,
    residual stream and sub-layer latents captured together).

    Args:
        data: images or batches (see the module docstring); batches may carry labels.
        labels: one class per image, in order, for data without labels; with labels (here or
            in the batches) the k-NN (leave-one-out, ``k`` neighbours) and, with ``probe``,
            the linear probe (stratified held-out quarter) are computed per block on the
            ``mode`` features (:func:`~vitwidgets.core.metrics.representation.layer_features`).
        on_batch: called after every batch with ``(done, total, None)``.

    Returns:
        :class:`ModelProfile`.
    """
    _check_mode(mode)
    given = _as_labels(labels)
    batches = image_batches(data, batch_size)
    total = count_batches(batches, batch_size)
    sub_layers = all(isinstance(b, pre_norm_block_types()) for b in model.model.blocks)
    accs = {"fourier": FourierAccumulator(), "heads": HeadStatsAccumulator(),
            "similarity": TokenSimilarityAccumulator(), "features": FeatureAccumulator(mode)}
    done = 0
    kw = {"attention": True, "tokens": True, "latents": sub_layers}
    for trace, batch in stream_traces(
        model, batches, batch_size=batch_size, progress=progress, desc="depth profile", **kw
    ):
        for acc in accs.values():
            acc.update(trace, batch)
        del trace
        done += 1
        if on_batch is not None:
            on_batch(done, total, None)
    if not done:
        raise UserValueError("the data yielded no images")
    fourier, variance = accs["fourier"].result()
    heads = accs["heads"].result()
    feats, batch_labels = accs["features"].result()
    names = tuple(range(model.num_layers))
    knn, lin = _probes(feats, given if given is not None else batch_labels, k, probe, names)
    return ModelProfile(
        name=model.name, num_layers=model.num_layers, num_images=heads.num_images,
        sub_layers=sub_layers, fourier=fourier.cpu(), variance=variance.cpu(),
        distance_px=heads.distance_pixels.mean(1).cpu(), nmi=heads.nmi.mean(1).cpu(),
        token_similarity=accs["similarity"].result().cpu(), knn=knn, linear_probe=lin,
    )
