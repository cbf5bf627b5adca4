"""Jupyter widgets: AttentionExplorer (anywidget canvas), LayerMetrics (bokeh), HeadAnnotator,
``link`` which keeps their selections in step, and ``explore`` which lays them out linked."""

from .annotator import HeadAnnotator
from .dashboard import Dashboard, explore
from .explorer import AttentionExplorer
from .layer_metrics import LayerMetrics
from .link import link

__all__ = ["AttentionExplorer", "Dashboard", "HeadAnnotator", "LayerMetrics", "explore", "link"]
