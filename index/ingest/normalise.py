"""Normalisation shared by every parser: HTML to text, UTC dates, canonical links, source names, items."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from index.ingest.works import work_key
from index.model import FeedItem, make_item_id

_WHITESPACE = re.compile(r"\s+")

# Elements whose text is never reader-visible content.
# (Not svg, iframe or object: their text is shown or is fallback text, and an unclosed one would
# swallow the rest of the item.)
_SKIPPED_ELEMENTS = frozenset({"script", "style", "noscript", "template"})
# Block elements become word boundaries, so "<p>a</p><p>b</p>" reads "a b", not "ab".
_BLOCK_ELEMENTS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
     "blockquote", "pre", "section", "article", "header", "footer", "table", "hr", "dd", "dt", "figcaption"}
)

# Query parameters that identify a campaign or a click, never the document.
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc", "_hsmi",
     "ref_src", "spm", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "wickedid"}
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth += 1
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def collapse_whitespace(text: str) -> str:
    """Return text with every run of whitespace (tabs, newlines, NBSP) folded into one space."""
    return _WHITESPACE.sub(" ", text.replace("\u00a0", " ")).strip()


def html_to_text(html: str | None) -> str:
    """Return the reader-visible text of an HTML fragment: tags dropped, entities unescaped, spaces folded."""
    if not html:
        return ""
    if "<" not in html:
        return collapse_whitespace(unescape(html))
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return collapse_whitespace("".join(parser.parts))


def to_utc(value: object) -> datetime | None:
    """Return a timezone-aware UTC datetime from a datetime, date, struct_time or date string, else None.

    Naive values are taken to be UTC already: feeds that omit the zone almost always mean it.
    """
    if value is None or value == "":
        return None
    if isinstance(value, time.struct_time):
        # feedparser's *_parsed values are UTC struct_times.
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = parse_date(value)
        if parsed is None:
            return None
        dt = parsed
    else:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_date(text: str) -> datetime | None:
    """Parse an ISO 8601 or RFC 822 date string; return None when it is neither."""
    text = text.strip()
    if not text:
        return None
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def canonical_link(link: str | None) -> str:
    """Return the link with lower-case scheme and host, no fragment and no tracking parameters."""
    if not link:
        return ""
    link = link.strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return link
    if not parts.scheme or not parts.netloc:
        return link
    netloc = parts.netloc.lower()
    scheme = parts.scheme.lower()
    if (scheme == "http" and netloc.endswith(":80")) or (scheme == "https" and netloc.endswith(":443")):
        netloc = netloc.rsplit(":", 1)[0]
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), ""))


def source_from_link(link: str) -> str:
    """Return the host of a link without ``www.``, the source name of items that name no feed."""
    try:
        host = (urlsplit(link).hostname or "").lower()
    except ValueError:
        host = ""
    return host[4:] if host.startswith("www.") else host


def clean_names(values: Iterable[str | None]) -> tuple[str, ...]:
    """Return the non-empty names, whitespace folded, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for value in values:
        name = collapse_whitespace(html_to_text(value)) if value else ""
        if name and name not in seen:
            seen[name] = None
    return tuple(seen)


def make_item(
    *,
    title: str | None,
    link: str | None,
    summary_html: str | None,
    source: str | None,
    published: object = None,
    guid: str | None = None,
    item_id: str | None = None,
    authors: Iterable[str | None] = (),
    tags: Iterable[str | None] = (),
) -> FeedItem:
    """Build the one normalised :class:`FeedItem` from raw fields; every parser goes through here."""
    clean_link = canonical_link(link)
    summary = html_to_text(summary_html)
    # A title of markup alone (``<svg onload=...>``) would leave an item nobody can see in a list.
    short = summary if len(summary) <= 80 else summary[:80].rsplit(" ", 1)[0]
    clean_title = html_to_text(title) or short or "(untitled)"
    name = collapse_whitespace(source or "") or source_from_link(clean_link) or "unknown"
    return FeedItem(
        id=item_id or make_item_id(guid=guid, link=clean_link, title=clean_title, source=name),
        title=clean_title,
        link=clean_link,
        summary=summary,
        source=name,
        published=to_utc(published),
        authors=clean_names(authors),
        tags=clean_names(tags),
        work=work_key(clean_link, guid),
    )
