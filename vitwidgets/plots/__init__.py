"""One-call bokeh figures for the notebooks: each takes computed results (arrays, tensors,
dicts from :mod:`vitwidgets.metrics`) and returns a bokeh figure or grid to ``show``. No metric
maths here: only drawing.

House rules of every figure: the legend sits outside the plot frame, every colour has a key
(a legend entry or a titled colour bar), reference lines have legend entries, and axes that
span decades can be logarithmic (``y_axis_type="log"``).

    import vitwidgets as vw
    vw.plots.show(vw.plots.per_head({"mae": dist}, title="Mean attention distance", y_label="px"))

``show`` displays a figure as a jupyter_bokeh widget, so BokehJS comes from vitwidgets'
JupyterLab extension and never goes into the notebook.
"""

from __future__ import annotations

from ._show import show
from .concepts import category_shares
from .images import heat_maps, image, keypoint_matches, label_maps
from .layers import per_head, per_layer
from .maps import LATENT_KINDS, fourier_profiles, heatmap, latent_kinds, per_latent

__all__ = [
    "LATENT_KINDS",
    "category_shares",
    "fourier_profiles",
    "heat_maps",
    "heatmap",
    "image",
    "keypoint_matches",
    "label_maps",
    "latent_kinds",
    "per_head",
    "per_latent",
    "per_layer",
    "show",
]
