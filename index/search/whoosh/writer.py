"""Writing items into the index: upsert by item id in committed batches, deletion, rebuild-and-swap."""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from whoosh.index import TOC, clean_files
from whoosh.reading import SegmentReader
from whoosh.writing import IndexWriter

from index.errors import IndexWriteError
from index.ingest.works import Titled, WorkTitles
from index.model import FeedItem, WriteReport
from index.search.batch import CommitWatcher, common_fields, plan_batch, report_of, resolve_works, sort_date
from index.search.fields import ItemText, ItemTextField
from index.search.whoosh.builder import (
    HELPER_SHARE,
    PARALLEL_FROM,
    SegmentBuilder,
    has_segment_files,
    write_segment_files,
)
from index.search.whoosh.lookup import KnownTerms
from index.search.whoosh.merging import merge_tiered
from index.search.whoosh.store import IndexStore
from index.search.whoosh.termpool import GroupingWriter, field_lengths_of

# Items per commit. A commit's cost is mostly per term (one block, pickled and compressed, per term),
# and the terms of 10,000 items are far fewer than five times those of 2,000: 2,000-item commits
# indexed ~340 items/s, 10,000-item ones ~410-430 (docs/speed-notes.md). Each commit is atomic; a
# large one is written as two segments by two processes (builder), each holding its postings in
# memory (termpool): ~500 MB for 10,000 items.
DEFAULT_BATCH = 20_000
# Seconds a writer waits for another writer's lock before it gives up with a clear message.
DEFAULT_LOCK_TIMEOUT = 30.0


class _KnownLengths:
    """A new segment's per-document reader that reads each field's length column once, into a list.

    While a commit writes postings, Whoosh asks for the field length of every posting, and its reader
    looks for the field's length column on disk each time, caching only the columns it finds: every
    posting of a field without lengths (ids, numbers, the spelling words) cost a ``stat`` call, and
    every other posting a column read (docs/speed-notes.md).
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._lengths: dict[str, list[Any] | None] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> Any:
        if fieldname not in self._lengths:
            self._lengths[fieldname] = field_lengths_of(self._reader, fieldname, default)
        lengths = self._lengths[fieldname]
        return default if lengths is None else lengths[docnum]

    def close(self) -> None:
        self._reader.close()


def open_writer(ix: Any, *, limitmb: int = 128, **options: Any) -> IndexWriter:
    """Return a writer for ``ix`` whose commit reads field lengths through :class:`_KnownLengths`."""
    writer = ix.writer(limitmb=limitmb, **options)
    per_document_reader = writer.per_document_reader
    writer.per_document_reader = lambda: _KnownLengths(per_document_reader())
    return writer


def to_document(item: FeedItem, *, first_seen: int, analysed: bool = True, work: str = "") -> dict[str, Any]:
    """Return the Whoosh document for an item: the common fields plus Whoosh's own text and list fields.

    ``work`` is the work key the write resolved (``batch.resolve_works``), by default the item's own.
    ``analysed`` gives the text fields one shared :class:`ItemText`, for a schema whose text fields
    are :class:`ItemTextField`; an index made before them has plain ``TEXT`` fields and takes strings.
    """
    doc = common_fields(item, first_seen=first_seen, work=work)
    if analysed:
        shared = ItemText(item.title, item.summary)
        doc.update({"title": shared, "summary": shared, "content": shared,
                    "_stored_title": item.title, "_stored_summary": item.summary})
    else:
        doc["content"] = item.title + "\n" + item.summary
    doc["authors"] = "\n".join(item.authors)
    doc["tags"] = ",".join(t.replace(",", " ") for t in item.tags)
    return doc


def takes_item_text(schema: Any) -> bool:
    """Return whether an index's own schema indexes its text fields from :class:`ItemText` values."""
    return all(isinstance(schema[name], ItemTextField) for name in ("title", "summary", "content"))


def write_items(
    store: IndexStore,
    items: Iterable[FeedItem],
    *,
    batch_size: int = DEFAULT_BATCH,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: Callable[[int], None] | None = None,
    on_commit: Callable[[WriteReport], None] | None = None,
    watcher: CommitWatcher | None = None,
) -> WriteReport:
    """Upsert items, committing every ``batch_size``; an item whose fields are unchanged is not rewritten.

    Creates the index on first use. Each batch is one commit, so an interruption loses at most the
    batch in hand and never anything committed before it; ``on_commit`` hears of every finished commit.
    """
    total = WriteReport()
    # Only the index's own operations are translated into IndexWriteError: an OSError from reading
    # the items or from a callback is not about the index and goes through as it is.
    with contextlib.ExitStack() as held:
        with _index_io(store):
            held.enter_context(store.write_lock(lock_timeout))
            ix = _open_or_create(store)
        held.callback(ix.close)
        builder = held.enter_context(contextlib.closing(SegmentBuilder()))
        known = KnownTerms()
        for batch in _batches(items, batch_size):
            with _index_io(store):
                report = _write_batch(ix, batch, watcher, builder, known)
            total.merge(report)
            if on_commit is not None:
                on_commit(report)
            if progress is not None:
                progress(len(batch))
        _write_posting_arrays(ix)
    return total


