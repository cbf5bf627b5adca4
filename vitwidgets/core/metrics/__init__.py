"""The analyses of published Vision Transformer studies as vectorised torch functions.

Per-head attention metrics (``attention``: Walmer et al. 2023 "Teaching Matters", Raghu et al.
2021, Park et al. 2023, Abnar & Zuidema 2020, Caron et al. 2021 DINO), proposed head tags
(``tags``), representation metrics (``representation``: Kornblith et al. 2019 CKA, Nguyen, Raghu
& Kornblith 2021, Park & Kim 2022, Amir et al. 2021), probing and dense tasks (``probing``) and
concept labelling (``concepts``: Dorszewski et al. 2025). Every function states its shapes and
units; layers, heads and images are resolved by :mod:`vitwidgets.core.indexing`. Dataset-level
versions stream through a model in :mod:`vitwidgets.core.streaming` (the accumulators it feeds
live next to their metrics). Public entry point: ``vitwidgets.metrics``.
"""

from .attention import *  # noqa: F403
from .attention import __all__ as _attention_all
from .concepts import *  # noqa: F403
from .concepts import __all__ as _concepts_all
from .probing import *  # noqa: F403
from .probing import __all__ as _probing_all
from .representation import *  # noqa: F403
from .representation import __all__ as _representation_all
from .tags import *  # noqa: F403
from .tags import __all__ as _tags_all

__all__ = [*_attention_all, *_tags_all, *_representation_all, *_probing_all, *_concepts_all]
