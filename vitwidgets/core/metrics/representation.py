"""Representation metrics over the residual stream: CKA (Kornblith et al. 2019; Raghu et al.
2021; minibatch CKA of Nguyen, Raghu & Kornblith 2021), token similarity (Park et al. 2023),
Fourier profile and feature variance (Park & Kim 2022), PCA colours and co-segmentation (Amir et
al. 2021).

CKA, token similarity, Fourier profile and feature variance are hand-written torch (Gram
matrices, FFTs) so that they run on the model's device next to the forward pass; PCA uses
``torch.linalg.svd``; k-means uses scikit-learn. Layers are named as in
:mod:`vitwidgets.core.indexing` (``-1`` = the model's last block, ``"embedding"`` = the input of
block 0). The accumulators (``CKAAccumulator``, ``FeatureAccumulator``,
``FourierAccumulator``) feed :func:`vitwidgets.core.streaming.stream_metrics`.
"""

from __future__ import annotations

import warnings

import torch

from vitwidgets.core.indexing import LayerArg, LayersArg, stream_indices
from vitwidgets.core.trace import Trace

from ._common import (
    as_float,
    check_grid,
    check_tokens,
    feature_stack,
    patch_tokens_at,
    stream_patches,
    take,
    trace_tokens,
)

__all__ = [
    "FEATURE_MODES",
    "layer_features",
    "cka",
    "cka_matrix",
    "MinibatchCKA",
    "CKAAccumulator",
    "FeatureAccumulator",
    "token_similarity",
    "fourier_profile",
    "fourier_frequencies",
    "feature_variance",
    "FourierAccumulator",
    "pca_project",
    "pca_rgb",
    "cluster_tokens",
]

FEATURE_MODES = ("cls", "mean_patch", "all_tokens")


# ------------------------------------------------------------------ features per layer
def layer_features(
    x: Trace | torch.Tensor,
    mode: str = "cls",
    *,
    num_prefix: int | None = None,
    layers: LayersArg = None,
) -> torch.Tensor:
    """One feature vector per image and residual-stream entry -> ``[K, B, F]``.

    Args:
        x: Trace (its ``tokens [L+1, B, N, D]``) or such a tensor (then ``num_prefix`` needed
            for ``"mean_patch"``).
        mode: ``"cls"`` (token 0, ``F = D``), ``"mean_patch"`` (mean of the patch tokens,
            ``F = D``) or ``"all_tokens"`` (all ``N`` tokens flattened, ``F = N * D``).
        layers: which entries, resolved by :func:`vitwidgets.core.indexing.stream_indices`:
            ``None`` (default) the ``L`` block outputs (``K = L``); an int ``n`` the last ``n``;
            a sequence of block indices and/or ``"embedding"`` (the input of block 0), e.g.
            ``("embedding", *range(L))`` for all ``L + 1``.
    """
    if mode not in FEATURE_MODES:
        raise ValueError(f"mode must be one of {FEATURE_MODES}, got {mode!r}")
    if isinstance(x, Trace):
        if mode == "cls" and x.num_prefix == 0:
            raise ValueError("mode='cls' on a model without prefix tokens: use 'mean_patch'")
        stream, num_prefix, num_layers = x, x.num_prefix, x.num_layers
    else:
        stream = check_tokens(x)
        num_layers = stream.shape[0] - 1
    entries = stream_indices(layers, num_layers)
    if mode == "mean_patch":
        if num_prefix is None:
            raise ValueError("mode='mean_patch' on a plain tensor needs num_prefix=")
        return take(stream_patches(stream, num_prefix), entries).mean(2)
    tokens = take(trace_tokens(x) if isinstance(x, Trace) else stream, entries)
    return tokens[:, :, 0] if mode == "cls" else tokens.flatten(2)


# ------------------------------------------------------------------ CKA
def _grams(f: torch.Tensor) -> torch.Tensor:
    """Linear Gram matrices ``[L, n, n]``: the matmul in the input dtype (fast), the HSIC
    arithmetic after it in float64 (the unbiased estimator subtracts large terms)."""
    return (f @ f.transpose(-1, -2)).double()


