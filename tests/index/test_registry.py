"""Tests for index/feeds/registry.py: the feed registry in a real SQLite file, its outcomes, and OPML."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET

from index.errors import DuplicateFeedError, FeedNotFoundError, FeedURLError, InputError, RegistryError
from index.feeds.registry import OPML_NS, REGISTRY_FILE, Registry, validate_feed_url
from tests.support.paths import REPO

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry.beside(tmp_path / "index")


def test_a_new_registry_is_a_wal_database_beside_the_index(tmp_path: Path) -> None:
    Registry.beside(tmp_path / "index")

    path = tmp_path / "index" / REGISTRY_FILE
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    finally:
        conn.close()


def test_a_version_1_registry_gains_the_generation_of_its_validators_in_place(tmp_path: Path) -> None:
    path = tmp_path / "index" / REGISTRY_FILE
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE feeds (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE, source TEXT,
            title TEXT, enabled INTEGER NOT NULL DEFAULT 1, etag TEXT, last_modified TEXT,
            ttl_minutes INTEGER,
            last_status INTEGER, last_polled TEXT, last_success TEXT, last_error TEXT, last_warning TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0, next_poll TEXT,
            item_count INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL);
        INSERT INTO feeds (url, etag, created) VALUES ('https://example.org/feed.xml', '"v1"',
            '2026-05-01T12:00:00.000000Z');
        PRAGMA user_version = 1;
    """)
    conn.close()
    registry = Registry(path)
    (feed,) = registry.list()
    assert feed.etag == '"v1"' and feed.generation is None  # unknown: the next poll fetches in full
    done = registry.record_not_modified(feed.id, now=NOW, next_poll=NOW, etag='"v1"', last_modified=None,
                                        generation="gen-a")
    assert done.generation == "gen-a"
    failed = registry.record_failure(feed.id, now=NOW, next_poll=NOW, error="boom")
    assert failed.generation == "gen-a" and failed.etag == '"v1"'


def test_add_then_get_list_and_remove(registry: Registry) -> None:
    feed = registry.add("https://Example.ORG/feed.xml#top", source="  Example  ")

    assert feed.id == 1
    assert feed.url == "https://example.org/feed.xml"
    assert feed.source == "Example"
    assert feed.enabled and feed.next_poll is None and feed.consecutive_failures == 0
    assert feed.last_status is None and feed.etag is None and feed.item_count == 0
    assert abs(feed.created - datetime.now(UTC)) < timedelta(minutes=1)
    assert registry.get(1) == registry.get("1") == registry.get("https://example.org/feed.xml") == feed
    assert registry.get("HTTPS://EXAMPLE.org/feed.xml") == feed

    second = registry.add("http://example.com/rss")
    assert [f.id for f in registry.list()] == [1, second.id]

    assert registry.remove("https://example.org/feed.xml") == feed
    assert registry.remove(str(second.id)) == second
    assert registry.list() == []


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/feed", "file:///etc/passwd", "example.org/feed", "http://", "http://ex ample.org/",
     "http://example.org:99999/", "", "   ", "javascript:alert(1)"],
)
def test_add_refuses_what_is_not_an_http_url(registry: Registry, url: str) -> None:
    with pytest.raises(FeedURLError):
        registry.add(url)
    assert registry.list() == []


def test_a_duplicate_url_is_a_clear_error(registry: Registry) -> None:
    first = registry.add("https://example.org/feed.xml")

    with pytest.raises(DuplicateFeedError, match=r"already registered as feed 1") as caught:
        registry.add("HTTPS://example.org/feed.xml")

    assert caught.value.feed_id == first.id
    assert len(registry.list()) == 1


def test_unknown_feeds_are_not_found(registry: Registry) -> None:
    registry.add("https://example.org/feed.xml")
    for key in (99, "99", "https://example.org/other.xml", "not a url"):
        with pytest.raises(FeedNotFoundError):
            registry.get(key)
        with pytest.raises(FeedNotFoundError):
            registry.remove(key)


def test_validate_keeps_path_and_query_exactly() -> None:
    assert validate_feed_url(" HTTP://Example.org/A/Feed?Format=RSS&x=1 ") == "http://example.org/A/Feed?Format=RSS&x=1"
    assert validate_feed_url("https://example.org") == "https://example.org/"


