"""Running the dataset analyses on a distributed engine (an optional extra).

``vw.metrics.dataset_cka(m, data, engine="ray")`` (and every other ``dataset_*`` function)
runs on Ray through :class:`vitwidgets.engines.ray.RayEngine` (``pip install
'vitwidgets[ray]'``): workers trace the batches and return one accumulator state per batch,
the driver merges them in batch order, so the numbers equal the single-process path's. The
core names the engines (:data:`vitwidgets.core.streaming.ENGINES`) and imports them only when
asked for; this package imports the core, never the reverse.
"""

from vitwidgets.engines.errors import EngineError, EngineUnavailableError, MissingBatchesError

__all__ = ["EngineError", "EngineUnavailableError", "MissingBatchesError"]
