"""Probing and dense tasks per layer: k-NN (Caron et al. 2021 DINO's protocol, as Walmer et al.
2023), linear probes, dense correspondence and PCK (Amir et al. 2021; Walmer et al. 2023),
mask pooling and clustering scores (Walmer et al. 2023).

k-NN and correspondence are torch (similarity matmuls on the features' device); the linear probe
and the clustering scores use scikit-learn. Layers and images are resolved by
:mod:`vitwidgets.core.indexing`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from vitwidgets.core.indexing import LayerArg, check_image
from vitwidgets.core.trace import Trace

from ._common import as_float, check_grid, check_patch_tokens, feature_stack, patch_tokens_at

__all__ = [
    "knn_per_layer",
    "linear_probe_per_layer",
    "ProbeResult",
    "correspondence",
    "Correspondence",
    "pck",
    "cluster_purity",
    "mask_pool",
]


def _labels(y, n: int, name: str, device) -> torch.Tensor:
    y = torch.as_tensor(y, device=device)
    if y.ndim != 1 or y.shape[0] != n or y.is_floating_point():
        raise ValueError(
            f"{name} must be [n] integer class labels with n = {n}, got {tuple(y.shape)}"
        )
    return y.long()


class ProbeResult(NamedTuple):
    """Accuracy per layer of :func:`knn_per_layer` and :func:`linear_probe_per_layer`.

    ``accuracy [L]`` float64 top-1 accuracy per layer in [0, 1] (on the test set, or
    leave-one-out / a held-out split); ``best_layer`` the layer with the highest accuracy (a
    block index from ``layers`` when it was given, else a position ``0 .. L-1``).
    """

    accuracy: torch.Tensor
    best_layer: int


def _result(accuracy: torch.Tensor, layers: tuple[int, ...] | None) -> ProbeResult:
    best = int(accuracy.argmax())
    return ProbeResult(accuracy, int(layers[best]) if layers is not None else best)


def _labelled_sets(features, labels, test_features, test_labels):
    """Training features ``[L, n, D]`` and labels ``[n]``, and the test set ``[L, m, D]``,
    ``[m]`` (``None, None`` when ``test_features`` is omitted), checked, on one device."""
    train = feature_stack(features, "features")
    y = _labels(labels, train.shape[1], "labels", train.device)
    if test_features is None:
        return train, y, None, None
    if test_labels is None:
        raise ValueError("test_features needs test_labels")
    test = feature_stack(test_features, "test_features").to(train.device)
    if test.shape[0] != train.shape[0] or test.shape[-1] != train.shape[-1]:
        raise ValueError(
            f"train and test features differ in layers or width: {tuple(train.shape)} vs "
            f"{tuple(test.shape)}"
        )
    return train, y, test, _labels(test_labels, test.shape[1], "test_labels", train.device)


def knn_per_layer(
    features: torch.Tensor, labels: torch.Tensor,
    test_features: torch.Tensor | None = None, test_labels: torch.Tensor | None = None,
    *, k: int = 20, temperature: float = 0.07, layers: tuple[int, ...] | None = None,
    chunk: int = 1024,
) -> ProbeResult:
    """Weighted k-NN classification per layer (Walmer et al. 2023; Caron et al. 2021 DINO's
    protocol).

    Features are L2-normalised; each test sample takes its ``k`` most cosine-similar training
    samples and votes for their classes with weights ``exp(s / temperature)``; top-1 accuracy.

    Args:
        features: training features ``[L, n, D]`` (e.g. the CLS token of each block output:
            ``layer_features(trace, "cls")``) and ``labels [n]``.
        test_features, test_labels: ``[L, m, D]`` and ``[m]``; when omitted, leave-one-out on
            the training set (each sample's own match is excluded).
        layers: names of the ``L`` layers for ``best_layer`` (block indices).

    Returns:
        :class:`ProbeResult` (``accuracy [L]``, ``best_layer``).
    """
    train, y, test, yt = _labelled_sets(features, labels, test_features, test_labels)
    train = F.normalize(train, dim=-1)
    loo = test is None
    test, yt = (train, y) if loo else (F.normalize(test, dim=-1), yt)
    n = train.shape[1]
    kk = min(k, n - 1 if loo else n)
    if kk < 1:
        raise ValueError("k-NN needs at least one neighbour (2 samples for leave-one-out)")
    num_classes = int(max(y.max(), yt.max())) + 1
    correct = torch.zeros(train.shape[0], dtype=torch.float64, device=train.device)
    for s in range(0, test.shape[1], chunk):  # chunks of test samples bound the [L, m, n] memory
        sim = test[:, s : s + chunk] @ train.transpose(-1, -2)  # [L, m, n]
        if loo:
            rows = torch.arange(sim.shape[1], device=sim.device)
            sim[:, rows, rows + s] = -float("inf")  # leave-one-out: never match yourself
        top, nbr = sim.topk(kk, dim=-1)
        votes = torch.zeros(*top.shape[:2], num_classes, dtype=top.dtype, device=top.device)
        votes.scatter_add_(-1, y[nbr], torch.exp(top / temperature))
        correct += (votes.argmax(-1) == yt[s : s + chunk]).sum(-1)
    return _result(correct / test.shape[1], layers)


def linear_probe_per_layer(
    features: torch.Tensor, labels: torch.Tensor,
    test_features: torch.Tensor | None = None, test_labels: torch.Tensor | None = None,
    *, C: float = 1.0, max_iter: int = 1000, test_size: float = 0.25, seed: int = 0,
    layers: tuple[int, ...] | None = None,
) -> ProbeResult:
    """Linear probe per layer: scikit-learn standardisation + ``LogisticRegression`` on frozen
    features ``[L, n, D]`` (labels ``[n]``); accuracy on ``test_features [L, m, D]`` /
    ``test_labels [m]`` or, when omitted, on a stratified held-out split of ``test_size``.
    ``layers`` names the ``L`` layers for ``best_layer``. Returns :class:`ProbeResult`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def numpy(t: torch.Tensor, features: bool = True):
        return (t.detach().cpu().double() if features else t.cpu()).numpy()

    train, y, test, yt = _labelled_sets(features, labels, test_features, test_labels)
    xs, y = numpy(train), numpy(y, False)
    if test is None:
        idx_tr, idx_te = train_test_split(
            range(len(y)), test_size=test_size, random_state=seed, stratify=y
        )
        xtr, ytr, xte, yte = xs[:, idx_tr], y[idx_tr], xs[:, idx_te], y[idx_te]
    else:
        xtr, ytr, xte, yte = xs, y, numpy(test), numpy(yt, False)
    acc = []
    for layer in range(xs.shape[0]):  # one sklearn fit per layer
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
        clf.fit(xtr[layer], ytr)
        acc.append(float(clf.score(xte[layer], yte)))
    return _result(torch.tensor(acc, dtype=torch.float64), layers)


class Correspondence(NamedTuple):
    """Matches of query points of image A in image B.

    ``patch [M, 2]`` (row, col) of the best patch in B; ``point [M, 2]`` its centre (y, x) in
    pixels; ``similarity [M]`` the cosine similarity; ``mutual [M]`` bool, True where A's
    patch is also the best match of B's patch (always computed; with ``mutual=True`` the
    non-mutual matches are the invalid ones); ``valid [M]`` bool."""

    patch: torch.Tensor
    point: torch.Tensor
    similarity: torch.Tensor
    mutual: torch.Tensor
    valid: torch.Tensor


def _patch_feats(x, layer, image_index, grid, patch_size):
    """Patch features ``[G, D]`` of one image, its grid and patch size: a Trace's
    :meth:`~vitwidgets.core.trace.Trace.patch_tokens` ``(layer)[image_index]``, or plain
    features ``[G, D]`` with ``grid`` and ``patch_size``."""
    if isinstance(x, Trace):
        t, grid = patch_tokens_at(x, layer, None, ndims=(3,))
        return t[check_image(image_index, t.shape[0])], grid, x.patch_size
    if grid is None or patch_size is None:
        raise ValueError("plain patch features [G, D] need grid=(gh, gw) and patch_size=")
    grid = check_grid(grid)
    t = check_patch_tokens(x, grid, ndims=(2,), shape="[G, D]", name="patch features")
    return t, grid, int(patch_size)


def _image_pair(image_index) -> tuple[int, int]:
    if isinstance(image_index, (tuple, list)):
        if len(image_index) != 2:
            raise ValueError(f"image_index must be an int or a pair (i_a, i_b): {image_index!r}")
        return image_index[0], image_index[1]
    return image_index, image_index


def correspondence(
    a: Trace | torch.Tensor,
    b: Trace | torch.Tensor,
    points: torch.Tensor,
    *,
    layer: LayerArg = -1,
    image_index: int | tuple[int, int] = 0,
    mutual: bool = False,
    grid: tuple[int, int] | None = None,
    patch_size: int | None = None,
) -> Correspondence:
    """Dense correspondence by nearest patch token (Amir et al. 2021; Walmer et al. 2023).

    Each point ``(y, x)`` (pixels of image A's model input) selects the patch containing it; its
    match is the most cosine-similar patch token of image B at ``layer`` (block index, ``-1`` =
    the model's last block, ``"embedding"``; see :mod:`vitwidgets.core.indexing`).

    Args:
        a, b: Traces (then ``image_index`` picks the images; the same trace twice matches
            within a batch) or patch features ``[G, D]`` with ``grid`` and ``patch_size``.
        points: ``[M, 2]`` (y, x) pixel coordinates in A.
        image_index: the image of a Trace ``a`` and of a Trace ``b`` (positions ``0 .. B-1`` in
            their batches): one int for both, or a pair ``(i_a, i_b)``.
        mutual: keep only mutual nearest neighbours (``valid`` False elsewhere).

    Returns:
        :class:`Correspondence` (``patch [M, 2]``, ``point [M, 2]`` in pixels of B,
        ``similarity [M]``, ``mutual [M]``, ``valid [M]``).
    """
    index_a, index_b = _image_pair(image_index)
    fa, grid_a, ps_a = _patch_feats(a, layer, index_a, grid, patch_size)
    fb, grid_b, ps_b = _patch_feats(b, layer, index_b, grid, patch_size)
    fb = fb.to(fa.device)
    pts = torch.as_tensor(points, device=fa.device)
    if pts.ndim != 2 or pts.shape[-1] != 2:
        raise ValueError(f"points must be [M, 2] (y, x) pixels, got {tuple(pts.shape)}")
    rc = (pts.double() / ps_a).floor().long()
    rc[:, 0] = rc[:, 0].clamp(0, grid_a[0] - 1)
    rc[:, 1] = rc[:, 1].clamp(0, grid_a[1] - 1)
    qa = rc[:, 0] * grid_a[1] + rc[:, 1]
    ua, ub = F.normalize(fa, dim=-1), F.normalize(fb, dim=-1)
    sim = ua[qa] @ ub.T  # [M, Gb]
    best_sim, best = sim.max(-1)
    back = (ub[best] @ ua.T).argmax(-1)
    is_mutual = back == qa
    row, col = best // grid_b[1], best % grid_b[1]
    patch = torch.stack([row, col], -1)
    point = (patch.to(torch.float64) + 0.5) * ps_b
    valid = is_mutual if mutual else torch.ones_like(is_mutual)
    return Correspondence(patch, point, best_sim, is_mutual, valid)


def pck(
    predicted: torch.Tensor,
    target: torch.Tensor,
    bbox_size,
    alpha: float = 0.1,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Percentage of correct keypoints (PCK, as in Amir et al. 2021): the share of points whose
    prediction lies within ``alpha * max(bbox_h, bbox_w)`` pixels of the target (Euclidean).
    Invalid predictions (``valid`` False) count as misses.

    Args:
        predicted, target: ``[M, 2]`` (y, x) pixels.
        bbox_size: ``(h, w)`` of the object box (one for all points) or ``[M, 2]``.
        alpha: typically 0.1, 0.05 or 0.01.

    Returns:
        Scalar tensor in [0, 1].
    """
    p = torch.as_tensor(predicted, dtype=torch.float64)
    t = torch.as_tensor(target, dtype=torch.float64, device=p.device)
    if p.shape != t.shape or p.ndim != 2 or p.shape[-1] != 2:
        raise ValueError(f"predicted and target must both be [M, 2], got {p.shape} and {t.shape}")
    box = torch.as_tensor(bbox_size, dtype=torch.float64, device=p.device)
    if box.shape[-1:] != (2,):
        raise ValueError(f"bbox_size must be (h, w) or [M, 2], got {tuple(box.shape)}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    ok = torch.linalg.vector_norm(p - t, dim=-1) <= alpha * box.max(-1).values
    if valid is not None:
        ok = ok & torch.as_tensor(valid, device=p.device).bool()
    return ok.double().mean()


def mask_pool(
    patch_tokens: torch.Tensor, masks: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """Mask-pooled features (Walmer et al. 2023): the average of the patch tokens ``[B, G, D]``
    weighted by each mask's coverage of every patch (masks ``[B, K, H, W]`` or ``[B, H, W]``,
    area-downsampled to the grid) -> ``[B, K, D]`` (``[B, D]`` for ``[B, H, W]`` masks)."""
    gh, gw = check_grid(grid)
    t = as_float(torch.as_tensor(patch_tokens))
    m = torch.as_tensor(masks, device=t.device)
    single = m.ndim == 3
    if single:
        m = m[:, None]
    if t.ndim != 3 or t.shape[1] != gh * gw or m.ndim != 4 or m.shape[0] != t.shape[0]:
        raise ValueError(
            f"expected patch tokens [B, G, D] (G = {gh}*{gw}) and masks [B, K, H, W] or "
            f"[B, H, W] with the same B, got {tuple(t.shape)} and {tuple(m.shape)}"
        )
    cover = F.adaptive_avg_pool2d(m.to(t.dtype), (gh, gw)).flatten(2)  # [B, K, G]
    pooled = cover @ t / cover.sum(-1, keepdim=True).clamp_min(1e-12)
    return pooled[:, 0] if single else pooled


def cluster_purity(
    x: torch.Tensor,
    labels: torch.Tensor,
    n_clusters: int | None = None,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Clustering quality against labels (Walmer et al. 2023): NMI, ARI (scikit-learn) and purity
    (share of samples in their cluster's majority class, from scikit-learn's contingency
    matrix).

    Args:
        x: cluster assignments ``[n]`` (integers), or features ``[n, D]`` clustered with
            scikit-learn ``KMeans`` into ``n_clusters`` (default: the number of classes).
        labels: ``[n]`` ground-truth classes.

    Returns:
        ``{"nmi": float, "ari": float, "purity": float}``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.metrics.cluster import contingency_matrix

    x = torch.as_tensor(x)
    y = torch.as_tensor(labels).detach().cpu().numpy().ravel()
    if x.ndim == 2 and x.is_floating_point():
        if x.shape[0] != len(y):
            raise ValueError(f"features [n, D] and labels [n] differ: {tuple(x.shape)}, {len(y)}")
        k = int(len(set(y.tolist()))) if n_clusters is None else int(n_clusters)
        pred = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(
            x.detach().cpu().double().numpy()
        )
    elif x.ndim == 1 and not x.is_floating_point():
        pred = x.detach().cpu().numpy()
        if len(pred) != len(y):
            raise ValueError(f"assignments [n] and labels [n] differ: {len(pred)} vs {len(y)}")
    else:
        raise ValueError(
            f"x must be integer cluster assignments [n] or float features [n, D], got "
            f"{tuple(x.shape)} {x.dtype}"
        )
    cm = contingency_matrix(y, pred)
    return {
        "nmi": float(normalized_mutual_info_score(y, pred)),
        "ari": float(adjusted_rand_score(y, pred)),
        "purity": float(cm.max(0).sum() / cm.sum()),
    }
