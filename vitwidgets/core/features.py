"""Per-layer patch features of a session's images, and what the FeatureExplorer shows of them:
PCA colours, a foreground rule, co-segmentation, best matches and keypoint PCK per layer (Amir
et al. 2021 "Deep ViT Features as Dense Visual Descriptors"; Walmer et al. 2023 "Teaching
Matters", correspondence).

A *facet* names which vectors of a block describe a patch: ``"tokens"`` (the block's output,
the residual stream), ``"keys"`` or ``"queries"`` (the block's attention keys or queries, every
head's ``d`` channels side by side: ``H * d`` channels; queries without the attention scale).
Features are computed on the model's device when first asked for and kept in the session's
byte-bounded cache: one forward pass per image gives every block's tokens; keys and queries
come from the per-block q/k the lazy session already keeps. The analyses themselves live in
:mod:`vitwidgets.core.metrics` (``pca_project``, ``pca_rgb``, ``cluster_tokens``,
``correspondence``, ``pck``); this module picks their inputs and combines their answers.

Shapes: ``B`` images, ``G = gh * gw`` patches per image (row-major), ``D`` channels, ``L``
blocks. Layers are block indices (``-1`` = the last block; :mod:`vitwidgets.core.indexing`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import metrics
from .errors import UserTypeError, UserValueError
from .session import Session

__all__ = [
    "FACETS",
    "FACET_INFO",
    "FLOAT16_DOT_ERROR",
    "FOREGROUND_RULE",
    "SessionFeatures",
    "SimilarityBasis",
    "Foreground",
    "Matches",
    "similarity_basis",
    "foreground",
    "border_patches",
    "check_keypoints",
    "one_cpu_thread",
]

#: which vectors of a block describe a patch: ``(id, label, title)``
FACET_INFO = (
    ("tokens", "tokens", "the block's output (residual stream)"),
    ("keys", "keys", "the block's attention keys, all heads side by side"),
    ("queries", "queries", "the block's attention queries, all heads side by side"),
)
FACETS = tuple(f for f, _, _ in FACET_INFO)
#: the most ``|a . b|`` changes when unit vectors ``a``, ``b`` are rounded to float16 (each
#: element by a relative 2**-11, so the dot product by at most ``2 * 2**-11 * |a| |b|`` plus
#: the rounding of the product terms)
FLOAT16_DOT_ERROR = 2**-10 * (1 + 2**-10)
#: the foreground rule, as the widget states it
FOREGROUND_RULE = (
    "foreground: first principal component > 0 (PCA of the patch tokens of all images "
    "jointly; its sign chosen so that most border patches are background)"
)


def _check_facet(facet: str) -> str:
    if facet not in FACETS:
        raise UserValueError(f"facet must be one of {', '.join(FACETS)}; got {facet!r}")
    return facet


# -- the shipped similarity basis -------------------------------------------------------------
@dataclass
class SimilarityBasis:
    """Coordinates whose dot products are the patches' cosine similarities (or approximate
    them): what the browser multiplies on hover.

    Attributes:
        coords: ``[B, G, k]`` float32; ``coords[a] . coords[b]`` is the cosine of patches a, b.
        full_dims: ``D`` of the features. ``dims``: ``k`` (``== D`` when nothing was cut).
        error_bound: the largest ``|cosine from coords, rounded to float16 - exact cosine|``
            possible (the truncation's Cauchy-Schwarz bound plus :data:`FLOAT16_DOT_ERROR`).
    """

    coords: torch.Tensor
    full_dims: int
    dims: int
    error_bound: float


def similarity_basis(features: torch.Tensor, max_dims: int | None = None) -> SimilarityBasis:
    """L2-normalised patch features ``[B, G, D]`` with at most ``max_dims`` coordinates each.

    With ``D <= max_dims`` (or ``max_dims=None``) the unit vectors ``u`` themselves. Else their
    projection onto the top ``max_dims`` right singular vectors ``V`` of all images' unit
    vectors jointly (uncentred PCA: of all rank-k maps, the one whose dot products
    ``u_a V V^T u_b`` are closest to the cosines ``u_a . u_b`` in the least-squares sense,
    Eckart & Young 1936). The error of one pair is ``u_a (I - V V^T) u_b``, at most
    ``r_a r_b`` with ``r = |(I - V V^T) u|`` (Cauchy-Schwarz), so at most the largest
    ``r^2``: that bound plus float16 rounding is ``error_bound``. Centring (the usual PCA)
    would shift every cosine, so it is not done here.
    """
    if features.ndim != 3:
        raise ValueError(f"features must be [B, G, D], got {tuple(features.shape)}")
    b, g, d = features.shape
    if max_dims is not None and max_dims < 1:
        raise UserValueError(f"max_dims must be a positive number of dimensions, got {max_dims}")
    units = F.normalize(features.float().reshape(b * g, d), dim=-1)
    if max_dims is None or d <= max_dims:
        return SimilarityBasis(units.reshape(b, g, d), d, d, FLOAT16_DOT_ERROR)
    _, vecs = torch.linalg.eigh(units.double().T @ units.double())  # ascending eigenvalues
    coords = units @ vecs[:, -max_dims:].to(units.dtype)  # [BG, k]
    residual = (1 - (coords * coords).sum(-1)).clamp_min(0)  # r^2 of each unit vector
    bound = float(residual.max()) + FLOAT16_DOT_ERROR
    return SimilarityBasis(coords.reshape(b, g, max_dims), d, max_dims, bound)


# -- foreground ------------------------------------------------------------------------------
def border_patches(grid: tuple[int, int]) -> torch.Tensor:
    """``[G]`` bool: the patches on the outer rows and columns of a ``(gh, gw)`` grid."""
    gh, gw = grid
    edge = torch.zeros(gh, gw, dtype=torch.bool)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    return edge.flatten()


@dataclass
class Foreground:
    """The foreground rule's answer: ``score [B, G]`` (each patch's first principal component
    score, sign oriented), ``mask [B, G]`` bool (``score > 0``), ``flipped`` (whether the
    orientation flipped :func:`~vitwidgets.core.metrics.pca_project`'s sign) and the share of
    border patches the mask calls foreground (``border_foreground``, at most 0.5)."""

    score: torch.Tensor
    mask: torch.Tensor
    flipped: bool
    border_foreground: float
    rule: str = FOREGROUND_RULE


def foreground(features: torch.Tensor, grid: tuple[int, int]) -> Foreground:
    """Foreground patches by the sign of the first principal component (as DINOv2 users
    separate objects from background; Oquab et al. 2024): PCA of every image's patch features
    ``[B, G, D]`` jointly; a principal component's sign is arbitrary, so it is oriented so
    that at most half of the border patches score positive (objects seldom fill an image's
    border). Foreground: score > 0, no tuned threshold."""
    b, g, d = features.shape
    if g != grid[0] * grid[1]:
        raise ValueError(f"features [B, G, D] need G = {grid[0]}*{grid[1]}, got {g}")
    score = metrics.pca_project(features.reshape(b * g, d), 1)[:, 0].reshape(b, g)
    border = border_patches(grid).to(score.device)
    share = float((score[:, border] > 0).double().mean())
    flipped = share > 0.5
    if flipped:
        score, share = -score, float((score[:, border] < 0).double().mean())
    return Foreground(score, score > 0, flipped, share)


# -- keypoints --------------------------------------------------------------------------------
def _point(value: Any, where: str, size: tuple[int, int]) -> tuple[float, float]:
    try:
        y, x = (float(v) for v in value)
    except (TypeError, ValueError):
        raise UserValueError(f"{where} must be a pair (y, x) of pixels, got {value!r}") from None
    if not (0 <= y < size[0] and 0 <= x < size[1]):
        raise UserValueError(
            f"{where} (y, x) = ({y:g}, {x:g}) lies outside the {size[0]}x{size[1]} px model input"
        )
    return y, x


def check_keypoints(
    keypoints: Any, num_images: int, size: tuple[int, int]
) -> list[dict[str, tuple[float, float]]]:
    """Keypoints per image as ``[{name: (y, x)}, ...]`` (pixels of the model input).

    ``keypoints`` holds one entry per image: a mapping ``name -> (y, x)`` (the same name is
    the same semantic point in every image; an image may lack some) or a sequence of ``(y, x)``
    (the ``m``-th point of every image is the same point, named ``"m"``).
    """
    if isinstance(keypoints, (str, bytes)) or not isinstance(keypoints, Sequence):
        raise UserTypeError(
            f"keypoints must be a list with one entry per image (a dict name -> (y, x) or a "
            f"list of (y, x)), got {type(keypoints).__name__}"
        )
    if len(keypoints) != num_images:
        raise UserValueError(f"keypoints has {len(keypoints)} entries for {num_images} images; "
                             f"give one per image (an empty one for an image without)")
    out = []
    for i, entry in enumerate(keypoints):
        named = entry.items() if isinstance(entry, Mapping) else enumerate(entry)
        out.append({str(n): _point(p, f"keypoint {n!r} of image {i}", size) for n, p in named})
    return out


# -- the session's features -----------------------------------------------------------------
@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the block's torch operations on one CPU thread (restored after): a click's few small
    operations (``[G, D]`` normalisations, ``[1, G]`` similarities) gain nothing from a second
    thread, and on a busy machine each waits for it. Measured on 2 cores at load 9: the
    matches of a ViT-B/16 patch over 8 images took 249 ms (median) with 2 threads, 7 ms with
    1. Nothing changes on a GPU."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class Matches:
    """Best match of one query patch in every image (:func:`metrics.correspondence`).

    ``patch [B]`` (patch index ``0..G-1`` in each image; the query itself in its own image),
    ``similarity [B]`` cosine, ``mutual [B]`` bool (the match's best match in the query's
    image is the query; True in the query's own image)."""

    patch: torch.Tensor
    similarity: torch.Tensor
    mutual: torch.Tensor


class SessionFeatures:
    """The patch features of a :class:`Session`'s images per layer and facet, and the answers
    the FeatureExplorer asks for. Everything is computed on the model's device and kept in the
    session's cache (:meth:`Session.cache_info` lists the entries: ``tokens`` per image and
    block, ``feature_view`` per block, facet and ``k``; keys and queries are the session's
    ``qk`` entries).

    Args:
        session: a lazy session (:meth:`Session.from_model`), or one made from a trace that
            holds tokens (facet ``"tokens"`` only).
    """

    def __init__(self, session: Session):
        self.session = session

    @property
    def input_size(self) -> tuple[int, int]:
        """``(H_px, W_px)`` of the model input."""
        gh, gw = self.session.grid
        return gh * self.session.patch_size, gw * self.session.patch_size

    # -- raw features ---------------------------------------------------------------------------
    def image_features(self, image_index: int, layer: int, facet: str = "tokens") -> torch.Tensor:
        """Patch features ``[G, D]`` of one image after block ``layer`` (model dtype, device)."""
        s = self.session
        i, layer, facet = s.check_image(image_index), s.check_layer(layer), _check_facet(facet)
        p = s.num_prefix
        if facet == "tokens":
            return self._tokens(i, layer)[p:]
        if not s.lazy:
            raise UserValueError(f"facet {facet!r} needs queries and keys: a session from a "
                                 f"model (Session.from_model), not from a trace of attention")
        qk = s.source.layer_qk(i, layer)
        x = qk.k if facet == "keys" else qk.q / s.model.attention_scale
        return x.permute(1, 0, 2).reshape(x.shape[1], -1)[p:]  # [N, H*d] -> patches

    def features(self, layer: int, facet: str = "tokens") -> torch.Tensor:
        """Patch features ``[B, G, D]`` of every image after block ``layer``."""
        return torch.stack([self.image_features(i, layer, facet)
                            for i in range(self.session.num_images)])

    def _tokens(self, i: int, layer: int) -> torch.Tensor:
        """Block ``layer``'s output ``[N, D]`` for image ``i``: from the cache, else from one
        forward pass that caches every block's output of that image."""
        s = self.session
        if not s.lazy:
            if s.trace is None or s.trace.tokens is None:
                raise UserValueError("this session's trace holds no tokens: trace with "
                                     "tokens=True, or use Session.from_model")
            return s.trace.tokens[layer + 1, i]
        found = s.cache.get(("tokens", i, layer))
        if found is not None:
            return found
        tr = s.model.trace(None, attention=False, tokens=True, pixels=s.source.pixels(i)[None])
        for b in range(s.num_layers):
            s.cache.put(("tokens", i, b), tr.tokens[b + 1, 0].clone())
        return tr.tokens[layer + 1, 0]

    # -- what the explorer shows of a layer -------------------------------------------------------
    def layer_view(self, layer: int, facet: str = "tokens", k: int = 3,
                   max_dims: int | None = None) -> dict[str, Any]:
        """Everything the FeatureExplorer draws for one layer and facet (cached):
        ``basis`` (:class:`SimilarityBasis`), ``pca`` ``[B, gh, gw, 3]`` in [0, 1]
        (:func:`metrics.pca_rgb`), ``foreground`` (:class:`Foreground`) and ``clusters``
        ``[B, gh, gw]`` int64 k-means labels shared across images
        (:func:`metrics.cluster_tokens` with ``n_clusters=k``)."""
        s = self.session
        layer, facet = s.check_layer(layer), _check_facet(facet)
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 16:
            raise UserValueError(f"k (clusters) must be a whole number 2..16, got {k!r}")
        key = ("feature_view", layer, facet, k, max_dims)

        def compute() -> dict[str, Any]:
            feats = self.features(layer, facet)
            grid = s.grid
            return {
                "basis": similarity_basis(feats, max_dims),
                "pca": metrics.pca_rgb(feats, grid=grid),
                "foreground": foreground(feats, grid),
                "clusters": metrics.cluster_tokens(feats, k, grid=grid),
            }

        return s.cache.get_or_compute(key, compute)

    def patch_centre(self, patch: int) -> tuple[float, float]:
        """``(y, x)`` pixels of the centre of patch ``patch`` (``0..G-1``, row-major)."""
        gh, gw = self.session.grid
        if isinstance(patch, bool) or not isinstance(patch, int) or not 0 <= patch < gh * gw:
            raise UserValueError(f"patch {patch!r} is not a patch index 0..{gh * gw - 1}")
        ps = self.session.patch_size
        return ((patch // gw + 0.5) * ps, (patch % gw + 0.5) * ps)

    def matches(self, image_index: int, patch: int, layer: int,
                facet: str = "tokens") -> Matches:
        """Best match of patch ``patch`` of image ``image_index`` in every image, by
        :func:`metrics.correspondence` on the exact features of block ``layer``."""
        s = self.session
        i, point = s.check_image(image_index), self.patch_centre(patch)
        feats = self.features(layer, facet)
        with one_cpu_thread(feats.device):
            out = [metrics.correspondence(feats[i], feats[j], torch.tensor([point]),
                                          grid=s.grid, patch_size=s.patch_size)
                   for j in range(s.num_images)]
        gw = s.grid[1]
        best = torch.stack([c.patch[0, 0] * gw + c.patch[0, 1] for c in out])
        best[i] = patch
        mutual = torch.stack([c.mutual[0] for c in out])
        mutual[i] = True
        return Matches(best, torch.stack([c.similarity[0] for c in out]), mutual)

    # -- keypoints --------------------------------------------------------------------------------
    def pck_per_layer(self, keypoints: Any, facet: str = "tokens",
                      alpha: float = 0.1) -> torch.Tensor:
        """PCK per block ``[L]`` float64 (:func:`metrics.pck`): for every ordered pair of
        images (a, b), each keypoint of a that b also has is matched into b by
        :func:`metrics.correspondence`; a match is correct within ``alpha`` times the longer
        side of the model input of b's keypoint. Pooled over all pairs and points.

        Args:
            keypoints: see :func:`check_keypoints` (pixels of the model input).
        """
        s = self.session
        kps = check_keypoints(keypoints, s.num_images, self.input_size)
        pairs = [(a, b, sorted(set(kps[a]) & set(kps[b])))
                 for a in range(s.num_images) for b in range(s.num_images) if a != b]
        pairs = [(a, b, names) for a, b, names in pairs if names]
        if not pairs:
            raise UserValueError("no keypoint name is shared by two images: PCK needs the same "
                                 "point in at least two images")
        return torch.tensor([self._layer_pck(layer, facet, kps, pairs, alpha)
                             for layer in range(s.num_layers)], dtype=torch.float64)

    def _layer_pck(self, layer, facet, kps, pairs, alpha) -> float:
        s = self.session
        feats = self.features(layer, facet)
        predicted, target = [], []
        for a, b, names in pairs:
            pts = torch.tensor([kps[a][n] for n in names], dtype=torch.float64)
            c = metrics.correspondence(feats[a], feats[b], pts, grid=s.grid,
                                       patch_size=s.patch_size)
            predicted.append(c.point.cpu())
            target.append(torch.tensor([kps[b][n] for n in names], dtype=torch.float64))
        return float(metrics.pck(torch.cat(predicted), torch.cat(target),
                                 self.input_size, alpha=alpha))
