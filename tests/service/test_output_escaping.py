"""Hostile item text never becomes markup: every output where item text is HTML or XML escapes it.

Items come through the real parsers from ``tests/data/hostile/``: an RSS feed with CDATA (a ``]]>``
split across two sections, script and style inside), entity-encoded and double-encoded markup,
``javascript:`` links, ``onerror``/``onmouseover`` attributes, a markup-laden author, category and
feed title; and a JSON Lines record with the same in every field. Then every endpoint that shows
them is read back: JSON highlights (only ``<mark>``), the search page and item pages (no script, no
event-handler attribute, no ``javascript:`` URL, item text shown as text), the Atom feed (feedparser
reads it back as plain text) and the JSON Feed (``content_text`` only).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import spec
from tests.support.indexes import build_index, items_from
from tests.support.paths import REPO

HOSTILE = sorted((REPO / "tests" / "data" / "hostile").iterdir())
# What the double-encoded description of the second RSS item is as plain text: markup a page must show.
SHOWN_AS_TEXT = "<script>alert('double')</script>"
MARK = re.compile(r"</?mark>")
# Browsers ignore whitespace and control characters inside a URL scheme: "java\tscript:" still runs.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20]")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "index"
    items = items_from(HOSTILE)
    assert len(items) == 3
    build_index(root, items)
    return root


@pytest.fixture
def api(hostile_index: Path, make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(hostile_index).test_client()


class Markup(HTMLParser):
    """Collect a page's tags, attributes and text as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_safe_page(body: str) -> Markup:
    """Assert a page runs nothing from the items: no script, no handler, no javascript: URL."""
    page = Markup()
    page.feed(body)
    page.close()
    assert "script" not in page.tags and not {"svg", "iframe", "img", "style"} & set(page.tags), page.tags
    for name, value in page.attributes:
        assert not name.lower().startswith("on"), (name, value)
        scheme = _IGNORED_IN_SCHEME.sub("", value).lower()
        assert not scheme.startswith(("javascript:", "data:", "vbscript:")), (name, value)
    return page


