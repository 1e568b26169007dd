"""The engine that runs any scoring method inside a model: capture attention rows at layer K-1, select the kept
tokens, cut the sequence at layer K, and keep pruned caches continuable. It knows models only through
:mod:`headrouter.adapters` and methods only through :class:`headrouter.methods.ScoringMethod`."""