def _hsic(ka: torch.Tensor, kb: torch.Tensor, unbiased: bool, paired: bool = False):
    """HSIC between every pair of Gram matrices ``[La, n, n] x [Lb, n, n] -> [La, Lb]``
    (``paired``: only matching indices, ``[L] x [L] -> [L]``).

    Unbiased HSIC_1 (Song et al. 2012, as in Nguyen, Raghu & Kornblith 2021) with ``K~`` =
    ``K`` with zero diagonal:
    ``(tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1) / (n(n-3))``.
    Biased: ``tr(KHLH) / (n-1)^2``.
    """

    def dot(u, v):
        return (u * v).sum(-1) if paired else u @ v.T

    def outer(u, v):
        return u * v if paired else u[:, None] * v[None, :]

    n = ka.shape[-1]
    if unbiased:
        if n < 4:
            raise ValueError(f"the unbiased HSIC needs at least 4 samples per batch, got {n}")
        eye = torch.eye(n, dtype=torch.bool, device=ka.device)
        ka = ka.masked_fill(eye, 0)
        kb = ka if kb is None else kb.masked_fill(eye, 0)
        tr = dot(ka.flatten(1), kb.flatten(1))
        sa, sb = ka.sum((1, 2)), kb.sum((1, 2))
        ra, rb = ka.sum(2), kb.sum(2)
        return (tr + outer(sa, sb) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * dot(ra, rb)) / (
            n * (n - 3)
        )
    if n < 2:
        raise ValueError(f"CKA needs at least 2 samples, got {n}")

    def centre(k):
        return k - k.mean(1, keepdim=True) - k.mean(2, keepdim=True) + k.mean((1, 2), keepdim=True)

    ca = centre(ka)
    cb = ca if kb is None else centre(kb)
    return dot(ca.flatten(1), cb.flatten(1)) / (n - 1) ** 2


def _self_hsic(k: torch.Tensor, unbiased: bool) -> torch.Tensor:
    """``HSIC(K_l, K_l)`` per layer ``[L]`` (the diagonal of :func:`_hsic`)."""
    return _hsic(k, None, unbiased, paired=True)


