"""Jupyter widgets: AttentionExplorer (anywidget canvas), LayerMetrics (bokeh), HeadAnnotator,
the study views RepresentationMap, DepthProfile and FeatureExplorer (canvas), ``link`` which
keeps their selections in step, and ``explore`` which lays them out linked."""

from .annotator import HeadAnnotator
from .dashboard import Dashboard, explore
from .depth_profile import DepthProfile
from .explorer import AttentionExplorer
from .features import FeatureExplorer
from .layer_metrics import LayerMetrics
from .link import link
from .representation_map import RepresentationMap

__all__ = ["AttentionExplorer", "Dashboard", "DepthProfile", "FeatureExplorer", "HeadAnnotator",
           "LayerMetrics", "RepresentationMap", "explore", "link"]
