"""The engine seam: the operations the product asks of a search engine, whichever engine serves them.

The Whoosh engine (``index.search.whoosh``) and the Typesense engine (``index.search.typesense``) both
fit :class:`Engine`; ``service/`` and the CLI see only this protocol, and :func:`open_engine` picks one
by name (``FEEDSIFT_ENGINE``, read by ``index.settings``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from index.model import FeedItem, Hit, IndexStats, Page, SearchRequest, SourceCount, Suggestions, WriteReport
from index.search.batch import CommitWatcher

ENGINES = ("whoosh", "typesense")


@runtime_checkable
class Engine(Protocol):
    """Everything feedsift asks of a search engine: writes by the indexer, reads by the API.

    Implementations raise QueryError for a query they cannot honour (naming the construct and, when
    only this engine refuses it, the engine), IndexMissingError when there is nothing to read yet,
    and EngineUnavailableError when the engine's servers cannot answer.
    """

    def upsert(self, items: Iterable[FeedItem], *,
               progress: Callable[[int], None] | None = None) -> WriteReport:
        """Add or replace items by id; an item whose fingerprint is unchanged is counted, not rewritten.

        ``progress`` hears how many items each written batch held.
        """
        ...

    def delete(self, ids: Iterable[str]) -> int:
        """Delete items by id and return how many there were."""
        ...

    def search(self, req: SearchRequest) -> Page:
        """Return one page of matches with exact total, source and month facets, and escaped highlights.

        With ``req.collapse`` (the default) a work's copies are one hit, its lead copy, the others in
        its ``also``; the total, paging and facets then count works.
        """
        ...

    def get(self, item_id: str) -> FeedItem | None:
        """Return the whole item with this id (its work's other copies in ``also``), or None."""
        ...

    def similar(self, item_id: str, limit: int = 10) -> list[Hit] | None:
        """Return items most like this one (never it or its copies; one per work), or None if unknown."""
        ...

    def suggest(self, text: str, limit: int = 8) -> Suggestions:
        """Return item titles that complete what someone has typed, and the sources matching it."""
        ...

    def dates(self, item_ids: list[str]) -> dict[str, datetime]:
        """Return each known item's date as the newest sort sees it: published, else first seen."""
        ...

    def sources(self, q: str | None = None) -> tuple[list[SourceCount], int]:
        """Return every source with its item count and newest date (over a query's matches if given)."""
        ...

    def stats(self) -> IndexStats:
        """Return item and work counts overall, items per source, size and time of the last write."""
        ...

    def count(self) -> int:
        """Return the number of items."""
        ...

    def fingerprints(self, item_ids: list[str]) -> dict[str, str]:
        """Return the stored fingerprint of each of these ids the engine holds (unknown ids are left out)."""
        ...

    def generation(self) -> str | None:
        """Return a name for the build of the index that writes go to now, which changes only when the
        index is rebuilt and replaced (None when there is no index yet, or the engine never replaces
        one). The feed registry keeps it with each feed's ETag and Last-Modified."""
        ...

    def check_health(self) -> None:
        """Return when the engine can answer reads now; else raise IndexMissingError (nothing to read
        yet) or EngineUnavailableError (its servers do not answer), saying why."""
        ...

    def close(self) -> None:
        """Release connections and open files; the engine is not used afterwards."""
        ...


def open_engine(
    kind: str,
    *,
    index_dir: str | os.PathLike[str],
    nodes: Sequence[str] = (),
    api_key: str = "",
    reopen_interval: float = 0.5,
    lock_timeout: float | None = None,
    watcher: CommitWatcher | None = None,
) -> Engine:
    """Return an unopened engine of ``kind`` (``whoosh`` or ``typesense``); nothing is contacted yet.

    Whoosh reads and writes ``index_dir``; Typesense talks to ``nodes`` (URLs) with ``api_key``. The
    Typesense client is imported only here, so it is needed only by deployments that choose it. A
    ``watcher`` hears of every commit of added or changed items, around it.
    """
    if kind == "whoosh":
        from index.search.whoosh.engine import WhooshEngine

        return WhooshEngine(index_dir, check_interval=reopen_interval, lock_timeout=lock_timeout,
                            watcher=watcher)
    if kind == "typesense":
        if not nodes or not api_key:
            raise ValueError("the Typesense engine needs node URLs and an API key")
        from index.search.typesense.engine import TypesenseEngine

        return TypesenseEngine(list(nodes), api_key, watcher=watcher)
    raise ValueError(f"unknown engine {kind!r}: choose one of {', '.join(ENGINES)}")
