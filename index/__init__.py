"""The feedsift engine: ingest feeds, digests and JSON Lines into a Whoosh index and search it.

``service/`` reaches the engine only through :class:`index.searcher.SearchIndex` and the result types in
:mod:`index.model`; nothing here imports Flask or marshmallow.
"""

__version__ = "0.1.0"
