"""Tests for index/ingest/feed.py and format detection: real feeds, the samples, ill-formed documents."""

from __future__ import annotations

import pytest

from index.errors import InputError
from index.ingest.detect import detect_format
from index.ingest.feed import parse_feed
from index.ingest.load import load_input, parse_body
from tests.support.paths import DIGEST, FEEDS, SAMPLES


def test_real_feeds_give_391_items_with_feed_titles_as_sources() -> None:
    assert len(FEEDS) == 6
    items = [item for path in FEEDS for item in parse_feed(path.read_bytes()).items]
    assert len(items) == 391
    assert len({i.id for i in items}) == 391
    sources = {i.source for i in items}
    assert {"Hugging Face Papers", "Hugging Face Blog", "Hugging Face Posts"} <= sources
    assert all(i.title and i.link.startswith("https://") for i in items)
    assert all("<" not in i.summary or "<" in i.summary.replace("<", "", 0) for i in items)


def test_arxiv_entries_keep_authors_dates_and_plain_text() -> None:
    arxiv = next(p for p in FEEDS if "arxiv" in p.name)
    parsed = parse_feed(arxiv.read_bytes())
    assert len(parsed.items) == 300
    first = parsed.items[0]
    assert first.published is not None and first.published.utcoffset() is not None
    assert first.authors
    assert "<p>" not in first.summary and "&lt;" not in first.summary


@pytest.mark.parametrize(("name", "count"), [("ml-blog.rss", 10), ("papers.atom", 10), ("astro.rdf", 6)])
def test_samples_in_each_xml_format(name: str, count: int) -> None:
    parsed = parse_feed((SAMPLES / name).read_bytes())
    assert len(parsed.items) == count
    assert not parsed.warnings
    assert all(i.published is not None for i in parsed.items)
    assert parsed.title and all(i.source == parsed.title for i in parsed.items)


def test_atom_entries_have_authors_and_tags() -> None:
    items = parse_feed((SAMPLES / "papers.atom").read_bytes()).items
    assert any(len(i.authors) > 1 for i in items)
    assert all(i.tags for i in items)


def test_source_override_wins_over_feed_title() -> None:
    parsed = parse_feed((SAMPLES / "ml-blog.rss").read_bytes(), source="Override")
    assert {i.source for i in parsed.items} == {"Override"}


RSS_ONE = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>90</ttl>
<item><title>A &amp; B</title><link>https://e.example/a</link><description>x</description></item>"""


def test_truncated_feed_with_entries_keeps_them_and_warns() -> None:
    parsed = parse_feed(RSS_ONE)  # no closing tags: ill-formed
    assert [i.title for i in parsed.items] == ["A & B"]
    assert parsed.warnings and "ill-formed" in parsed.warnings[0]
    assert parsed.ttl_minutes == 90


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>Not a feed</title></head><body><p>hello</p></body></html>",
        b"<?xml version='1.0'?><rss><channel><title>cut off before any item",
        b"\x00\x01\x02 binary junk",
    ],
)
def test_documents_without_entries_are_errors(body: bytes) -> None:
    with pytest.raises(InputError):
        parse_feed(body)


def test_valid_empty_feed_is_not_an_error() -> None:
    parsed = parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>E</title></channel></rss>')
    assert parsed.items == [] and parsed.title == "E"


def test_detection_by_content() -> None:
    assert detect_format((SAMPLES / "papers.atom").read_bytes()) == "feed"
    assert detect_format(DIGEST.read_bytes()) == "digest"
    assert detect_format((SAMPLES / "extra.jsonl").read_bytes()) == "jsonl"
    assert detect_format(b'\xef\xbb\xbf{"title": "bom"}\n', name="x") == "jsonl"
    # The name only breaks ties: a digest is a digest whatever it is called.
    assert detect_format(DIGEST.read_bytes(), name="feed.xml") == "digest"


def test_load_input_names_the_failing_input() -> None:
    with pytest.raises(InputError, match="missing.xml: no such file"):
        load_input("missing.xml")
    with pytest.raises(InputError, match="empty input"):
        parse_body(b"  \n")