def _paired_grams(fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
    """Gram matrices of the second feature set ``fb [Lb, n, d']``, on ``fa``'s device, after
    checking it holds the same ``n`` samples as ``fa [La, n, d]``."""
    fb = fb.to(fa.device)
    if fb.shape[1] != fa.shape[1]:
        raise ValueError(
            f"both feature sets need the same samples, got n={fa.shape[1]} and {fb.shape[1]}"
        )
    return _grams(fb)


def _cka_from(hab: torch.Tensor, haa: torch.Tensor, hbb: torch.Tensor) -> torch.Tensor:
    denom = torch.sqrt((haa[:, None] * hbb[None, :]).clamp_min(0))
    return torch.where(denom > 0, hab / denom.clamp_min(1e-300), torch.zeros_like(hab))


def cka_matrix(
    a: torch.Tensor | Trace,
    b: torch.Tensor | Trace | None = None,
    *,
    mode: str = "cls",
    unbiased: bool = False,
    layers: LayersArg = None,
) -> torch.Tensor:
    """Linear CKA between every layer of ``a`` and every layer of ``b`` (Kornblith et al. 2019;
    Raghu et al. 2021; Walmer et al. 2023).

    ``CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with linear Grams ``K = X X^T``.

    Args:
        a, b: features ``[La, n, d]`` / ``[Lb, n, d']`` with the same ``n`` samples, or Traces
            (features by :func:`layer_features` with ``mode`` and ``layers``). ``b=None``: ``a``
            against itself.
        unbiased: unbiased HSIC_1 (needs ``n >= 4``) instead of the biased ``tr(KHLH)``.
        layers: the residual-stream entries of Traces, as in :func:`layer_features`
            (default: the ``L`` block outputs).

    Returns:
        ``[La, Lb]`` float64 on the features' device.
    """
    def features(f, name: str) -> torch.Tensor:
        f = layer_features(f, mode, layers=layers) if isinstance(f, Trace) else f
        return feature_stack(f, name)

    fa = features(a, "a")
    ka = _grams(fa)
    kb = ka if b is None else _paired_grams(fa, features(b, "b"))
    return _cka_from(_hsic(ka, kb, unbiased), _self_hsic(ka, unbiased), _self_hsic(kb, unbiased))


def cka(x: torch.Tensor, y: torch.Tensor, *, unbiased: bool = False) -> torch.Tensor:
    """Linear CKA of two feature matrices ``x [n, d1]``, ``y [n, d2]`` (same samples) -> scalar.

    Invariant to orthogonal transforms and isotropic scaling; ``cka(x, x) = 1``.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"cka expects [n, d] matrices, got {tuple(x.shape)} and {tuple(y.shape)}")
    return cka_matrix(x, y, unbiased=unbiased)[0, 0]


class MinibatchCKA:
    """Streaming minibatch CKA (Nguyen, Raghu & Kornblith 2021): unbiased HSIC_1 per batch,
    averaged over batches.

    ``CKA_ij = mean_batches HSIC(K_i, L_j) / sqrt(mean HSIC(K_i, K_i) * mean HSIC(L_j, L_j))``.
    The state is a sum of per-batch terms, so accumulators over disjoint batches merge exactly
    (``acc_a + acc_b`` or ``acc_a.merge(acc_b)`` equals accumulating all batches in one).

    Use ``update(feats_a)`` for the L x L matrix within one model, ``update(feats_a, feats_b)``
    across two models (same images in the same order in both). Features ``[L, n, d]``
    (e.g. :func:`layer_features`); every batch needs ``n >= 4``.
    """

    def __init__(self) -> None:
        self.hsic_ab: torch.Tensor | None = None
        self.hsic_aa: torch.Tensor | None = None
        self.hsic_bb: torch.Tensor | None = None
        self.num_batches = 0
        self.cross: bool | None = None

    def update(self, feats_a: torch.Tensor, feats_b: torch.Tensor | None = None) -> MinibatchCKA:
        fa = feature_stack(feats_a, "feats_a")
        ka = _grams(fa)
        haa = _self_hsic(ka, True)
        if feats_b is None:
            hab, hbb = _hsic(ka, ka, True), haa
        else:
            kb = _paired_grams(fa, feature_stack(feats_b, "feats_b"))
            hab, hbb = _hsic(ka, kb, True), _self_hsic(kb, True)
        cross = feats_b is not None
        if self.cross is not None and cross != self.cross:
            raise ValueError("this accumulator mixes within-model and cross-model updates")
        self.cross = cross
        if self.hsic_ab is None:
            self.hsic_ab, self.hsic_aa, self.hsic_bb = hab, haa, hbb
        else:
            if self.hsic_ab.shape != hab.shape:
                raise ValueError(
                    f"layer counts changed: {tuple(self.hsic_ab.shape)} vs {tuple(hab.shape)}"
                )
            self.hsic_ab = self.hsic_ab + hab
            self.hsic_aa = self.hsic_aa + haa
            self.hsic_bb = self.hsic_bb + hbb
        self.num_batches += 1
        return self

    def merge(self, other: MinibatchCKA) -> MinibatchCKA:
        """A new accumulator holding both states (neither input changes)."""
        if not isinstance(other, MinibatchCKA):
            raise TypeError(f"can only merge a MinibatchCKA, got {type(other).__name__}")
        out = MinibatchCKA()
        if self.hsic_ab is None or other.hsic_ab is None:
            src = other if self.hsic_ab is None else self
            out.__dict__.update(src.__dict__)
            return out
        if self.cross != other.cross or self.hsic_ab.shape != other.hsic_ab.shape:
            raise ValueError("cannot merge accumulators of different kinds or layer counts")
        dev = self.hsic_ab.device
        out.hsic_ab = self.hsic_ab + other.hsic_ab.to(dev)
        out.hsic_aa = self.hsic_aa + other.hsic_aa.to(dev)
        out.hsic_bb = self.hsic_bb + other.hsic_bb.to(dev)
        out.num_batches = self.num_batches + other.num_batches
        out.cross = self.cross
        return out

    __add__ = merge

    def result(self) -> torch.Tensor:
        """CKA ``[La, Lb]`` (float64)."""
        if self.hsic_ab is None:
            raise ValueError("no batch accumulated yet")
        return _cka_from(self.hsic_ab, self.hsic_aa, self.hsic_bb)


class CKAAccumulator:
    """Minibatch CKA (unbiased HSIC, Nguyen, Raghu & Kornblith 2021) between the residual-stream
    entries ``layers`` (default the ``L`` block outputs, as :func:`layer_features`) of the
    streamed model, ``[K, K]`` (``[K, K']`` across two models). An accumulator of
    :func:`vitwidgets.core.streaming.stream_metrics`; batches with fewer than 4 images are
    skipped with a warning."""

    needs = {"tokens": True}

    def __init__(self, mode: str = "cls", layers: LayersArg = None) -> None:
        self.mode, self.layers = mode, layers
        self.cka = MinibatchCKA()
        self.skipped = 0

    def features(self, trace: Trace) -> torch.Tensor:
        return layer_features(trace, self.mode, layers=self.layers)

    def update(self, trace: Trace, batch=None, other: Trace | None = None) -> None:
        if trace.batch_size < 4:
            self.skipped += trace.batch_size
            return
        self.cka.update(self.features(trace), None if other is None else self.features(other))

    def merge(self, other: CKAAccumulator) -> CKAAccumulator:
        """Add ``other``'s batches (in place; returns it): the HSIC sums add, exactly as
        ``update`` adds each batch's terms."""
        self.cka = self.cka.merge(other.cka)
        self.skipped += other.skipped
        return self

    def result(self) -> torch.Tensor:
        if self.skipped:
            warnings.warn(
                f"CKA skipped {self.skipped} images in batches smaller than 4", stacklevel=2
            )
        return self.cka.result()


class FeatureAccumulator:
    """Collects one feature vector per image and block output (:func:`layer_features` ``mode``)
    on the CPU plus the labels of the batches: ``(features [L, n, D], labels [n] or None)``.
    Small (``L * n * D``). An accumulator of :func:`vitwidgets.core.streaming.stream_metrics`
    (its ``batch`` is a :class:`vitwidgets.core.streaming.Batch`)."""

    needs = {"tokens": True}

    def __init__(self, mode: str = "cls") -> None:
        self.mode = mode
        self.feats: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def update(self, trace: Trace, batch) -> None:
        # compact copies: a view would keep the batch's whole token tensor alive
        feats = layer_features(trace, self.mode).float().cpu()
        self.feats.append(feats.clone(memory_format=torch.contiguous_format))
        if batch.labels is not None:
            self.labels.append(batch.labels.cpu().clone())

    def merge(self, other: FeatureAccumulator) -> FeatureAccumulator:
        """Append ``other``'s images after this accumulator's (in place; returns it)."""
        self.feats.extend(other.feats)
        self.labels.extend(other.labels)
        return self

    def result(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.feats:
            raise ValueError("no batch streamed")
        labels = torch.cat(self.labels) if self.labels else None
        return torch.cat(self.feats, 1), labels


# ------------------------------------------------------------------ token similarity
_ACROSS = ("tokens", "depth", "heads")


def _l2n(x: torch.Tensor) -> torch.Tensor:
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12)


def _mean_pairwise_cos(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean cosine over pairs ``i != j`` of vectors along ``dim`` of ``x [..., D]``:
    ``(||sum u||^2 - M) / (M (M - 1))`` with unit vectors ``u`` (no ``M x M`` matrix)."""
    m = x.shape[dim]
    if m < 2:
        raise ValueError("pairwise similarity needs at least 2 vectors")
    s = _l2n(x).sum(dim)
    return ((s * s).sum(-1) - m) / (m * (m - 1))


def token_similarity(
    x: Trace | torch.Tensor,
    *,
    across: str = "tokens",
    num_prefix: int | None = None,
) -> torch.Tensor:
    """Mean pairwise cosine similarity (Park et al. 2023).

    Args:
        x: Trace (its tokens) or ``tokens [L+1, B, N, D]`` (``num_prefix`` needed), or for
            ``across="heads"`` a tensor of per-head outputs ``[..., H, N, Dh]``.
        across: ``"tokens"``: between the patch tokens of a layer (representation collapse)
            -> ``[L+1, B]``; ``"depth"``: between the same patch token at two depths, averaged
            over tokens and images -> ``[L+1, L+1]``; ``"heads"``: between the outputs of
            different heads for the same token, averaged over tokens -> ``[...]``.
    """
    if across not in _ACROSS:
        raise ValueError(f"across must be one of {_ACROSS}, got {across!r}")
    if across == "heads":
        if isinstance(x, Trace):
            raise TypeError("across='heads' takes per-head outputs [..., H, N, Dh], not a Trace")
        h = as_float(torch.as_tensor(x))
        if h.ndim < 3:
            raise ValueError(f"head outputs must be [..., H, N, Dh], got {tuple(h.shape)}")
        return _mean_pairwise_cos(h, -3).mean(-1)
    patches = stream_patches(x, num_prefix)
    if across == "tokens":
        return _mean_pairwise_cos(patches, -2)
    u = _l2n(patches)  # [K, B, G, D]
    return torch.einsum("abgd,cbgd->ac", u, u) / (u.shape[1] * u.shape[2])


# ------------------------------------------------------------------ Fourier / variance
def _latent_maps(x: Trace | torch.Tensor, grid, num_prefix) -> tuple[torch.Tensor, tuple[int, int]]:
    """Patch latents as ``[K, B, gh, gw, D]``: a Trace's ``latents`` (2L+1) when captured,
    else its ``tokens`` (L+1); or a plain ``[K, B, N, D]`` with ``grid`` and ``num_prefix``."""
    if isinstance(x, Trace):
        if x.latents is None and x.tokens is None:
            raise ValueError("this trace holds neither latents nor tokens")
        if x.latents is None:  # the residual stream: its patch tokens come from the Trace
            return _grid_maps(as_float(x.patch_tokens()), x.grid)
        lat, grid, num_prefix = x.latents, x.grid, x.num_prefix
    else:
        if grid is None or num_prefix is None:
            raise ValueError("a plain latents tensor needs grid=(gh, gw) and num_prefix=")
        lat = torch.as_tensor(x)
    gh, gw = check_grid(grid)
    lat = as_float(lat)
    if lat.ndim != 4 or lat.shape[2] != num_prefix + gh * gw:
        raise ValueError(
            f"latents must be [K, B, N, D] with N = {num_prefix} + {gh}*{gw}, "
            f"got {tuple(lat.shape)}"
        )
    return _grid_maps(lat[:, :, num_prefix:], (gh, gw))


def _grid_maps(patches: torch.Tensor, grid: tuple[int, int]):
    """Patch latents ``[K, B, G, D]`` as maps ``[K, B, gh, gw, D]``, and the grid."""
    k, b, _, d = patches.shape
    return patches.reshape(k, b, *grid, d), grid


def _log_amplitude_sum(maps: torch.Tensor) -> torch.Tensor:
    """``sum_{b, c} fftshift(log(|FFT2(x_bc)| + 1e-6))`` per latent: ``[K, B, gh, gw, D] ->
    [K, gh, gw]`` (a sum so that batches accumulate; divide by ``B * D`` for the mean)."""
    out = []
    for lat in maps:  # one latent at a time bounds memory (loop over depth, not heads/queries)
        f = torch.fft.fft2(lat.permute(0, 3, 1, 2))  # [B, D, gh, gw]
        amp = torch.log(f.abs() + 1e-6)
        out.append(torch.fft.fftshift(amp, dim=(-2, -1)).sum((0, 1)))
    return torch.stack(out)


def _diag_indices(grid: tuple[int, int], include_nyquist: bool) -> tuple[list[int], list[int]]:
    gh, gw = grid
    ch, cw = gh // 2, gw // 2
    if include_nyquist:
        n = min(ch, cw) + 1
        return [ch - i for i in range(n)], [cw - i for i in range(n)]
    n = min(gh - ch, gw - cw)
    return [ch + i for i in range(n)], [cw + i for i in range(n)]


def fourier_frequencies(grid: tuple[int, int], include_nyquist: bool = True) -> torch.Tensor:
    """Frequencies of the :func:`fourier_profile` entries ``[n, 2]`` (vertical, horizontal) in
    units of pi rad per patch (1.0 = the Nyquist frequency)."""
    gh, gw = check_grid(grid)
    rows, _ = _diag_indices((gh, gw), include_nyquist)
    i = torch.arange(len(rows), dtype=torch.float64)
    return torch.stack([2 * i / gh, 2 * i / gw], -1)


def _profile_from_log_amplitude(mean_log_amp: torch.Tensor, include_nyquist: bool = True):
    """Half-diagonal of mean log amplitude maps ``[K, gh, gw]`` minus its zero frequency."""
    rows, cols = _diag_indices(tuple(mean_log_amp.shape[-2:]), include_nyquist)
    diag = mean_log_amp[:, rows, cols]
    return diag - diag[:, :1]


def fourier_profile(
    x: Trace | torch.Tensor,
    *,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
    include_nyquist: bool = True,
) -> torch.Tensor:
    """Relative log amplitude along the half-diagonal of the spectrum (Park & Kim 2022; Park et
    al. 2023).

    Per latent: patch tokens as ``[B, C, gh, gw]`` (prefix dropped), ``log(|FFT2| + 1e-6)``,
    zero frequency shifted to the centre (``fftshift``), mean over batch and channels, the
    half-diagonal read from the centre outward, minus the zero-frequency value. The last entry
    is the delta log amplitude at the highest frequency.

    ``include_nyquist=True`` (default) reads the diagonal towards the top-left, which for even
    grids ends at the Nyquist frequency (pi) and so gives ``gh//2 + 1`` entries; by the
    symmetry of real signals ``|F(-k)| = |F(k)|`` the shared entries equal Park & Kim's code,
    which
    reads towards the bottom-right (``include_nyquist=False``, exactly their
    ``diag()[h//2:]``, stopping one step before pi on even grids). For a non-square grid the
    diagonal steps one frequency bin along both axes; see :func:`fourier_frequencies`.

    Args:
        x: Trace (``latents`` ``[2L+1, ...]`` when captured with ``latents=True``: embedding,
            then after every attention and MLP residual; else ``tokens`` ``[L+1, ...]``) or a
            tensor ``[K, B, N, D]`` with ``grid`` and ``num_prefix``.

    Returns:
        ``[K, n]`` delta log amplitudes (first column 0).
    """
    maps, _ = _latent_maps(x, grid, num_prefix)
    mean = _log_amplitude_sum(maps) / (maps.shape[1] * maps.shape[-1])
    return _profile_from_log_amplitude(mean, include_nyquist)


def feature_variance(
    x: Trace | torch.Tensor,
    *,
    grid: tuple[int, int] | None = None,
    num_prefix: int | None = None,
    correction: int = 1,
) -> torch.Tensor:
    """Feature-map variance (Park & Kim 2022): variance over the ``(gh, gw)`` positions of each
    channel (``correction=1``: unbiased, torch's default as in Park & Kim's code), mean over
    channels and images, per latent. Inputs as :func:`fourier_profile`. Returns ``[K]``."""
    maps, _ = _latent_maps(x, grid, num_prefix)
    return _variance_sum(maps, correction) / (maps.shape[1] * maps.shape[-1])


def _variance_sum(maps: torch.Tensor, correction: int = 1) -> torch.Tensor:
    """``sum_{b, c} var_{gh, gw}`` per latent ``[K, B, gh, gw, D] -> [K]`` (accumulates)."""
    return maps.flatten(2, 3).var(dim=2, correction=correction).sum((1, 2))


class FourierAccumulator:
    """:func:`fourier_profile` and :func:`feature_variance` per latent (Park & Kim 2022) over
    every streamed image: sums of per-image log amplitudes and variances (linear, so exact over
    batches). Uses a Trace's ``latents`` ``[2L+1, ...]`` when captured, else its ``tokens``. An
    accumulator of :func:`vitwidgets.core.streaming.stream_metrics`; ``merge`` adds another's
    sums."""

    needs = {"latents": True}

    def __init__(self, include_nyquist: bool = True) -> None:
        self.include_nyquist = include_nyquist
        self.amp: torch.Tensor | None = None
        self.var: torch.Tensor | None = None
        self.count = 0

    def update(self, trace: Trace, batch=None) -> None:
        maps, _ = _latent_maps(trace, None, None)
        self._add(_log_amplitude_sum(maps), _variance_sum(maps), maps.shape[1] * maps.shape[-1])

    def _add(self, amp: torch.Tensor | None, var: torch.Tensor | None, count: int) -> None:
        if amp is not None:
            self.amp = amp if self.amp is None else self.amp + amp.to(self.amp.device)
            self.var = var if self.var is None else self.var + var.to(self.var.device)
            self.count += count

    def merge(self, other: FourierAccumulator) -> FourierAccumulator:
        """Add ``other``'s sums (in place; returns it), as ``update`` adds a batch's."""
        self._add(other.amp, other.var, other.count)
        return self

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(profile [K, n], variance [K])``."""
        if self.amp is None:
            raise ValueError("no batch streamed")
        profile = _profile_from_log_amplitude(self.amp / self.count, self.include_nyquist)
        return profile, self.var / self.count


# ------------------------------------------------------------------ PCA / clustering
def pca_project(x: torch.Tensor, n_components: int = 3) -> torch.Tensor:
    """Scores of the rows of ``x`` ``[..., M, D]`` on their first ``n_components`` principal
    components: ``[..., M, k]``, the centred rows (mean over ``M`` removed) times the top
    eigenvectors of their scatter matrix ``[D, D]`` (``torch.linalg.eigh`` in float64: the
    right singular vectors of the centred rows, 3-5x faster than their SVD on the CPU). Each
    component's sign is fixed so that its largest loading is positive (a convention: PCA
    leaves the sign open)."""
    x = as_float(x)
    m, d = x.shape[-2:]
    if not 1 <= n_components <= min(m, d):
        raise ValueError(f"n_components must be in [1, {min(m, d)}], got {n_components}")
    flat = x - x.mean(-2, keepdim=True)
    scatter = flat.double().transpose(-1, -2) @ flat.double()
    _, vecs = torch.linalg.eigh(scatter)  # ascending eigenvalues
    comp = vecs[..., -n_components:].flip(-1).transpose(-1, -2).to(flat.dtype)  # [..., k, D]
    idx = comp.abs().argmax(-1, keepdim=True)
    comp = comp * torch.sign(torch.gather(comp, -1, idx))
    return flat @ comp.transpose(-1, -2)


def pca_rgb(
    x: Trace | torch.Tensor,
    layer: LayerArg | None = -1,
    *,
    grid: tuple[int, int] | None = None,
    n_components: int = 3,
) -> torch.Tensor:
    """First principal components of the patch tokens as colours (Amir et al. 2021).

    PCA is fitted jointly over all images' patch tokens of the layer (``torch.linalg.svd`` of
    the centred tokens); each component's sign is fixed so that its largest loading is
    positive, then min-max scaled to [0, 1] over the images.

    Args:
        x: Trace or patch tokens ``[B, G, D]`` (with ``grid``).
        layer: block index (``-1`` = the model's last block output, ``"embedding"``; see
            :mod:`vitwidgets.core.indexing`) or ``None`` for every residual-stream entry at once
            (Trace only).

    Returns:
        ``[B, gh, gw, n_components]`` (``[L+1, B, ...]`` for ``layer=None``) in [0, 1].
    """
    tokens, (gh, gw) = patch_tokens_at(x, layer, grid)
    lead, (b, g, d) = tokens.shape[:-3], tokens.shape[-3:]
    proj = pca_project(tokens.reshape(*lead, b * g, d), n_components)  # [..., BG, k]
    lo, hi = proj.amin(-2, keepdim=True), proj.amax(-2, keepdim=True)
    proj = (proj - lo) / (hi - lo).clamp_min(1e-12)
    return proj.reshape(*lead, b, gh, gw, n_components)


def cluster_tokens(
    x: Trace | torch.Tensor,
    n_clusters: int,
    layer: LayerArg = -1,
    *,
    grid: tuple[int, int] | None = None,
    normalize: bool = True,
    seed: int = 0,
) -> torch.Tensor:
    """k-means of the patch tokens of a set of images jointly (co-segmentation, Amir et al. 2021).

    scikit-learn ``KMeans`` on the (L2-normalised with ``normalize``) patch tokens of all
    images of the layer; clusters are shared across images, so the same part gets the same
    label in every image.

    Args:
        x: Trace or patch tokens ``[B, G, D]`` (with ``grid``).
        layer: block index (``-1`` = the model's last block output) or ``"embedding"``.

    Returns:
        Labels ``[B, gh, gw]`` (int64) on the tokens' device.
    """
    from sklearn.cluster import KMeans

    tokens, (gh, gw) = patch_tokens_at(x, layer, grid)
    if tokens.ndim != 3:
        raise ValueError("cluster_tokens needs one layer (an int or 'embedding'), not None")
    b, g, d = tokens.shape
    if not 1 <= n_clusters <= b * g:
        raise ValueError(f"n_clusters must be in [1, {b * g}], got {n_clusters}")
    feats = _l2n(tokens) if normalize else tokens
    km = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed)
    labels = km.fit_predict(feats.reshape(b * g, d).detach().cpu().double().numpy())
    return torch.as_tensor(labels, dtype=torch.int64, device=tokens.device).reshape(b, gh, gw)
