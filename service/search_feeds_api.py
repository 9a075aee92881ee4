"""Search results as feeds: ``GET /v1/search.atom`` (Atom 1.0) and ``GET /v1/search.json`` (JSON Feed 1.1).

Both take the parameters of ``/v1/search`` and list its hits newest first (unless ``sort`` says
otherwise), so anyone can subscribe to a query in a feed reader. Entry content is the item's plain-text
summary; feedgen escapes it for XML and the JSON encoder for JSON. An entry's date is its publication
date or, for an item that carries none, when feedsift first saw it; the feed's ``updated`` is its
newest entry's. Readers may ask with If-None-Match or If-Modified-Since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.datastructures import MultiDict

from index.model import Hit, format_utc
from service.engine import current_engine
from service.schemas import FeedArgs, load_args, web_link

bp = Blueprint("search_feeds", __name__, url_prefix="/v1")

ATOM_TYPE = "application/atom+xml"
JSON_FEED_TYPE = "application/feed+json"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# A reader polls a feed often; let caches keep it for a minute.
MAX_AGE_SECONDS = 60
# Characters XML 1.0 cannot carry at all, even escaped (C0 controls but tab and newlines, surrogates,
# U+FFFE/U+FFFF); item text may hold them, and lxml refuses the whole document if one is present.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class _Entry:
    hit: Hit
    date: datetime
    summary: str
    authors: tuple[str, ...]


def _entries() -> tuple[list[_Entry], datetime, datetime]:
    """Run the search; return its entries, the feed's updated time and when the index last changed."""
    req = load_args(FeedArgs(), request.args)
    index = current_engine()
    page = index.search(req)
    dates = index.dates([hit.id for hit in page.hits])
    entries = []
    for hit in page.hits:
        item = index.get(hit.id)
        entries.append(_Entry(
            hit=hit,
            date=dates.get(hit.id) or hit.published or _epoch(),
            summary=item.summary if item is not None else hit.snippet,
            authors=item.authors if item is not None else (),
        ))
    written = index.stats().last_update or _epoch()
    # No entries: the results can only have changed when the index last did.
    updated = max((entry.date for entry in entries), default=written)
    return entries, updated, written


def _xml(text: str) -> str:
    """Return ``text`` without the characters XML cannot hold; escaping is feedgen's."""
    return _NOT_XML.sub("", text)


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)


def _title() -> str:
    q = request.args.get("q", "").strip()
    sources = request.args.getlist("source")
    title = f"feedsift: {q}" if q else "feedsift: newest items"
    return title + (f" (from {', '.join(sources)})" if sources else "")


def _page_url() -> str:
    """The search page showing the same query, for the feed's alternate link."""
    kept = ("q", "source", "sort", "collapse")
    keep = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k in kept])
    query = urlencode(list(keep.items(multi=True)))
    return url_for("pages.search_page", _external=True) + (f"?{query}" if query else "")


def _self_url() -> str:
    """The feed's own URL with its query re-encoded (Werkzeug's ``url`` keeps what a URI may not hold)."""
    query = urlencode(list(request.args.items(multi=True)))
    return url_for(str(request.endpoint), _external=True) + (f"?{query}" if query else "")


def _item_url(item_id: str) -> str:
    return url_for("pages.item_page", item_id=item_id, _external=True)


def _respond(body: bytes | str, mimetype: str, written: datetime) -> Response:
    # Last-Modified is when the index last changed, not the newest entry's date: an item indexed late
    # with an older date changes the feed too, and a reader asking If-Modified-Since must get it.
    response = current_app.response_class(body, mimetype=mimetype)
    response.last_modified = written
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_SECONDS
    response.add_etag()
    response.make_conditional(request)
    return response


@bp.get("/search.atom")
def search_atom() -> Response:
    """Return the search's hits as an Atom 1.0 feed, newest first."""
    entries, updated, written = _entries()
    fg = FeedGenerator()
    fg.id(_self_url())
    fg.title(_xml(_title()))
    fg.subtitle("Search results from feedsift, newest first.")
    fg.link(href=_self_url(), rel="self", type=ATOM_TYPE)
    fg.link(href=_page_url(), rel="alternate", type="text/html")
    fg.generator("feedsift")
    fg.updated(updated)
    # feedgen writes entries in reverse order of adding (newest added last comes first): add oldest first.
    for entry in reversed(entries):
        hit = entry.hit
        fe = fg.add_entry()
        fe.id(_item_url(hit.id))
        # A title of nothing but control characters is empty once they are gone; Atom needs one.
        fe.title(_xml(hit.title) or hit.id)
        fe.link(href=_xml(web_link(hit.link) or _item_url(hit.id)), rel="alternate")
        fe.updated(entry.date)
        if hit.published is not None:
            fe.published(hit.published)
        if entry.summary:
            fe.summary(_xml(entry.summary))
        for author in entry.authors:
            fe.author(name=_xml(author))
        fe.category(term=_xml(hit.source), label=_xml(hit.source))
    return _respond(fg.atom_str(pretty=False), ATOM_TYPE, written)


@bp.get("/search.json")
def search_json() -> Response:
    """Return the search's hits as a JSON Feed 1.1, newest first."""
    entries, updated, written = _entries()
    items: list[dict[str, Any]] = []
    for entry in entries:
        hit = entry.hit
        item: dict[str, Any] = {
            "id": _item_url(hit.id),
            "url": web_link(hit.link) or _item_url(hit.id),
            "title": hit.title,
            "content_text": entry.summary,
        }
        if hit.published is not None:
            item["date_published"] = format_utc(hit.published)
        item["date_modified"] = format_utc(entry.date)
        if entry.authors:
            item["authors"] = [{"name": name} for name in entry.authors]
        item["tags"] = [hit.source]
        items.append(item)
    feed = {
        "version": JSON_FEED_VERSION,
        "title": _title(),
        "home_page_url": _page_url(),
        "feed_url": _self_url(),
        "description": "Search results from feedsift, newest first.",
        "items": items,
    }
    body = current_app.json.dumps(feed)
    return _respond(body, JSON_FEED_TYPE, written)
