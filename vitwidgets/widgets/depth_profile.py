"""DepthProfile: per-depth curves of one or several models over a dataset, side by side on
one depth axis (Park & Kim 2022 "How Do Vision Transformers Work?"; Park et al. 2023 on
contrastive vs masked-image pretraining; Walmer et al. 2023 "Teaching Matters").

Panels: the delta log amplitude of the highest frequency per sub-layer latent (after each
attention and after each MLP residual: attention lowers it, MLPs raise it, the alternating
pattern of Park & Kim), the feature-map variance per sub-layer, the mean attention distance and
NMI per block, the token similarity of the residual stream (Park et al. 2023) and, with labels,
k-NN and linear-probe accuracy per block with the best block marked. The kernel computes each
model's profile in one streaming pass (:func:`vitwidgets.core.profiles.depth_profile`) and
ships the curves (a few hundred numbers); hover is answered in the browser. A click on a depth
sets ``layer`` (the nearest block of the first model), which links to other views::

    dp = vw.DepthProfile({"DINO": dino, "MAE": mae}, images, labels=labels)
    vw.link(dp, explorer)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import traitlets

from vitwidgets.core.errors import UserValueError
from vitwidgets.core.indexing import block_index
from vitwidgets.core.metrics.representation import FEATURE_MODES
from vitwidgets.core.profiles import ModelProfile, depth_profile, latent_depths

from ._background import batches_text, run_job
from ._base import bundle, trait_check
from ._study import StudyView, derived, study_models

#: x axes: depth in blocks of each model, or relative depth (0 = embedding, 1 = last block)
DEPTH_AXES = ("block", "relative")


def _named(models: Any) -> tuple[list[str] | None, list]:
    """Names (``None``: the models' own) and models of ``models``: one model, a list or a
    dict ``{name: model}``."""
    if isinstance(models, Mapping):
        if not models:
            raise UserValueError("give at least one model: DepthProfile({'name': model}, data)")
        return [str(k) for k in models], list(models.values())
    if isinstance(models, (list, tuple)):
        if not models:
            raise UserValueError("give at least one model: DepthProfile([model], data)")
        return None, list(models)
    return None, [models]


def _unique(names: list[str]) -> list[str]:
    """Names made unique with " (2)", " (3)" suffixes (two models of one name stay apart)."""
    out: list[str] = []
    for n in names:
        k, name = 2, n
        while name in out:
            name, k = f"{n} ({k})", k + 1
        out.append(name)
    return out


def profile_wire(name: str, p: ModelProfile) -> dict:
    """One model's curves as JSON for the browser (float64 numbers as the core computed
    them); ``depths`` are the Fourier entries' depths in blocks (:func:`latent_depths`)."""

    def probe(r):
        return (None, -1) if r is None else (r.accuracy.tolist(), int(r.best_layer))

    knn, knn_best = probe(p.knn)
    lin, lin_best = probe(p.linear_probe)
    return {
        "name": name, "num_layers": p.num_layers, "sub_layers": p.sub_layers,
        "depths": latent_depths(p.num_layers, p.sub_layers).tolist(),
        "high_frequency": p.high_frequency.tolist(), "variance": p.variance.tolist(),
        "distance_px": p.distance_px.tolist(), "nmi": p.nmi.tolist(),
        "similarity": p.token_similarity.tolist(),
        "knn": knn, "knn_best": knn_best, "probe": lin, "probe_best": lin_best,
    }


class DepthProfile(StudyView):
    """Per-depth curves of one or several models over ``data``.

    Args:
        models: a model, a list of models, or a dict ``{name: model}`` (each a ``ViTModel``
            or anything ``vw.load_model`` takes).
        data: a list of images, or what :func:`vitwidgets.core.streaming.iter_batches` takes;
            batches may carry labels. It is streamed once per model (re-iterable for several
            models: a list, tensor, Dataset or DataLoader, not a generator).
        labels: one class per image, in order (for data without labels): adds the k-NN
            (leave-one-out, ``k`` neighbours) and linear-probe accuracy per block.
        mode: the features the probes read (``"cls"``, ``"mean_patch"``, ``"all_tokens"``).
        probe: also fit the linear probe (one scikit-learn fit per block and model).
        batch_size: images per batch.
        background: as :class:`~vitwidgets.widgets.RepresentationMap`'s (``None``: in a
            background thread when an event loop runs, else before this returns).
        **options: initial ``layer``, ``depth_axis`` or ``layout``.

    Traits: ``layer`` (a block of the first model: click a depth to set it; link it to other
    views), ``depth_axis`` (``"block"``, or ``"relative"``: the default when the models'
    depths differ). Results: :attr:`profiles` (one :class:`~vitwidgets.core.profiles.ModelProfile`
    per model, in order).
    """

    _bundle_name = "depth"
    _esm = bundle(_bundle_name)
    _what = "depth profiles"

    names = derived(traitlets.List(traitlets.Unicode()))
    num_layers = derived(traitlets.Int(1))
    has_labels = derived(traitlets.Bool(False))
    layer = traitlets.Int(0).tag(sync=True)
    depth_axis = traitlets.Enum(DEPTH_AXES, "block").tag(sync=True)
    _profiles = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(
        self, models: Any, data: Any, *, labels: Any = None, mode: str = "cls", k: int = 20,
        probe: bool = True, batch_size: int = 16, background: bool | None = None,
        **options: Any,
    ):
        names, given = _named(models)
        loaded = study_models(type(self), options, *given)
        if mode not in FEATURE_MODES:
            raise UserValueError(f"mode must be one of {FEATURE_MODES}, got {mode!r}")
        self.models = loaded
        self.profiles: list[ModelProfile] = []
        names = _unique(names or [m.name for m in loaded])
        depths = {m.num_layers for m in loaded}
        options.setdefault("depth_axis", "block" if len(depths) == 1 else "relative")
        super().__init__(names=names, num_layers=loaded[0].num_layers, **options)
        kw = {"labels": labels, "mode": mode, "k": k, "probe": probe, "batch_size": batch_size}
        self.status = batches_text(self._what, 0, None)
        run_job(self._work(data, kw), on_progress=self._progress, on_done=self._finished,
                on_error=self._failed, name="vitwidgets-depth-profile", background=background)

    def _work(self, data: Any, kw: dict):
        """The job: every model's profile in turn, reporting ``(batches done, total, the
        profiles finished so far)``."""

        def work(report) -> list[ModelProfile]:
            out = []
            for i, m in enumerate(self.models):
                def step(done, total, _partial, i=i, out=out):
                    total_all = None if total is None else total * len(self.models)
                    report(done + i * (total or 0), total_all, list(out))
                out.append(depth_profile(m, data, on_batch=step, **kw))
            return out

        return work

    def _progress(self, done: int, total: int | None, ready: Any = None) -> None:
        self.status = batches_text(self._what, done, total)
        if ready is not None and len(ready) > len(self.profiles):
            self._show(ready)

    def _show(self, profiles: list[ModelProfile]) -> None:
        self.profiles = list(profiles)
        self._profiles = [profile_wire(n, p) for n, p in zip(self.names, profiles, strict=False)]
        self.has_labels = any(p.knn is not None for p in profiles)

    def _finished(self, profiles: list[ModelProfile]) -> None:
        with self.hold_trait_notifications():
            self._show(profiles)
            self.status = ""
            self.done = True

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return trait_check(block_index, proposal["value"], self.num_layers,
                           owner=self.names[0] if self.names else "the model", negative=False)
