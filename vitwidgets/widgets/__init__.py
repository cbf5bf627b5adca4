"""Jupyter widgets: AttentionExplorer (anywidget canvas), LayerMetrics (bokeh), HeadAnnotator,
the study views RepresentationMap and DepthProfile (canvas), ``link`` which keeps their
selections in step, and ``explore`` which lays them out linked."""

from .annotator import HeadAnnotator
from .dashboard import Dashboard, explore
from .depth_profile import DepthProfile
from .explorer import AttentionExplorer
from .layer_metrics import LayerMetrics
from .link import link
from .representation_map import RepresentationMap

__all__ = ["AttentionExplorer", "Dashboard", "DepthProfile", "HeadAnnotator", "LayerMetrics",
           "RepresentationMap", "explore", "link"]
