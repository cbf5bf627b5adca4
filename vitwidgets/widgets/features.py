"""FeatureExplorer: a set of images seen through one layer's patch features (Amir et al. 2021
"Deep ViT Features as Dense Visual Descriptors"; Walmer et al. 2023 "Teaching Matters",
correspondence): PCA colours, a foreground rule, k-means co-segmentation, cosine-similarity maps
under the pointer, best matches on click and keypoint PCK per layer.

The kernel computes (:class:`vitwidgets.core.features.SessionFeatures`) and ships a layer once;
hover is answered in the browser, clicks ask the kernel (latest request wins)::

    fx = vw.FeatureExplorer(model, images, layer=-1, facet="tokens", k=3)
    vw.link(fx, vw.AttentionExplorer(model, images))     # image, layer and query in step
"""

from __future__ import annotations

from typing import Any

import traitlets

from vitwidgets.core.features import FACET_INFO, FACETS, FOREGROUND_RULE, SessionFeatures
from vitwidgets.core.indexing import block_index, check_image
from vitwidgets.core.session import Session
from vitwidgets.core.vocab import COLORMAPS

from ._base import (
    FRONTEND_TIMEOUT_S,
    SessionView,
    bundle,
    command,
    derived,
    trait_check,
    widget_session,
)
from ._export import PngSave, start_png_save
from ._wire import encode_array, png_bytes

__all__ = ["FeatureExplorer", "PANELS", "feature_dims"]

#: what the panel under each image shows: ``(id, label, title)``
PANEL_INFO = (
    ("pca", "PCA", "the first three principal components of the patch features as RGB"),
    ("foreground", "foreground", FOREGROUND_RULE),
    ("clusters", "clusters", "k-means co-segmentation: one cluster, one colour, in every image"),
)
PANELS = tuple(p for p, _, _ in PANEL_INFO)
#: the side in px of the images the browser shows (the model input is shrunk to it)
IMAGE_SIDE = 224


