"""RSS, Atom and RDF documents parsed by feedparser into items; the policy for ill-formed feeds lives here."""

from __future__ import annotations

from typing import Any

import feedparser

from .errors import InputError
from .normalise import collapse_whitespace, make_item
from .parsed import ParsedInput


def parse_feed(body: bytes, *, source: str | None = None, content_type: str | None = None) -> ParsedInput:
    """Parse a feed document.

    feedparser is lenient: a "bozo" document that still yields entries keeps them and records a
    warning; one that yields nothing is an error, because a 200 page of HTML must not pass silently
    as an empty feed. ``source`` overrides the feed's own title as the items' source name.
    """
    headers = {"content-type": content_type} if content_type else None
    parsed: Any = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    entries = parsed.get("entries") or []
    bozo = bool(parsed.get("bozo"))
    reason = _describe(parsed.get("bozo_exception")) if bozo else ""
    version = parsed.get("version") or ""
    if not entries:
        if bozo:
            raise InputError(f"not a readable feed: {reason}")
        if not version:
            raise InputError("not a feed: no RSS, Atom or RDF root element")
    feed = parsed.get("feed") or {}
    title = collapse_whitespace(feed.get("title") or "") or None
    result = ParsedInput(title=title, ttl_minutes=_ttl(feed.get("ttl")))
    if bozo:
        result.warnings.append(f"ill-formed feed, {len(entries)} entries kept: {reason}")
    name = source or title
    for number, entry in enumerate(entries, start=1):
        if not (entry.get("title") or entry.get("link") or entry.get("summary")):
            result.errors.append(f"entry {number}: no title, link or summary")
            continue
        result.items.append(_item(entry, name))
    return result


def _item(entry: Any, source: str | None) -> Any:
    content = entry.get("content") or []
    texts = [c.get("value") or "" for c in content]
    summary = entry.get("summary") or ""
    # Content is the full text where a feed gives both; keep whichever says more.
    body = max([summary, *texts], key=len)
    title = entry.get("title") or ""
    return make_item(
        title=title or collapse_whitespace(body)[:80],
        link=entry.get("link"),
        summary_html=body,
        source=source,
        published=entry.get("published_parsed") or entry.get("updated_parsed"),
        guid=entry.get("id"),
        authors=[a.get("name") for a in entry.get("authors") or [] if isinstance(a, dict)]
        or [entry.get("author")],
        tags=[t.get("term") for t in entry.get("tags") or [] if isinstance(t, dict)],
    )


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if minutes > 0 else None


def _describe(exc: object) -> str:
    text = collapse_whitespace(str(exc or "")) or type(exc).__name__
    return text[:200]
