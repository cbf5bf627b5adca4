"""Analysis core: model adapter, capture (Trace), metrics, dataset streaming.

The core never imports widgets.
"""