def search(api: FlaskClient, **params: Any) -> dict[str, Any]:
    response = api.get("/v1/search", query_string={"q": "quasar", "per_page": 100, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def test_highlights_hold_only_mark_tags_around_escaped_text(api: FlaskClient) -> None:
    body = search(api)
    assert body["total"] == 3
    for hit in body["hits"]:
        for field in ("title", "summary"):
            fragment = hit["highlights"][field]
            bare = MARK.sub("", fragment)
            assert "<" not in bare and ">" not in bare, (field, fragment)
        # The title highlight is the whole title: unescaped, it is the plain text exactly.
        assert html.unescape(MARK.sub("", hit["highlights"]["title"])) == hit["title"]
    shown = {hit["id"]: hit for hit in body["hits"]}
    assert "&lt;script&gt;" in shown["5a4e7dcf86bdac6b"]["highlights"]["summary"]


def test_plain_text_fields_are_the_items_text_and_never_keep_removed_markup(api: FlaskClient) -> None:
    body = search(api)
    by_id = {hit["id"]: hit for hit in body["hits"]}
    # HTML in the feed (CDATA, entity-encoded) was reduced to its text: no tag of it survives.
    cdata = api.get("/v1/items/3455210693563381").get_json()
    assert cdata["title"] == "Quasar survey"
    assert "alert" not in json.dumps(cdata) and "onerror" not in json.dumps(cdata)
    # A javascript: link is never handed to a client that may put it in an href.
    assert cdata["link"] == "" and by_id["xss-jsonl"]["link"] == ""
    # Double-encoded markup is text that looks like markup: kept, as text, for the outputs to escape.
    assert SHOWN_AS_TEXT in api.get("/v1/items/5a4e7dcf86bdac6b").get_json()["summary"]
    assert by_id["xss-jsonl"]["source"] == "<b onclick=alert('source')>Evil</b> Source"


def test_search_page_and_item_pages_show_item_text_as_text(api: FlaskClient) -> None:
    hostile_source = "<b onclick=alert('source')>Evil</b> Source"
    for url, params in [("/", {"q": "quasar"}), ("/", {"q": "quasar", "source": hostile_source}),
                        ("/", {}), ("/", {"q": "<script>alert(1)</script>"})]:
        response = api.get(url, query_string=params)
        assert response.status_code in (200, 400) and response.mimetype == "text/html"
        page = assert_safe_page(response.get_data(as_text=True))
        if params.get("q") == "quasar":
            assert any(SHOWN_AS_TEXT in text for text in page.text) or "5a4e7dcf86bdac6b" not in \
                response.get_data(as_text=True)
    for item_id in ("3455210693563381", "5a4e7dcf86bdac6b", "xss-jsonl"):
        response = api.get(f"/items/{item_id}")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        page = assert_safe_page(body)
        assert "javascript:" not in body.lower()
        if item_id == "5a4e7dcf86bdac6b":
            assert SHOWN_AS_TEXT in "".join(page.text)
            assert "&lt;script&gt;alert(&#39;double&#39;)&lt;/script&gt;" in body
        assert "Hostile <b>Feed</b>" in "".join(page.text) or item_id == "xss-jsonl"


def test_atom_feed_escapes_item_text_and_reads_back_as_plain_text(api: FlaskClient) -> None:
    response = api.get("/v1/search.atom", query_string={"q": "quasar"})
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    assert "<script" not in raw and "<svg" not in raw and "javascript:" not in raw.lower()
    assert "&lt;script&gt;alert('double')&lt;/script&gt;" in raw
    parsed = feedparser.parse(response.get_data())
    assert not parsed.bozo, parsed.bozo_exception
    assert len(parsed.entries) == 3
    items = {item_id: api.get(f"/v1/items/{item_id}").get_json()
             for item_id in ("3455210693563381", "5a4e7dcf86bdac6b", "xss-jsonl")}
    for entry in parsed.entries:
        item_id = entry.id.rsplit("/", 1)[1]
        # Plain text in, plain text out: a reader shows it as text, whatever characters it holds.
        assert entry.title_detail.type == "text/plain"
        assert entry.summary_detail.type == "text/plain"
        assert entry.summary == items[item_id]["summary"]
        assert entry.link.startswith("http"), entry.link
        for field in ("title", "summary"):
            # What feedparser's sanitiser keeps for an HTML reader: never a script.
            assert "<script" not in feedparser.sanitizer._sanitize_html(entry[field], "utf-8", "text/html")


def test_json_feed_carries_text_only(api: FlaskClient) -> None:
    response = api.get("/v1/search.json", query_string={"q": "quasar"})
    assert response.status_code == 200
    feed = json.loads(response.get_data())
    assert len(feed["items"]) == 3
    for item in feed["items"]:
        assert "content_html" not in item and "summary" not in item
        assert item["url"].startswith("http"), item["url"]
    assert any(SHOWN_AS_TEXT in item["content_text"] for item in feed["items"])


def test_the_spec_documents_which_fields_are_plain_text_and_which_are_html() -> None:
    schemas = spec()["components"]["schemas"]
    assert "Plain text" in schemas["Hit"]["properties"]["title"]["description"]
    assert "Plain text" in schemas["Hit"]["properties"]["snippet"]["description"]
    assert "plain text" in schemas["Item"]["description"]
    highlights = schemas["Highlights"]["description"]
    assert "<mark>" in highlights and "escaped" in highlights
    assert "plain text" in schemas["JSONFeed"]["properties"]["items"]["items"]["properties"]["content_text"][
        "description"]
    assert "Plain text" in schemas["Suggestions"]["properties"]["titles"]["items"]["properties"]["title"][
        "description"]
    assert "plain text" in spec()["info"]["description"]
