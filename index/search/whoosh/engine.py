"""The Engine protocol over the embedded Whoosh index: writes by ``writer``, reads by ``reader``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from index.model import FeedItem, Hit, IndexStats, Page, SearchRequest, SourceCount, Suggestions, WriteReport
from index.search.batch import CommitWatcher
from index.search.whoosh.reader import SearchIndex, _item
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import DEFAULT_LOCK_TIMEOUT, delete_items, write_items


class WhooshEngine:
    """One index directory as an Engine, safe to share between the threads of a process.

    Reads go to one SearchIndex; after each write through this object the next read checks for the
    change at once, so a process sees its own writes (other processes within ``check_interval``).
    """

    def __init__(self, root: str | os.PathLike[str], *, check_interval: float = 0.5,
                 lock_timeout: float | None = None, watcher: CommitWatcher | None = None) -> None:
        self.index = SearchIndex(root, check_interval=check_interval)
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        self.watcher = watcher

    @property
    def store(self) -> IndexStore:
        return self.index.store

    def close(self) -> None:
        self.index.close()

    # -- writing -----------------------------------------------------------------------------

    def upsert(self, items: Iterable[FeedItem], *,
               progress: Callable[[int], None] | None = None) -> WriteReport:
        """Add or replace items by id; an item whose fingerprint is unchanged is counted, not rewritten."""
        try:
            return write_items(self.store, items, lock_timeout=self.lock_timeout, progress=progress,
                               watcher=self.watcher)
        finally:
            self.index.invalidate()

    def delete(self, ids: Iterable[str]) -> int:
        """Delete items by id and return how many there were."""
        try:
            return delete_items(self.store, ids, lock_timeout=self.lock_timeout)
        finally:
            self.index.invalidate()

    # -- reading -----------------------------------------------------------------------------

    def search(self, req: SearchRequest) -> Page:
        return self.index.search(req)

    def get(self, item_id: str) -> FeedItem | None:
        return self.index.get(item_id)

    def similar(self, item_id: str, limit: int = 10) -> list[Hit] | None:
        return self.index.similar(item_id, limit=limit)

    def suggest(self, text: str, limit: int = 8) -> Suggestions:
        return self.index.suggest(text, limit=limit)

    def dates(self, item_ids: list[str]) -> dict[str, datetime]:
        return self.index.dates(item_ids)

    def sources(self, q: str | None = None) -> tuple[list[SourceCount], int]:
        return self.index.sources(q)

    def stats(self) -> IndexStats:
        return self.index.stats()

    def count(self) -> int:
        return self.index.count()

    def generation(self) -> str | None:
        """Return the live generation's directory name (``rebuild`` makes a new one)."""
        return self.store.live_name()

    def fingerprints(self, item_ids: list[str]) -> dict[str, str]:
        """Return the stored fingerprint of each id the live index holds, read from its latest commit."""
        ix = self.store.open()
        try:
            with ix.searcher() as searcher:
                found = {}
                for item_id in item_ids:
                    docnum = searcher.document_number(id=item_id)
                    if docnum is not None:
                        found[item_id] = str(searcher.stored_fields(docnum).get("fingerprint"))
                return found
        finally:
            ix.close()

    def check_health(self) -> None:
        """Return when the index exists and can be read; raise IndexMissingError saying why not."""
        self.index.count()

    def export(self) -> Iterator[tuple[FeedItem, int]]:
        """Yield every stored item with its first-seen time (epoch seconds), for moving to another engine.

        Reads one snapshot of the live generation: writes committed meanwhile are not seen.
        """
        ix = self.store.open()
        try:
            with ix.searcher() as searcher:
                for stored in searcher.all_stored_fields():
                    item = _item(stored)
                    yield (
                        FeedItem(id=item.id, title=item.title, link=item.link, summary=item.summary,
                                 source=item.source, published=item.published, authors=item.authors,
                                 tags=item.tags, work=str(stored.get("work") or "")),
                        int(stored.get("first_seen") or 0),
                    )
        finally:
            ix.close()
