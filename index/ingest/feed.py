"""RSS, Atom and RDF documents parsed by feedparser into items; the policy for ill-formed feeds lives here."""

from __future__ import annotations

import io
import re
import xml.parsers.expat
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype

from index.errors import InputError
from index.ingest.normalise import collapse_whitespace, make_item
from index.model import ParsedInput


def parse_feed(body: bytes, *, source: str | None = None, content_type: str | None = None) -> ParsedInput:
    """Parse a feed document.

    feedparser is lenient: a "bozo" document that still yields entries keeps them and records a
    warning; one that yields nothing is an error, because a 200 page of HTML must not pass silently
    as an empty feed. ``source`` overrides the feed's own title as the items' source name.
    """
    headers = {"content-type": content_type} if content_type else None
    refuse_entity_declarations(body, headers)
    # A stream, never bytes: feedparser.parse() opens bytes that name a local file (b"/dev/zero").
    parsed: Any = feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
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


class _RootReached(Exception):
    """The prolog is over: no entity can be declared after the root element starts."""


def refuse_entity_declarations(body: bytes, headers: dict[str, str] | None = None) -> None:
    """Raise InputError if the document declares an entity that could expand or fetch anything.

    feedparser keeps some of a DOCTYPE's internal entities and expands them in both of its parsers:
    expat within its amplification limit, the lenient fallback without any, so a 50 kB entity used
    50,000 times (a "quadratic blow-up") took 342 s and 12 GB here. Only entities that stand for one
    character (``<!ENTITY nbsp "&#160;">``) are allowed. The check runs on exactly what feedparser
    parses: its own conversion to UTF-8 and its own DOCTYPE rewrite, then expat over the prolog only
    (it stops at the root element).
    """
    if not body:
        return
    data = convert_to_utf8(dict(headers or {}), body, {})
    _version, data, lenient_entities = replace_doctype(data)
    for name, value in lenient_entities.items():
        if len(value) > 1 and not _CHAR_REF.fullmatch(value):
            raise InputError(_refusal(name, "text"))
    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def declared(name: str, is_parameter: int, value: str | None, base: str | None,
                 system_id: str | None, public_id: str | None, notation: str | None) -> None:
        if is_parameter:
            raise InputError(_refusal(name, "parameter"))
        if value is None:
            raise InputError(_refusal(name, "external"))
        if len(value) > 1:
            raise InputError(_refusal(name, "text"))

    def started(name: str, attributes: Any) -> None:
        raise _RootReached

    parser.EntityDeclHandler = declared
    parser.StartElementHandler = started
    try:
        parser.Parse(data, True)
    except (_RootReached, xml.parsers.expat.ExpatError):
        # An error in the prolog stops feedparser's strict parser at the same place, before any
        # declaration after it; its lenient parser only uses the entities checked above.
        return


_CHAR_REF = re.compile(r"&#(?:[0-9]+|x[0-9a-fA-F]+);")


def _refusal(name: str, kind: str) -> str:
    return (f"refused: the DOCTYPE declares the {kind} entity '{name[:40]}'; feedsift expands no "
            "entity longer than one character and fetches no external entity or DTD")


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
        # Plain dict lookups: FeedParserDict answers a missing updated_parsed with published_parsed and a
        # DeprecationWarning, which every feed with an unparseable pubDate would trigger.
        published=dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"),
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
