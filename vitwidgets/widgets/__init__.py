"""Jupyter widgets: AttentionExplorer (anywidget canvas), LayerMetrics (bokeh), HeadAnnotator,
and ``explore`` which links them into one dashboard."""

from .annotator import HeadAnnotator
from .dashboard import Dashboard, explore
from .explorer import AttentionExplorer
from .layer_metrics import LayerMetrics

__all__ = ["AttentionExplorer", "Dashboard", "HeadAnnotator", "LayerMetrics", "explore"]
