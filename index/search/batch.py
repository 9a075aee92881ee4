"""What every engine's writer does alike with a batch: the last copy of an id wins, unchanged items are
skipped, first-seen dates are kept, each item's work is resolved, and the fields every engine's
document carries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from index.ingest.works import WorkTitles, title_key
from index.model import FeedItem, WriteReport


class CommitWatcher(Protocol):
    """Hears of every commit that adds or changes items, around it (index.alerts matches writes so)."""

    def committing(self, written: Callable[[], list[FeedItem]]) -> AbstractContextManager[None]:
        """Return a context entered just before a commit and left just after it (with its exception if it
        failed); ``written`` returns the items the commit adds or changes, worked out only if called."""
        ...


@dataclass(frozen=True)
class PlannedWrite:
    """One item a batch writes: whether it replaces a stored copy, and when it was first seen."""

    item: FeedItem
    first_seen: int
    update: bool


def plan_batch(
    batch: Iterable[FeedItem],
    stored: Callable[[str], tuple[str | None, int | None] | None],
    *,
    now: int,
    seen: Mapping[str, int] | None = None,
) -> tuple[list[PlannedWrite], int]:
    """Return the writes a batch needs and how many of its items are unchanged.

    ``stored(id)`` gives the stored copy's fingerprint and first-seen time, or None for a new id;
    ``seen`` supplies first-seen times for new ids (a migration keeps the ones it copies).
    """
    latest = {item.id: item for item in batch}  # the last copy of an id within a batch wins
    writes: list[PlannedWrite] = []
    unchanged = 0
    for item in latest.values():
        old = stored(item.id)
        if old is not None and old[0] == item.fingerprint():
            unchanged += 1
            continue
        first_seen = old[1] if old is not None and old[1] else (seen or {}).get(item.id) or now
        writes.append(PlannedWrite(item, int(first_seen), update=old is not None))
    return writes, unchanged


def report_of(writes: list[PlannedWrite], unchanged: int) -> WriteReport:
    """Return the report of a batch whose writes were all committed."""
    report = WriteReport(unchanged=unchanged)
    for write in writes:
        if write.update:
            report.updated += 1
        else:
            report.added += 1
        report.committed_ids.append(write.item.id)
    return report


def resolve_works(writes: list[PlannedWrite], titles: WorkTitles) -> dict[str, str]:
    """Return the work key of each write, by item id: its own, or that of a same-titled item it ties to.

    ``titles`` finds the same-titled items the engine already holds and remembers the writes before.
    """
    return {
        write.item.id: titles.resolve(item_id=write.item.id, source=write.item.source, title=write.item.title,
                                      key=write.item.work, date=sort_date(write.item, write.first_seen))
        for write in writes
    }


def sort_date(item: FeedItem, first_seen: int) -> int:
    """Return the date an item sorts and compares by: published, else when it was first seen."""
    return int(item.published.timestamp()) if item.published else first_seen


def common_fields(item: FeedItem, *, first_seen: int, work: str = "") -> dict[str, Any]:
    """Return the fields every engine stores for an item, whatever else its document holds.

    ``sort_date`` is the published date or, for an item that carries none, when it was first seen.
    ``work`` is the work key the write resolved (:func:`resolve_works`), by default the item's own;
    ``title_key`` is the folded long title that ties items of other sources (index.ingest.works).
    """
    published = int(item.published.timestamp()) if item.published else None
    fields: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "source": item.source,
        "link": item.link,
        "sort_date": published if published is not None else first_seen,
        "first_seen": first_seen,
        "fingerprint": item.fingerprint(),
        "work": work or item.work or "item:" + item.id,
    }
    titled = title_key(item.title)
    if titled:
        fields["title_key"] = titled
    if published is not None:
        fields["published"] = published
    return fields