def delete_items(store: IndexStore, ids: Iterable[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> int:
    """Delete items by id and return how many were in the index."""
    with _index_io(store), store.write_lock(lock_timeout):
        ix = store.open()
        try:
            writer = open_writer(ix)
            deleted = 0
            try:
                for item_id in ids:
                    deleted += writer.delete_by_term("id", item_id)
            except BaseException:
                _abandon(writer)
                raise
            _commit(writer, mergetype=merge_tiered)
            _write_posting_arrays(ix)  # a commit may merge segments
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
    watcher: CommitWatcher | None = None,
) -> WriteReport:
    """Build a complete new index beside the live one, then make it live in one atomic swap.

    Readers keep the old index until the swap; if anything fails (or the process dies) before it,
    the half-built generation is never pointed at and the old index stays live. A ``watcher`` hears
    of the items new to the index or changed from the live one, around the commit and the swap.
    """
    total = WriteReport()
    latest: dict[str, FeedItem] = {}
    with _index_io(store), store.write_lock(lock_timeout):
        path, ix = store.create_generation()
        try:
            writer = open_writer(ix)
            try:
                seen: set[str] = set()
                analysed = takes_item_text(writer.schema)
                works = WorkTitles()
                for batch in _batches(items, batch_size):
                    now = int(time.time())
                    for item in batch:
                        if watcher is not None:
                            latest[item.id] = item
                        work = works.resolve(item_id=item.id, source=item.source, title=item.title,
                                             key=item.work, date=sort_date(item, now))
                        doc = to_document(item, first_seen=now, analysed=analysed, work=work)
                        if item.id in seen:
                            writer.update_document(**doc)
                            total.updated += 1
                        else:
                            seen.add(item.id)
                            writer.add_document(**doc)
                            total.added += 1
                    if progress is not None:
                        progress(len(batch))
            except BaseException:
                _abandon(writer)
                raise
            with (watcher.committing(lambda: _changed(store, latest)) if watcher is not None
                  else contextlib.nullcontext()):
                _commit(writer, optimize=True)
                _write_posting_arrays(ix)
                ix.close()
                store.make_live(path)
        except BaseException as exc:
            ix.close()
            if not store.discard(path) and isinstance(exc, OSError):
                # The swap itself happened: the new index is whole and live, only a step after it failed.
                raise IndexWriteError(
                    f"the rebuilt index at {path} is live, but a step after the swap failed: {exc}"
                ) from exc
            raise
    total.committed_ids.extend(seen)
    return total


def _changed(store: IndexStore, latest: dict[str, FeedItem]) -> list[FeedItem]:
    """Return the items of ``latest`` that the live index lacks or holds with another fingerprint."""
    if not store.exists():
        return list(latest.values())
    ix = store.open()
    try:
        with ix.searcher() as searcher:
            changed = []
            for item in latest.values():
                docnum = searcher.document_number(id=item.id)
                if docnum is None or searcher.stored_fields(docnum).get("fingerprint") != item.fingerprint():
                    changed.append(item)
            return changed
    finally:
        ix.close()


def _write_batch(ix: Any, batch: list[FeedItem], watcher: CommitWatcher | None = None,
                 builder: SegmentBuilder | None = None, known: KnownTerms | None = None) -> WriteReport:
    with ix.searcher() as searcher:
        # The searcher's schema, not ``ix.schema``: that reads the table of contents again and leaves
        # the file open until collected, which (once a commit deletes it) keeps a disk from going read-only.
        analysed = takes_item_text(searcher.schema)
        if known is not None and len(batch) >= PARALLEL_FROM:
            known.update(searcher)
        else:
            known = None  # a few lookups cost less than reading every segment's terms

        def stored(item_id: str) -> tuple[str | None, int | None] | None:
            if known is not None:
                found = known.documents(searcher, "id", item_id)
                fields = found[0] if found else None
            else:
                docnum = searcher.document_number(id=item_id)
                fields = searcher.stored_fields(docnum) if docnum is not None else None
            if fields is None:
                return None
            return fields.get("fingerprint"), fields.get("first_seen")

        writes, unchanged = plan_batch(batch, stored, now=int(time.time()))
        works = resolve_works(writes, WorkTitles(lambda titled: _same_titled(searcher, titled, known)))
    if not writes:
        return WriteReport(unchanged=unchanged)
    writer = GroupingWriter(ix)
    helper: Future[Any] | None = None
    with contextlib.ExitStack() as watching:
        try:
            mine = [(write, to_document(write.item, first_seen=write.first_seen, analysed=analysed,
                                        work=works[write.item.id])) for write in writes]
            if builder is not None and len(mine) >= PARALLEL_FROM:
                # The second half goes to the helper process as a segment of its own; its items'
                # older copies are deleted here, where update_document would have deleted them.
                split = int(len(mine) * (1 - HELPER_SHARE))
                theirs, mine = mine[split:], mine[:split]
                for write, _ in theirs:
                    if write.update:
                        writer.delete_by_term("id", write.item.id)
                helper = builder.submit(ix, [doc for _, doc in theirs])
            for write, doc in mine:
                if write.update:
                    writer.update_document(**doc)
                else:
                    writer.add_document(**doc)
            if helper is not None:
                writer.extra_segments.append(helper)  # the commit waits for it after writing its own
            if watcher is not None:
                watching.enter_context(watcher.committing(lambda: [write.item for write in writes]))
        except BaseException:
            if helper is not None:
                # Let the helper finish first, so that no file of its segment appears after the cleanup.
                concurrent.futures.wait([helper])
            _abandon(writer)
            raise
        try:
            _commit(writer, mergetype=merge_tiered)
        except BaseException:
            if helper is not None:
                # The commit failed before it waited for the helper: clean up again once it is done.
                concurrent.futures.wait([helper])
                _abandon(writer)
            raise
    return report_of(writes, unchanged)


def _same_titled(searcher: Any, titled: str, known: KnownTerms | None = None) -> list[Titled]:
    """Return the live items of the index whose folded long title is ``titled``."""
    found = (known.documents(searcher, "title_key", titled) if known is not None
             else searcher.documents(title_key=titled))
    return [
        Titled(id=stored["id"], source=stored.get("source", ""), date=int(stored.get("sort_date") or 0),
               work=stored.get("work", ""))
        for stored in found
    ]


def _open_or_create(store: IndexStore) -> Any:
    if store.exists():
        return store.open()
    path, ix = store.create_generation()
    try:
        store.make_live(path)
    except BaseException:
        ix.close()
        store.discard(path)
        raise
    return ix


def _commit(writer: Any, **options: Any) -> None:
    try:
        writer.commit(**options)
    except BaseException:
        _abandon(writer)
        raise


def _write_posting_arrays(ix: Any) -> None:
    """Give every segment without posting arrays (``postings``), title table (``suggest``) or spelling
    words (``spelling``) its own, while the lock is held.

    Called once after a write's last commit, not after each: segments that a later commit of the
    same write merges away never need them. The commits have succeeded whatever happens here:
    without arrays (disk full, say) searches read those segments' postings from Whoosh's blocks, and
    suggestions their stored titles, more slowly, and the next write tries again.
    """
    folder = getattr(ix.storage, "folder", None)
    if folder is None:
        return
    path = Path(folder)
    with contextlib.suppress(OSError):
        toc = TOC.read(ix.storage, ix.indexname)  # the latest commit's segments
        for segment in toc.segments:
            if has_segment_files(path, segment.segment_id()):
                continue  # most segments, in a large index: no reader opened for them
            with SegmentReader(ix.storage, toc.schema, segment) as reader:
                write_segment_files(path, reader)


def _abandon(writer: Any) -> None:
    """Cancel a writer that failed part-way, leaving neither Whoosh's lock held nor its new files.

    Whoosh releases its own lock only when a commit or cancel succeeds: after a write that failed
    (disk full), a cancel can fail too, and every later write in this process, such as the poll
    worker's next one, would wait on a lock no one else holds. The files the failed writer made are
    in no table of contents; deleting them gives back their space, so the next write can succeed once
    the disk has room.
    """
    with contextlib.suppress(Exception):
        writer.cancel()
    _close_files(writer)
    lock = writer.writelock
    if lock is not None and lock.fd is not None:
        with contextlib.suppress(Exception):
            lock.release()
    with contextlib.suppress(Exception):
        toc = TOC.read(writer.storage, writer.indexname)
        clean_files(writer.storage, writer.indexname, toc.generation, toc.segments)


def _close_files(writer: Any) -> None:
    """Close the files of a writer whose cancel failed part-way (closing its columns hit a full disk).

    Its postings, terms and column files stay open otherwise until the cyclic garbage collector
    frees the writer, and once ``_abandon`` deletes them, open deleted files keep the file system
    busy: it cannot be remounted read-only, and their space is not given back.
    """
    fieldwriter = getattr(writer, "fieldwriter", None)
    perdocwriter = getattr(writer, "perdocwriter", None)
    files = [
        getattr(fieldwriter, "_postfile", None),
        getattr(getattr(fieldwriter, "_tindex", None), "dbfile", None),
        getattr(getattr(perdocwriter, "_cols", None), "_temp", None),
        getattr(perdocwriter, "_vpostfile", None),
    ]
    for file in files:
        if file is None:
            continue
        with contextlib.suppress(Exception):
            file.close()
        with contextlib.suppress(Exception):
            file.file.close()  # the OS file under Whoosh's wrapper, if closing the wrapper failed first


@contextlib.contextmanager
def _index_io(store: IndexStore) -> Iterator[None]:
    """Turn an OS error while writing the index (disk full, read-only file system) into IndexWriteError."""
    try:
        yield
    except OSError as exc:
        reason = f"{exc.strerror} ({errno.errorcode.get(exc.errno, exc.errno)})" if exc.errno else str(exc)
        raise IndexWriteError(
            f"cannot write to the index at {store.root}: {reason}; it still holds everything committed before"
        ) from exc


def _batches(items: Iterable[FeedItem], size: int) -> Iterable[list[FeedItem]]:
    batch: list[FeedItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
