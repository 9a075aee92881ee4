"""Every value type the stages pass between them: the feed item, a parse's outcome, a search request and
what searches, suggestions, statistics and writes return."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from index.errors import QueryError


@dataclass(frozen=True)
class FeedItem:
    """One normalised item, as every parser yields it and the writer stores it.

    ``summary`` is plain text (tags dropped, entities unescaped, whitespace collapsed); ``published``
    is timezone-aware UTC or None; ``link`` is canonical.
    """

    id: str
    title: str
    link: str
    summary: str
    source: str
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # The work key (index.ingest.works) of the item's link and guid, or "" when they name no work.
    work: str = ""
    # The other copies of its work, newest first: filled only when an engine reads the item back.
    also: tuple[Copy, ...] = field(default=(), compare=False)

    def fingerprint(self) -> str:
        """Return a digest of every stored field, so an unchanged re-ingest costs no index write."""
        parts = [
            self.title,
            self.link,
            self.summary,
            self.source,
            self.published.isoformat() if self.published else "",
            "\x1f".join(self.authors),
            "\x1f".join(self.tags),
            self.work,
        ]
        return hashlib.sha1("\x1e".join(parts).encode("utf-8")).hexdigest()[:16]


def make_item_id(*, guid: str | None, link: str | None, title: str, source: str) -> str:
    """Return a stable, URL-safe id: from the guid, else the canonical link, else title and source."""
    if guid:
        key = "guid:" + guid.strip()
    elif link:
        key = "link:" + link
    else:
        key = "title:" + source + "\x1f" + title
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Copy:
    """Another copy of a hit's or item's work: the same paper or post from another feed, or a new version."""

    id: str
    source: str
    link: str
    published: datetime | None


@dataclass(frozen=True)
class Hit:
    """One search result: the stored item fields plus score, plain-text snippet and HTML highlights.

    ``first_seen`` is when the item was first indexed: the date filters, sorts and month facet read it
    for an item without ``published``, so a hit shows the date it was placed by.
    """

    id: str
    title: str
    link: str
    source: str
    published: datetime | None
    score: float
    snippet: str
    highlights: dict[str, str]
    first_seen: datetime | None = None
    # The work's other copies, newest first; empty when the hit is the only copy of its work.
    also: tuple[Copy, ...] = ()


@dataclass(frozen=True)
class FacetCount:
    """A facet value and how many matching items carry it."""

    value: str
    count: int


@dataclass(frozen=True)
class Page:
    """One page of search results with exact total and facets over the whole match set.

    When the search collapses copies, ``total``, paging and the facets count works, not items.
    """

    total: int
    page: int
    per_page: int
    hits: list[Hit]
    source_facets: list[FacetCount] = field(default_factory=list)
    month_facets: list[FacetCount] = field(default_factory=list)
    did_you_mean: str | None = None


@dataclass
class ParsedInput:
    """The outcome of parsing one input; every parser returns this one type.

    ``errors`` name records that were skipped (with a line number where there is one); ``warnings``
    name problems that did not cost any item. ``ttl_minutes`` is a feed's own ``<ttl>``, if any.
    """

    items: list[FeedItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    title: str | None = None
    ttl_minutes: int | None = None


MAX_WINDOW = 10_000
SORTS = ("relevance", "newest", "oldest")


@dataclass(frozen=True)
class SearchRequest:
    """A search as the API receives it, already validated for type and range."""

    q: str = ""
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"
    match: str = "any"
    page: int = 1
    per_page: int = 10
    # One hit per work (index.ingest.works), its other copies in the hit's ``also``; False shows every copy.
    collapse: bool = True


def check_request(req: SearchRequest) -> None:
    """Raise QueryError for a request no engine honours: an unknown sort, or paging past the window."""
    if req.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}", param="sort")
    if req.page * req.per_page > MAX_WINDOW:
        raise QueryError(
            f"page * per_page may be at most {MAX_WINDOW}; narrow the query instead of paging this deep",
            param="page",
        )


@dataclass(frozen=True)
class SourceCount:
    """A source, how many items it has (in the index or among a query's matches), and its newest date."""

    name: str
    count: int
    newest: datetime | None


@dataclass(frozen=True)
class IndexStats:
    """What ``feedsift stats`` and ``/readyz`` report; ``works`` counts items, copies of one work once."""

    items: int
    works: int
    sources: dict[str, int]
    size_bytes: int
    last_update: datetime | None
    path: str


@dataclass(frozen=True)
class TitleSuggestion:
    """An item whose title completes the typed words; ``title`` is plain text."""

    id: str
    title: str
    source: str
    published: datetime | None


@dataclass(frozen=True)
class SourceSuggestion:
    """A source whose name matches the typed words, with its number of items."""

    name: str
    count: int


@dataclass(frozen=True)
class Suggestions:
    """Title completions newest first, and matching sources largest first."""

    titles: list[TitleSuggestion]
    sources: list[SourceSuggestion]


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


def from_timestamp(value: Any) -> datetime | None:
    """Return stored epoch seconds as a UTC datetime, or None when absent or out of range."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def format_utc(value: datetime) -> str:
    """Return a timestamp as every output spells it: ISO 8601 in UTC to the second, ending in ``Z``."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