def test_due_orders_new_feeds_first_then_the_longest_waiting(registry: Registry) -> None:
    a = registry.add("https://a.example/feed")
    b = registry.add("https://b.example/feed")
    c = registry.add("https://c.example/feed")
    for feed, wait in ((a, -1), (b, 10)):
        registry.record_not_modified(
            feed.id, now=NOW, next_poll=NOW + timedelta(minutes=wait), etag=None, last_modified=None
        )

    assert [f.id for f in registry.due(NOW)] == [c.id, a.id]
    assert [f.id for f in registry.due(NOW + timedelta(minutes=10))] == [c.id, a.id, b.id]

    registry.set_enabled(c.id, False)
    assert [f.id for f in registry.due(NOW + timedelta(days=1))] == [a.id, b.id]


def test_outcomes_are_recorded_on_the_feed(registry: Registry) -> None:
    feed = registry.add("https://example.org/feed.xml")
    later = NOW + timedelta(minutes=15)

    ok = registry.record_success(
        feed.id, now=NOW, next_poll=later, status=200, etag='"v1"',
        last_modified="Wed, 01 May 2024 10:00:00 GMT", item_count=7, title="Example", ttl_minutes=60,
        warning="ill-formed feed, 7 entries kept",
    )
    assert (ok.last_status, ok.etag, ok.item_count) == (200, '"v1"', 7)
    assert (ok.title, ok.ttl_minutes) == ("Example", 60)
    assert ok.last_success == ok.last_polled == NOW and ok.next_poll == later
    assert ok.last_warning == "ill-formed feed, 7 entries kept" and ok.last_error is None

    failed = registry.record_failure(feed.id, now=later, next_poll=later + timedelta(hours=1), error="boom",
                                     status=500)
    failed = registry.record_failure(feed.id, now=later, next_poll=later + timedelta(hours=2), error="boom 2")
    assert failed.consecutive_failures == 2 and failed.last_error == "boom 2" and failed.last_status is None
    # What the last success recorded is kept.
    assert failed.last_success == NOW and failed.etag == '"v1"' and failed.item_count == 7

    fine = registry.record_not_modified(feed.id, now=later, next_poll=later, etag='"v1"', last_modified=None)
    assert fine.consecutive_failures == 0 and fine.last_error is None and fine.last_status == 304
    assert fine.last_success == later and fine.item_count == 7 and fine.title == "Example"

    gone = registry.record_gone(feed.id, now=later, error="410 Gone")
    assert not gone.enabled and gone.last_status == 410 and gone.next_poll is None
    assert registry.due(later + timedelta(days=30)) == []

    again = registry.set_enabled(feed.id, True)
    assert again.enabled and again.next_poll is None and again.consecutive_failures == 0


def test_a_move_updates_the_url_unless_another_feed_has_it(registry: Registry) -> None:
    feed = registry.add("http://example.org/old.xml")
    other = registry.add("http://example.org/other.xml")

    moved = registry.record_moved(feed.id, "https://example.org/new.xml")
    assert moved is not None and moved.url == "https://example.org/new.xml"
    assert registry.get("https://example.org/new.xml").id == feed.id

    assert registry.record_moved(feed.id, other.url) is None
    assert registry.get(feed.id).url == "https://example.org/new.xml"


def test_to_dict_is_json_ready_with_iso_utc_times(registry: Registry) -> None:
    feed = registry.add("https://example.org/feed.xml")
    registry.record_failure(feed.id, now=NOW, next_poll=NOW + timedelta(hours=1), error="boom")

    data = registry.get(feed.id).to_dict()

    assert data["next_poll"] == "2026-05-01T13:00:00+00:00"
    assert data["last_polled"] == "2026-05-01T12:00:00+00:00"
    assert data["last_success"] is None
    assert data["enabled"] is True and data["consecutive_failures"] == 1 and data["last_error"] == "boom"
    assert set(data) >= {"id", "url", "source", "etag", "last_modified", "last_status", "item_count"}


