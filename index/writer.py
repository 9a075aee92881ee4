"""Writing items into the index: upsert keyed on item id in committed batches, deletion, and rebuild-and-swap."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from whoosh.writing import IndexWriter

from .model import FeedItem
from .store import IndexStore

DEFAULT_BATCH = 2000
# Seconds a writer waits for another writer's lock before it gives up with a clear message.
DEFAULT_LOCK_TIMEOUT = 30.0


@dataclass
class WriteReport:
    """What a write did: counts of items added, updated in place and left unchanged."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    committed_ids: list[str] = field(default_factory=list)

    def merge(self, other: WriteReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.committed_ids.extend(other.committed_ids)


def to_document(item: FeedItem, *, first_seen: int) -> dict[str, Any]:
    """Return the Whoosh document for an item: the one place an item becomes index fields."""
    published = int(item.published.timestamp()) if item.published else None
    doc: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "content": item.title + "\n" + item.summary,
        "source": item.source,
        "link": item.link,
        "authors": "\n".join(item.authors),
        "tags": ",".join(t.replace(",", " ") for t in item.tags),
        "sort_date": published if published is not None else first_seen,
        "first_seen": first_seen,
        "fingerprint": item.fingerprint(),
    }
    if published is not None:
        doc["published"] = published
    return doc


def write_items(
    store: IndexStore,
    items: Iterable[FeedItem],
    *,
    batch_size: int = DEFAULT_BATCH,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: Callable[[int], None] | None = None,
    on_commit: Callable[[WriteReport], None] | None = None,
) -> WriteReport:
    """Upsert items, committing every ``batch_size``; an item whose fields are unchanged is not rewritten.

    Creates the index on first use. Each batch is one commit, so an interruption loses at most the
    batch in hand and never anything committed before it; ``on_commit`` hears of every finished commit.
    """
    total = WriteReport()
    with store.write_lock(lock_timeout):
        if not store.exists():
            path, ix = store.create_generation()
            store.make_live(path)
        else:
            ix = store.open()
        try:
            for batch in _batches(items, batch_size):
                report = _write_batch(ix, batch)
                total.merge(report)
                if on_commit is not None:
                    on_commit(report)
                if progress is not None:
                    progress(len(batch))
        finally:
            ix.close()
    return total


def delete_items(store: IndexStore, ids: Iterable[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> int:
    """Delete items by id and return how many were in the index."""
    with store.write_lock(lock_timeout):
        ix = store.open()
        try:
            writer = ix.writer()
            deleted = 0
            try:
                for item_id in ids:
                    deleted += writer.delete_by_term("id", item_id)
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            return deleted
        finally:
            ix.close()


def rebuild(
    store: IndexStore,
    items: Iterable[FeedItem],
    *,
    batch_size: int = DEFAULT_BATCH,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: Callable[[int], None] | None = None,
) -> WriteReport:
    """Build a complete new index beside the live one, then make it live in one atomic swap.

    Readers keep the old index until the swap; if anything fails (or the process dies) before it,
    the half-built generation is never pointed at and the old index stays live.
    """
    total = WriteReport()
    with store.write_lock(lock_timeout):
        path, ix = store.create_generation()
        try:
            writer = ix.writer()
            try:
                seen: set[str] = set()
                for batch in _batches(items, batch_size):
                    now = int(time.time())
                    for item in batch:
                        if item.id in seen:
                            writer.update_document(**to_document(item, first_seen=now))
                            total.updated += 1
                        else:
                            seen.add(item.id)
                            writer.add_document(**to_document(item, first_seen=now))
                            total.added += 1
                    if progress is not None:
                        progress(len(batch))
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=True)
            ix.close()
            store.make_live(path)
        except BaseException:
            ix.close()
            store.discard(path)
            raise
    total.committed_ids.extend(seen)
    return total


def _write_batch(ix: Any, batch: list[FeedItem]) -> WriteReport:
    report = WriteReport()
    latest: dict[str, FeedItem] = {}
    for item in batch:
        latest[item.id] = item  # the last copy of an id within a batch wins
    now = int(time.time())
    writes: list[tuple[str, dict[str, Any]]] = []
    with ix.searcher() as searcher:
        for item in latest.values():
            docnum = searcher.document_number(id=item.id)
            if docnum is None:
                writes.append(("add", to_document(item, first_seen=now)))
                continue
            stored = searcher.stored_fields(docnum)
            if stored.get("fingerprint") == item.fingerprint():
                report.unchanged += 1
                continue
            first_seen = int(stored.get("first_seen") or now)
            writes.append(("update", to_document(item, first_seen=first_seen)))
    if not writes:
        return report
    writer: IndexWriter = ix.writer()
    try:
        for kind, doc in writes:
            if kind == "add":
                writer.add_document(**doc)
                report.added += 1
            else:
                writer.update_document(**doc)
                report.updated += 1
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    report.committed_ids.extend(doc["id"] for _, doc in writes)
    return report


def _batches(items: Iterable[FeedItem], size: int) -> Iterable[list[FeedItem]]:
    batch: list[FeedItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
