"""RepresentationMap: the CKA matrix between the block outputs of one model (``L x L``) or of
two models (``La x Lb``), streamed over a dataset with visible progress (Raghu et al. 2021;
minibatch CKA of Nguyen, Raghu & Kornblith 2021), with the token similarity of each model's
residual stream as a companion curve (Park et al. 2023).

The kernel computes (:func:`vitwidgets.core.profiles.representation_map`) and ships the small
matrix once (float32, cells fill in while the batches stream); hover is answered in the
browser. A click on a cell sets ``layer`` (model A's block, the row) and ``layer_b`` (model B's
block, the column), which link to other views::

    rm = vw.RepresentationMap(model_a, images, model_b)
    vw.link(rm, explorer_a)                                   # layer <-> layer
    vw.link(rm, explorer_b, traits={"layer_b": "layer"})      # the column's block
"""

from __future__ import annotations

from typing import Any

import torch
import traitlets

from vitwidgets.core.errors import UserValueError
from vitwidgets.core.indexing import block_index
from vitwidgets.core.metrics.representation import FEATURE_MODES
from vitwidgets.core.profiles import RepresentationMapResult, representation_map
from vitwidgets.core.vocab import COLORMAPS

from ._background import batches_text, run_job
from ._base import bundle, trait_check
from ._study import StudyView, derived, study_models
from ._wire import encode_array


def array_bytes(x: torch.Tensor | None) -> bytes:
    """``x`` as float32 bytes for the wire (``b""`` for nothing yet)."""
    return b"" if x is None else encode_array("values", x, "float32")[1]


class RepresentationMap(StudyView):
    """Linear CKA between every block output of model A (rows) and of model B (columns; A
    itself when ``model_b`` is None), over ``data``.

    Args:
        model: model A (a ``ViTModel`` or anything ``vw.load_model`` takes).
        data: a list of images, or what :func:`vitwidgets.core.streaming.iter_batches`
            takes (batches, a ``[N, 3, H, W]`` tensor, a torch ``Dataset`` or ``DataLoader``).
            Every batch needs at least 4 images (unbiased HSIC).
        model_b: model B, or None.
        mode: features per image: ``"cls"``, ``"mean_patch"`` or ``"all_tokens"``.
        batch_size: images per batch (for lists of images, tensors and Datasets).
        background: ``None`` (default): stream in a background thread when an event loop runs
            (a notebook kernel), else before this returns; ``False``: always before this
            returns; ``True``: always in the background.
        **options: initial ``layer``, ``layer_b``, ``colormap`` or ``layout``.

    The matrix streams in a background thread while the kernel runs (the status line counts
    the batches, the cells fill in); without an event loop (or with ``background=False``) it is
    computed before this returns.

    Traits: ``layer`` (model A's block, the row), ``layer_b`` (model B's block, the column):
    click a cell to set both. Results: :attr:`matrix` (``[La, Lb]`` float64, the core's
    minibatch CKA), :attr:`similarity` / :attr:`similarity_b` (token similarity ``[L+1]``).
    """

    _bundle_name = "repmap"
    _esm = bundle(_bundle_name)
    _what = "CKA"

    model_name = derived(traitlets.Unicode(""))
    model_b_name = derived(traitlets.Unicode(""))
    num_layers = derived(traitlets.Int(1))
    num_layers_b = derived(traitlets.Int(1))
    #: whether the columns are another model's blocks
    cross = derived(traitlets.Bool(False))
    mode = derived(traitlets.Unicode("cls"))
    num_images = derived(traitlets.Int(0))
    layer = traitlets.Int(0).tag(sync=True)
    layer_b = traitlets.Int(0).tag(sync=True)
    colormap = traitlets.Enum(COLORMAPS, "viridis").tag(sync=True)
    # the wire: float32 [La, Lb] CKA (partial while streaming), [L+1] token similarities
    _cka = traitlets.Bytes(b"").tag(sync=True)
    _similarity = traitlets.Bytes(b"").tag(sync=True)
    _similarity_b = traitlets.Bytes(b"").tag(sync=True)

    def __init__(
        self, model: Any, data: Any, model_b: Any = None, *, mode: str = "cls",
        batch_size: int = 16, background: bool | None = None, **options: Any,
    ):
        a, b = study_models(type(self), options, model, model_b)
        if mode not in FEATURE_MODES:
            raise UserValueError(f"mode must be one of {FEATURE_MODES}, got {mode!r}")
        self.model_a, self.model_b = a, b
        self.result: RepresentationMapResult | None = None
        super().__init__(
            model_name=a.name, model_b_name=(b or a).name, num_layers=a.num_layers,
            num_layers_b=(b or a).num_layers, cross=b is not None, mode=mode, **options,
        )
        self.status = batches_text(self._what, 0, None)
        run_job(
            lambda report: representation_map(
                a, data, b, mode=mode, batch_size=batch_size, on_batch=report),
            on_progress=self._progress, on_done=self._finished, on_error=self._failed,
            name="vitwidgets-cka", background=background,
        )

    @property
    def matrix(self) -> torch.Tensor | None:
        """CKA ``[La, Lb]`` float64 (``None`` until every batch is in)."""
        return None if self.result is None else self.result.cka

    @property
    def similarity(self) -> torch.Tensor | None:
        """Model A's token similarity ``[L+1]`` (entry 0 the embedding)."""
        return None if self.result is None else self.result.similarity_a

    @property
    def similarity_b(self) -> torch.Tensor | None:
        """Model B's token similarity ``[Lb+1]`` (``None`` within one model)."""
        return None if self.result is None else self.result.similarity_b

    def _progress(self, done: int, total: int | None, partial: Any = None) -> None:
        super()._progress(done, total)
        if partial is not None:
            self._cka = array_bytes(partial)

    def _finished(self, result: RepresentationMapResult) -> None:
        self.result = result
        with self.hold_trait_notifications():
            self._cka = array_bytes(result.cka)
            self._similarity = array_bytes(result.similarity_a)
            self._similarity_b = array_bytes(result.similarity_b)
            self.num_images = result.num_images
            self.status = ""
            self.done = True

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return trait_check(block_index, proposal["value"], self.num_layers,
                           owner=self.model_name, negative=False)

    @traitlets.validate("layer_b")
    def _valid_layer_b(self, proposal):
        return trait_check(block_index, proposal["value"], self.num_layers_b,
                           owner=self.model_b_name, negative=False)
