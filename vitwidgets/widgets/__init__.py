"""Jupyter widgets: AttentionExplorer (anywidget canvas), LayerMetrics (bokeh), HeadAnnotator,
the study views RepresentationMap, DepthProfile and FeatureExplorer (canvas), ``link`` which
keeps their selections in step, ``explore`` which lays them out linked, and ``compare`` which
puts several models side by side (``link_models``: same image, place and relative depth)."""

from ._study import computed
from .annotator import HeadAnnotator
from .compare import Comparison, compare, link_models
from .concepts import ConceptMap
from .dashboard import Dashboard, explore
from .depth_profile import DepthProfile
from .explorer import AttentionExplorer
from .features import FeatureExplorer
from .layer_metrics import LayerMetrics
from .link import link
from .representation_map import RepresentationMap

__all__ = ["AttentionExplorer", "Comparison", "ConceptMap", "Dashboard", "DepthProfile",
           "FeatureExplorer", "HeadAnnotator", "LayerMetrics", "RepresentationMap", "compare",
           "computed", "explore", "link", "link_models"]
