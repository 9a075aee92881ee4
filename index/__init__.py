"""The feedsift engine: ingest feeds, digests and JSON Lines into a search index and search it.

The folders are the stages an item passes through: ``ingest`` (read, detect, parse, normalise),
``feeds`` (fetch and poll registered feeds), ``search`` (the engine seam, the query language, and the
Whoosh and Typesense engines) and ``cli``. ``service/`` reaches search only through
:class:`index.search.engine.Engine`, :mod:`index.model` and :mod:`index.settings`; nothing here
imports Flask or marshmallow. docs/ARCHITECTURE.md is the map.
"""

__version__ = "0.1.0"
