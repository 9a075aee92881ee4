"""The engine's value types: the normalised feed item and the shapes a search returns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


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
class Hit:
    """One search result: the stored item fields plus score, plain-text snippet and HTML highlights."""

    id: str
    title: str
    link: str
    source: str
    published: datetime | None
    score: float
    snippet: str
    highlights: dict[str, str]


@dataclass(frozen=True)
class FacetCount:
    """A facet value and how many matching items carry it."""

    value: str
    count: int


@dataclass(frozen=True)
class Page:
    """One page of search results with exact total and facets over the whole match set."""

    total: int
    page: int
    per_page: int
    hits: list[Hit]
    source_facets: list[FacetCount] = field(default_factory=list)
    month_facets: list[FacetCount] = field(default_factory=list)
    did_you_mean: str | None = None
