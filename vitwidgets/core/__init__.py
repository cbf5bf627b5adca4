"""Analysis core: model adapter, capture (Trace), metrics, dataset streaming. Never imports widgets."""