def feature_dims(num_images: int, num_patches: int, dims: int, max_bytes: int) -> int | None:
    """How many coordinates per patch the browser gets: ``None`` (all ``dims``, exact) when
    ``num_images * num_patches * dims`` float16 values fit ``max_bytes``, else as many as fit
    (at least 1)."""
    per_dim = 2 * num_images * num_patches
    if dims * per_dim <= max_bytes:
        return None
    return max(1, max_bytes // per_dim)


class FeatureExplorer(SessionView):
    """Patch features of a set of images, per layer and facet, with similarity under the pointer.

    Each image shows the cosine similarity of every patch to the patch under the pointer (any
    image), computed in the browser from the layer's L2-normalised patch features (float16;
    ViT-B/16 at 224 px over 8 images: 8 x 196 x 768 values, 2.4 MB, about a million
    multiply-adds per hover). Beyond ``max_feature_bytes`` the browser gets the features'
    projection onto their top principal directions (uncentred PCA fitted jointly over the
    images; :func:`vitwidgets.core.features.similarity_basis`): the cosines are then
    approximate, and the widget shows their largest possible error (``cosine_error``).
    A click asks the kernel for the clicked patch's best match in every image, mutual nearest
    neighbours marked (:func:`vitwidgets.metrics.correspondence` on the exact features, on the
    model's device). Under each image: the first three principal components as RGB
    (:func:`vitwidgets.metrics.pca_rgb`, fitted jointly), the foreground by the sign of the
    first component (:func:`vitwidgets.core.features.foreground`, its rule shown) or k-means
    co-segmentation with ``k`` clusters (:func:`vitwidgets.metrics.cluster_tokens`). With
    ``keypoints``, PCK per layer is plotted (best layer marked; a click picks the layer).

    Args:
        model: a ``ViTModel`` (or anything ``vw.load_model`` takes, or a :class:`Session`).
        images: the images (a list; PIL, path, numpy ``HxWx3``, torch ``3xHxW``).
        **options: initial trait values (``layer`` (``-1``: the last block), ``facet``, ``k``,
            ``panel``, ``keypoints``, ``pck_alpha``, ...); an unknown keyword raises
            ``TypeError`` listing the valid ones.

    Traits (semantic selection, linked by ``vw.link``):
        image_index: the image of the selected patch. layer: block ``0..L-1``.
        query: token index (prefix tokens first, then patches row-major) of the clicked patch,
            ``-1`` = none (the maps follow the pointer; so does a prefix token, e.g. the CLS
            query pinned in a linked AttentionExplorer).

    Options: ``facet`` (``"tokens"``, ``"keys"``, ``"queries"``: see
    :data:`vitwidgets.core.features.FACETS`), ``k`` (clusters, 2..16), ``panel`` (one of
    :data:`PANELS`), ``colormap``, ``keypoints`` (one entry per image: a dict ``name -> (y,
    x)`` or a list of ``(y, x)``, pixels of the model input; see
    :func:`vitwidgets.core.features.check_keypoints`), ``pck_alpha`` (PCK threshold as a share
    of the input's longer side), ``max_feature_bytes`` (float16 features the browser may get
    per layer).
    """

    _bundle_name = "features"
    _esm = bundle(_bundle_name)

    num_prefix = derived(traitlets.Int(0))
    #: PCK per block for ``keypoints`` (``[]`` without keypoints)
    pck = derived(traitlets.List(traitlets.Float()))
    # semantic selection
    image_index = traitlets.Int(0).tag(sync=True)
    layer = traitlets.Int(-1).tag(sync=True)
    query = traitlets.Int(-1).tag(sync=True)
    # options
    facet = traitlets.Enum(FACETS, "tokens").tag(sync=True)
    k = traitlets.Int(3, min=2, max=16).tag(sync=True)
    panel = traitlets.Enum(PANELS, "pca").tag(sync=True)
    colormap = traitlets.Enum(COLORMAPS, "viridis").tag(sync=True)
    keypoints = traitlets.Any(None)
    pck_alpha = traitlets.Float(0.1, min=0.0)
    max_feature_bytes = traitlets.Int(4_000_000, min=1)
    request_timeout_ms = traitlets.Int(120_000).tag(sync=True)
    # the vocabulary the frontend shows
    _facets = traitlets.List(
        [{"id": i, "label": label, "title": title} for i, label, title in FACET_INFO]
    ).tag(sync=True)
    _panels = traitlets.List(
        [{"id": i, "label": label, "title": title} for i, label, title in PANEL_INFO]
    ).tag(sync=True)
    _colormaps = traitlets.List(list(COLORMAPS)).tag(sync=True)
    _images = traitlets.List(traitlets.Bytes()).tag(sync=True)
    #: bumped when what a layer's data depends on changes outside a request (the browser
    #: drops what it holds)
    _data_version = traitlets.Int(0).tag(sync=True)

    def __init__(self, model: Any, images: Any = None, **options: Any):
        session = widget_session(type(self), model, images, options)
        if "layer" in options:
            options["layer"] = trait_check(block_index, options["layer"], session.num_layers,
                                           owner=session.name)
        else:
            options["layer"] = session.num_layers - 1
        super().__init__(session=session, **self._shape_of(session), **options)
        self.features = SessionFeatures(session)
        self._images = [png_bytes(session.image_rgb(i), IMAGE_SIDE)
                        for i in range(session.num_images)]
        self._update_pck()

    @staticmethod
    def _shape_of(session: Session) -> dict[str, Any]:
        return {**SessionView._shape_of(session), "num_prefix": session.num_prefix}

    # -- validation -----------------------------------------------------------------------------
    @traitlets.validate("image_index", "layer")
    def _valid_index(self, proposal):
        value = proposal["value"]
        if proposal["trait"].name == "image_index":
            return trait_check(check_image, value, self.num_images, owner="this view")
        return trait_check(block_index, value, self.num_layers, owner=self.model_name,
                           negative=False)

    @traitlets.validate("query")
    def _valid_query(self, proposal):
        q = proposal["value"]
        n = self.num_prefix + self.grid[0] * self.grid[1]
        if not -1 <= q < n:
            raise traitlets.TraitError(f"query token {q} out of range -1..{n - 1}")
        return q

    @traitlets.observe("keypoints", "facet", "pck_alpha")
    def _pck_inputs_changed(self, _change):
        if hasattr(self, "features"):  # not during __init__'s trait set-up
            self._update_pck()

    @traitlets.observe("max_feature_bytes")
    def _budget_changed(self, _change):
        self._data_version += 1

    def _update_pck(self) -> None:
        if self.keypoints is None:
            self.pck = []
            return
        self.pck = self.features.pck_per_layer(self.keypoints, self.facet, self.pck_alpha).tolist()

    @property
    def best_layer(self) -> int | None:
        """The block with the highest PCK (the first of ties); ``None`` without keypoints."""
        return None if not self.pck else max(range(len(self.pck)), key=self.pck.__getitem__)

    # -- commands from the frontend ---------------------------------------------------------------
    @command("layer_data")
    def layer_data(self, layer: int, facet: str, k: int) -> tuple[dict, list[bytes]]:
        """Everything the browser draws for ``layer`` and ``facet`` with ``k`` clusters:
        ``coords`` ``[B, G, dims]`` float16 (dot products = cosines; see
        :class:`~vitwidgets.core.features.SimilarityBasis`), ``pca`` ``[B, G, 3]`` float16 in
        [0, 1], ``foreground`` ``[B, G]`` float16 (the first component's oriented score; > 0 =
        foreground) and ``clusters`` ``[B, G]`` float16 (whole numbers ``0..k-1``), in the
        order of ``result["arrays"]``."""
        s = self.session
        layer = s.check_layer(layer)
        gh, gw = s.grid
        full = self.features.image_features(0, layer, facet).shape[-1]
        cut = feature_dims(s.num_images, gh * gw, full, self.max_feature_bytes)
        view = self.features.layer_view(layer, facet, k, cut)
        basis, fg = view["basis"], view["foreground"]
        b = s.num_images
        arrays = [
            encode_array("coords", basis.coords),
            encode_array("pca", view["pca"].reshape(b, gh * gw, 3)),
            encode_array("foreground", fg.score),
            encode_array("clusters", view["clusters"].reshape(b, gh * gw).float()),
        ]
        result = {
            "layer": layer, "facet": facet, "k": k, "dims": basis.dims,
            "full_dims": basis.full_dims, "cosine_error": basis.error_bound,
            "foreground_rule": fg.rule, "border_foreground": fg.border_foreground,
            "arrays": [desc for desc, _ in arrays],
        }
        return result, [data for _, data in arrays]

    @command("matches")
    def matches(self, image: int, patch: int, layer: int, facet: str) -> tuple[dict, list]:
        """Best match of patch ``patch`` (``0..G-1``) of image ``image`` in every image:
        ``best`` (patch index per image), ``similarity`` (cosine) and ``mutual`` (bool)."""
        m = self.features.matches(image, patch, layer, facet)
        result = {"image": image, "patch": patch, "layer": self.session.check_layer(layer),
                  "facet": facet, "best": m.patch.tolist(),
                  "similarity": m.similarity.double().tolist(), "mutual": m.mutual.tolist()}
        return result, []

    def save_png(
        self, path: Any, *, scale: int = 2, timeout: float = FRONTEND_TIMEOUT_S
    ) -> PngSave:
        """Write a PNG of what the explorer shows (as its PNG button downloads): the images
        with their similarity maps and panels, the rule line and the PCK plot, on white. In a
        notebook cell: ``await explorer.save_png("fig.png")`` (see
        :meth:`AttentionExplorer.save_png <vitwidgets.widgets.explorer.AttentionExplorer.save_png>`
        for why it is awaited).

        Args:
            path: a file name ending in ``.png`` in an existing folder.
            scale: px per CSS px, a whole number 1..8.
            timeout: seconds to wait for the browser.
        """
        return start_png_save(self, path, scale=scale, timeout=timeout)
