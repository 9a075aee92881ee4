"""Tests for index/ingest/normalise.py: every normalisation rule, one at a time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from index.ingest.normalise import canonical_link, html_to_text, make_item, source_from_link, to_utc
from index.model import make_item_id


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello <b>world</b></p>", "Hello world"),
        ("<p>one</p><p>two</p>", "one two"),
        ("a&amp;b &lt;tag&gt; &quot;q&quot; &#8212; &eacute;", 'a&b <tag> "q" — é'),
        ("tabs\tand\n\nnewlines   and\u00a0nbsp", "tabs and newlines and nbsp"),
        ("<script>alert(1)</script>safe<style>p{}</style>", "safe"),
        ("line<br>break<br/>here", "line break here"),
        ("", ""),
        (None, ""),
        ("plain &amp; simple", "plain & simple"),
    ],
)
def test_html_to_text(html: str | None, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_keeps_escaped_markup_as_text() -> None:
    # Entity-encoded markup is text the author meant to show, not markup to run.
    assert html_to_text("use &lt;script&gt; carefully") == "use <script> carefully"


def test_dates_become_utc() -> None:
    aware = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert to_utc(aware) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert to_utc(datetime(2026, 3, 1, 12, 0)) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert to_utc(time.gmtime(0)) == datetime(1970, 1, 1, tzinfo=UTC)
    assert to_utc("2026-03-01T12:00:00+01:00") == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert to_utc("2026-03-01T12:00:00Z") == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert to_utc("Sun, 01 Mar 2026 12:00:00 -0500") == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
    assert to_utc("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert to_utc("not a date") is None
    assert to_utc(None) is None


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        ("HTTPS://Example.COM/Path?a=1#frag", "https://example.com/Path?a=1"),
        ("https://example.com/p?utm_source=x&utm_medium=y&id=3", "https://example.com/p?id=3"),
        ("https://example.com/p?fbclid=abc&gclid=d", "https://example.com/p"),
        ("http://example.com:80/p", "http://example.com/p"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/p", "https://example.com:8443/p"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("", ""),
    ],
)
def test_canonical_link(link: str, canonical: str) -> None:
    assert canonical_link(link) == canonical


def test_source_from_link_drops_www() -> None:
    assert source_from_link("https://www.towardsdatascience.com/x/") == "towardsdatascience.com"
    assert source_from_link("https://huggingface.co/papers/1") == "huggingface.co"


def test_item_id_prefers_guid_then_link_then_title() -> None:
    by_guid = make_item_id(guid="g1", link="https://a.example/1", title="T", source="S")
    assert by_guid == make_item_id(guid="g1", link="https://other.example/", title="X", source="Y")
    by_link = make_item_id(guid=None, link="https://a.example/1", title="T", source="S")
    assert by_link == make_item_id(guid="", link="https://a.example/1", title="other", source="other")
    assert by_link != by_guid
    by_title = make_item_id(guid=None, link=None, title="T", source="S")
    assert by_title != make_item_id(guid=None, link=None, title="T", source="S2")


def test_make_item_is_stable_and_canonical() -> None:
    raw = dict(title="<b>Title</b>", link="https://Example.com/a?utm_source=rss#top",
               summary_html="<p>Body &amp; more</p>", source=None, published="2026-01-02T03:04:05Z",
               authors=["Ada", "Ada", " Bob "], tags=["ml", ""])
    first = make_item(**raw)  # type: ignore[arg-type]
    again = make_item(**raw)  # type: ignore[arg-type]
    assert first == again
    assert first.title == "Title"
    assert first.link == "https://example.com/a"
    assert first.summary == "Body & more"
    assert first.source == "example.com"
    assert first.published == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first.authors == ("Ada", "Bob")
    assert first.tags == ("ml",)
    # The same item seen with tracking parameters is the same item.
    assert make_item(**{**raw, "link": "https://example.com/a?utm_campaign=z"}).id == first.id  # type: ignore[arg-type]


def test_markup_only_title_falls_back_to_the_summary() -> None:
    item = make_item(title="<img src=x onerror=alert(1)>", link="https://a.example/1",
                     summary_html="<p>Quasars at high redshift are rarer than expected</p>", source=None)
    assert item.title == "Quasars at high redshift are rarer than expected"
    assert make_item(title="<b></b>", link=None, summary_html="", source="S").title == "(untitled)"
