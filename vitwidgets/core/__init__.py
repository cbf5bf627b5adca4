"""The analysis core: model adapter (``model``, ``checkpoints``), capture (``capture``,
``trace``), image input (``images``), the one layer/head resolver (``indexing``), the one
vocabulary (``vocab``), the session the widgets ask (``session``), metrics (``metrics/``),
dataset streaming (``streaming``) and head annotations (``annotations``).

It imports nothing above itself: never the widgets, the zoo, ``vitwidgets.loading`` or the
public facade ``vitwidgets.metrics`` (``tests/test_structure.py`` checks this).
"""
