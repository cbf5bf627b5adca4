"""Public metrics API: ``vw.metrics.attention_distance(tr)``, ``vw.metrics.cka(X, Y)``, ...

A thin re-export of :mod:`vitwidgets.core.metrics` (per-image / per-batch functions) and of the
dataset-level streaming functions of :mod:`vitwidgets.core.streaming`. Each function's docstring
gives its definition, shapes, units and the study it comes from.
"""

from vitwidgets.core.metrics import *  # noqa: F403
from vitwidgets.core.metrics import __all__ as _core_all
from vitwidgets.core.streaming import (
    dataset_cka,
    dataset_features,
    dataset_fourier,
    dataset_head_stats,
    dataset_knn,
    dataset_label_units,
    dataset_linear_probe,
    stream_metrics,
)

__all__ = [
    *_core_all,
    "dataset_cka",
    "dataset_features",
    "dataset_fourier",
    "dataset_head_stats",
    "dataset_knn",
    "dataset_label_units",
    "dataset_linear_probe",
    "stream_metrics",
]
