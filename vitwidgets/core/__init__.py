"""The analysis core: model adapter (``model``, ``checkpoints``), capture (``capture``,
``trace``), image input (``images``), the one layer/head resolver (``indexing``), the one
vocabulary (``vocab``), the session the widgets ask (``session``) with where its attention
comes from (``sources``: a dense trace, or lazily from per-block q/k) and its byte-bounded
cache (``cache``), metrics (``metrics/``),
dataset streaming (``streaming``) and head annotations (``annotations``).

It imports nothing above itself: never the widgets, the zoo, ``vitwidgets.loading`` or the
public facade ``vitwidgets.metrics`` (``tests/test_structure.py`` checks this).
"""
