"""Every analysis of ``shared/spec/analyses.md`` as vectorised torch functions (issue 3).

Per-head attention metrics (``attention``), proposed head tags (``tags``), representation
metrics (``representation``), probing and dense tasks (``probing``) and concept labelling
(``concepts``). Dataset-level versions stream through a model in
:mod:`vitwidgets.core.streaming`. Public entry point: ``vitwidgets.metrics``.
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
