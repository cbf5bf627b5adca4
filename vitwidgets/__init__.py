"""vitwidgets: linked, interactive Jupyter widgets for looking inside Vision Transformers.

    import vitwidgets as vw
    m = vw.load_model("zoo:mae")           # or any timm ViT name / instance / checkpoint
    tr = m.trace(image)                      # attention [L,B,H,N,N], tokens [L+1,B,N,D], ...
    vw.metrics.attention_distance(tr)        # [L, B, H] in pixels
    vw.explore(m, image)                     # the linked dashboard

Heavy parts (metrics, widgets, the zoo) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "load_model": ("vitwidgets.loading", "load_model"),
    "WeightsUnavailableError": ("vitwidgets.loading", "WeightsUnavailableError"),
    "ViTModel": ("vitwidgets.core.model", "ViTModel"),
    "UnsupportedModelError": ("vitwidgets.core.model", "UnsupportedModelError"),
    "Trace": ("vitwidgets.core.trace", "Trace"),
    "Session": ("vitwidgets.core.session", "Session"),
    "metrics": ("vitwidgets.metrics", None),
    "zoo": ("vitwidgets.zoo", None),
    "data": ("vitwidgets.data", None),
    "plots": ("vitwidgets.plots", None),
    "explore": ("vitwidgets.widgets", "explore"),
    "AttentionExplorer": ("vitwidgets.widgets", "AttentionExplorer"),
    "LayerMetrics": ("vitwidgets.widgets", "LayerMetrics"),
    "HeadAnnotator": ("vitwidgets.widgets", "HeadAnnotator"),
    "link": ("vitwidgets.widgets", "link"),
    "compare": ("vitwidgets.widgets", "compare"),
    "computed": ("vitwidgets.widgets", "computed"),
    "link_models": ("vitwidgets.widgets", "link_models"),
    "RepresentationMap": ("vitwidgets.widgets", "RepresentationMap"),
    "DepthProfile": ("vitwidgets.widgets", "DepthProfile"),
    "FeatureExplorer": ("vitwidgets.widgets", "FeatureExplorer"),
    "ConceptMap": ("vitwidgets.widgets", "ConceptMap"),
    "load_bokehjs": ("vitwidgets.widgets.layer_metrics", "load_bokehjs"),
    "RayEngine": ("vitwidgets.engines.ray", "RayEngine"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'vitwidgets' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