def test_a_registry_from_a_newer_feedsift_is_refused(tmp_path: Path) -> None:
    path = tmp_path / REGISTRY_FILE
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()

    with pytest.raises(RegistryError, match="schema version 99"):
        Registry(path)


def test_several_processes_can_add_at_once(tmp_path: Path) -> None:
    path = tmp_path / REGISTRY_FILE
    Registry(path)
    script = textwrap.dedent(
        """
        import sys
        from index.feeds.registry import Registry
        registry = Registry(sys.argv[1])
        for n in range(25):
            registry.add(f"https://host{sys.argv[2]}.example/feed/{n}")
            registry.list()
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(path), str(w)], cwd=REPO) for w in range(4)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0, 0]

    assert len(Registry(path).list()) == 100


# --- OPML ---------------------------------------------------------------------------------------------

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Science">
      <outline type="rss" text="arXiv astro-ph" title="arXiv astro-ph" xmlUrl="https://arxiv.org/rss/astro-ph"/>
      <outline type="rss" text="Nested deeper">
        <outline type="rss" text="HF blog" xmlUrl="https://huggingface.co/blog/feed.xml"/>
      </outline>
    </outline>
    <outline type="rss" text="Not a feed URL" xmlUrl="ftp://example.org/feed"/>
    <outline type="link" text="A web page" url="https://example.org/"/>
    <outline type="rss" text="Already here" xmlUrl="https://example.org/feed.xml"/>
  </body>
</opml>
"""


def test_import_takes_nested_outlines_and_reports_the_rest(registry: Registry, tmp_path: Path) -> None:
    registry.add("https://example.org/feed.xml")
    path = tmp_path / "subs.opml"
    path.write_bytes(OPML)

    report = registry.import_opml(path)

    assert [(f.url, f.title, f.source) for f in report.added] == [
        ("https://arxiv.org/rss/astro-ph", "arXiv astro-ph", None),
        ("https://huggingface.co/blog/feed.xml", "HF blog", None),
    ]
    assert report.existing == ["https://example.org/feed.xml"]
    assert [url for url, _ in report.invalid] == ["ftp://example.org/feed"]
    assert len(registry.list()) == 3
    assert registry.import_opml(OPML).added == []  # bytes work too, and a second import adds nothing


def test_export_is_opml_2_and_round_trips(registry: Registry, tmp_path: Path) -> None:
    registry.add("https://example.org/feed.xml", source="Example & Co")
    plain = registry.add("https://example.com/rss")
    registry.record_success(plain.id, now=NOW, next_poll=NOW, status=200, etag=None, last_modified=None,
                            item_count=1, title="Its own title")

    document = registry.export_opml()

    root = SafeET.fromstring(document.encode())
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "feedsift feeds"
    outlines = root.findall("body/outline")
    assert [(o.get("type"), o.get("text"), o.get("xmlUrl")) for o in outlines] == [
        ("rss", "Example & Co", "https://example.org/feed.xml"),
        ("rss", "Its own title", "https://example.com/rss"),
    ]
    assert outlines[0].get(f"{{{OPML_NS}}}source") == "Example & Co"

    copy = Registry(tmp_path / "copy.sqlite3")
    copy.import_opml(document.encode())
    assert [(f.url, f.source) for f in copy.list()] == [
        ("https://example.org/feed.xml", "Example & Co"), ("https://example.com/rss", None)
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<opml version='2.0'><head/><body><outline", "not a readable OPML file"),
        (b"<rss version='2.0'><channel/></rss>", "not an OPML file"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b"<opml version='2.0'><body><outline text='&b;' xmlUrl='https://example.org/'/></body></opml>",
            "not a readable OPML file",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<opml version='2.0'><body><outline text='&x;' xmlUrl='https://example.org/'/></body></opml>",
            "not a readable OPML file",
        ),
    ],
    ids=["truncated", "not-opml", "entity-expansion", "external-entity"],
)
def test_import_refuses_bad_or_hostile_documents(registry: Registry, document: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        registry.import_opml(document)
    assert registry.list() == []


def test_import_of_a_missing_file_is_an_input_error(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file"):
        registry.import_opml(tmp_path / "missing.opml")
