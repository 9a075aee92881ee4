"""Tests for index/feeds/poll.py: real feeds from a local HTTP server, polled into a real index."""

from __future__ import annotations

import gzip
import os
import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from index.feeds.poll import (
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    PollOptions,
    PollResult,
    backoff,
    parse_duration,
    poll_due,
    poll_feed,
    server_hints,
)
from index.feeds.registry import Feed, Registry
from index.search.whoosh.engine import WhooshEngine
from index.search.whoosh.store import IndexStore
from tests.support.feedserver import (
    RSS,
    Behaviour,
    FeedServer,
    endless,
    gone,
    gzipped,
    html_page,
    latin1_feed,
    redirect,
    rss_feed,
    serve,
    serve_conditional,
    serve_with_etag,
    serve_with_last_modified,
    server_error,
    slow_drip,
    status_only,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
# Small limits keep the slow and endless cases to a fraction of a second each.
OPTIONS = PollOptions(timeout=0.5, max_bytes=256 * 1024, allow_private=True)
TWO_ITEMS = rss_feed(("a", "Alpha", "First item"), ("b", "Beta", "Second item"))


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    return IndexStore(tmp_path / "index")


@pytest.fixture
def engine(store: IndexStore) -> Iterator[WhooshEngine]:
    engine = WhooshEngine(store.root)
    yield engine
    engine.close()


@pytest.fixture
def registry(store: IndexStore) -> Registry:
    return Registry.beside(store.root)


def poll_once(engine: WhooshEngine, registry: Registry, feed: Feed | int, *, now: datetime = T0,
              options: PollOptions = OPTIONS) -> PollResult:
    """Poll one feed, as it is in the registry now, with a fixed clock and jitter."""
    current = registry.get(feed if isinstance(feed, int) else feed.id)
    return poll_feed(engine, registry, current, now=now, options=options, rng=random.Random(4))


def indexed(store: IndexStore) -> dict[str, str]:
    """Return title -> source of every item in the live index."""
    ix = store.open()
    try:
        with ix.searcher() as searcher:
            return {fields["title"]: fields["source"] for fields in searcher.all_stored_fields()}
    finally:
        ix.close()


def index_files(store: IndexStore) -> dict[str, tuple[int, int]]:
    """Return every file of the index (not the registry or the lock) with its size and mtime."""
    files = {"current -> " + os.readlink(store.current_link): (0, 0)}
    for path in store.root.rglob("*"):
        if path.is_file() and path.name != "writer.lock" and not path.name.startswith("feeds.sqlite3"):
            stat = path.stat()
            files[str(path.relative_to(store.root))] = (stat.st_size, stat.st_mtime_ns)
    return files


# --- success, conditional GET and updates -------------------------------------------------------------


def test_a_first_poll_indexes_the_items_and_records_success(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", serve_with_etag(TWO_ITEMS, etag='"v1"')))

    result = poll_once(engine, registry, feed)

    assert result.outcome == "ok" and result.status == 200 and result.error is None
    assert result.report is not None and (result.report.added, result.report.updated) == (2, 0)
    assert indexed(store) == {"Alpha": "Test feed", "Beta": "Test feed"}
    recorded = registry.get(feed.id)
    assert recorded == result.feed
    assert (recorded.last_status, recorded.etag, recorded.item_count) == (200, '"v1"', 2)
    assert recorded.title == "Test feed"
    assert recorded.last_success == recorded.last_polled == T0
    assert recorded.next_poll == T0 + DEFAULT_INTERVAL
    assert recorded.last_error is None and recorded.last_warning is None
    assert recorded.consecutive_failures == 0


def test_a_second_poll_of_unchanged_feeds_is_conditional_gets_304s_and_writes_nothing(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    last_modified = "Wed, 01 May 2024 10:00:00 GMT"
    registry.add(feed_server.route("/etag.xml", serve_with_etag(TWO_ITEMS, etag='"v1"')))
    registry.add(feed_server.route("/lm.xml", serve_with_last_modified(RSS, last_modified=last_modified)))
    first = poll_due(engine, registry, now=T0, options=OPTIONS)
    assert [r.outcome for r in first] == ["ok", "ok"]
    before = index_files(store)

    second = poll_due(engine, registry, now=T0 + timedelta(hours=1), options=OPTIONS)

    assert [(r.outcome, r.status, r.report) for r in second] == [("not_modified", 304, None)] * 2
    assert index_files(store) == before
    assert feed_server.requests_to("/etag.xml")[-1].headers["if-none-match"] == '"v1"'
    assert feed_server.requests_to("/lm.xml")[-1].headers["if-modified-since"] == last_modified
    for feed in registry.list():
        assert feed.last_status == 304 and feed.last_success == T0 + timedelta(hours=1)
        assert feed.item_count in (1, 2)  # kept from the last parse
    assert len(indexed(store)) == 3


def test_an_unchanged_feed_without_validators_costs_no_index_write(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", serve(TWO_ITEMS)))
    poll_once(engine, registry, feed)
    before = index_files(store)

    again = poll_once(engine, registry, feed, now=T0 + timedelta(hours=1))

    assert again.outcome == "ok" and again.report is not None
    assert (again.report.added, again.report.updated, again.report.unchanged) == (0, 0, 2)
    assert index_files(store) == before


def test_items_changed_upstream_are_updated_in_place(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", serve_conditional(TWO_ITEMS, etag='"v1"')))
    poll_once(engine, registry, feed)
    changed = rss_feed(
        ("a", "Alpha", "First item"), ("b", "Beta, revised", "Now longer"), ("c", "Gamma", "New")
    )
    feed_server.route("/feed.xml", serve_conditional(changed, etag='"v2"'))

    result = poll_once(engine, registry, feed, now=T0 + timedelta(hours=1))

    assert result.report is not None
    assert (result.report.added, result.report.updated, result.report.unchanged) == (1, 1, 1)
    assert sorted(indexed(store)) == ["Alpha", "Beta, revised", "Gamma"]
    assert registry.get(feed.id).etag == '"v2"' and registry.get(feed.id).item_count == 3


def test_the_source_override_names_the_items(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", serve(TWO_ITEMS)), source="My Source")

    poll_once(engine, registry, feed)

    assert set(indexed(store).values()) == {"My Source"}


# --- redirects and gone ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_updates_the_stored_url(
    feed_server: FeedServer, store: IndexStore, registry: Registry, status: int
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/old.xml", redirect("/new.xml", status=status)))
    new_url = feed_server.route("/new.xml", serve_with_etag(TWO_ITEMS))

    result = poll_once(engine, registry, feed)

    assert result.outcome == "ok" and result.moved_to == new_url
    assert registry.get(feed.id).url == new_url
    poll_once(engine, registry, feed, now=T0 + timedelta(hours=1))
    assert len(feed_server.requests_to("/old.xml")) == 1
    assert len(feed_server.requests_to("/new.xml")) == 2


def test_a_temporary_redirect_keeps_the_stored_url(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/old.xml", redirect("/new.xml", status=302)))
    feed_server.route("/new.xml", serve(TWO_ITEMS))

    result = poll_once(engine, registry, feed)

    assert result.outcome == "ok" and result.moved_to is None
    assert registry.get(feed.id).url == feed.url


def test_a_move_onto_a_registered_url_keeps_the_url_with_a_warning(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/old.xml", redirect("/new.xml")))
    registry.add(feed_server.route("/new.xml", serve(TWO_ITEMS)))

    result = poll_once(engine, registry, feed)

    assert result.outcome == "ok" and result.moved_to is None
    assert result.warning is not None and "registered as another feed" in result.warning
    assert registry.get(feed.id).url == feed.url
    assert registry.get(feed.id).last_warning == result.warning


def test_410_disables_the_feed_and_its_items_stay(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", serve(TWO_ITEMS)))
    poll_once(engine, registry, feed)
    feed_server.route("/feed.xml", gone())

    result = poll_once(engine, registry, feed, now=T0 + timedelta(hours=1))

    assert result.outcome == "gone" and result.status == 410
    recorded = registry.get(feed.id)
    assert not recorded.enabled and recorded.last_status == 410
    assert "gone for good" in (recorded.last_error or "")
    assert registry.due(T0 + timedelta(days=365)) == []
    assert poll_due(engine, registry, force=True, now=T0 + timedelta(days=1), options=OPTIONS) == []
    assert sorted(indexed(store)) == ["Alpha", "Beta"]


# --- schedules: server hints, ttl, Retry-After, backoff ---------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "ttl", "expected"),
    [
        ({}, None, DEFAULT_INTERVAL),
        ({"Cache-Control": "public, max-age=7200"}, None, timedelta(hours=2)),
        ({"Cache-Control": "max-age=60"}, None, DEFAULT_INTERVAL),
        ({"Expires": "0"}, None, DEFAULT_INTERVAL),
        ({"Retry-After": "5400"}, None, timedelta(minutes=90)),
        ({}, 180, timedelta(hours=3)),
        ({"Cache-Control": "max-age=7200"}, 180, timedelta(hours=3)),
        ({"Cache-Control": "max-age=31536000"}, None, MAX_INTERVAL),
        ({}, 100000, MAX_INTERVAL),
    ],
    ids=["default", "max-age", "short-max-age", "bad-expires",
         "retry-after", "ttl", "longest-wins", "capped-max-age", "capped-ttl"],
)
def test_the_next_poll_is_the_longest_of_the_interval_and_the_hints(
    feed_server: FeedServer, store: IndexStore, registry: Registry,
    headers: dict[str, str], ttl: int | None, expected: timedelta,
    engine: WhooshEngine,
) -> None:
    body = rss_feed(("a", "Alpha", "One"), ttl=ttl)
    feed = registry.add(feed_server.route("/feed.xml", serve(body, headers=headers)))

    result = poll_once(engine, registry, feed)

    assert result.outcome == "ok"
    assert registry.get(feed.id).next_poll == T0 + expected


@pytest.mark.parametrize(
    ("cache_control", "expected"), [(None, timedelta(hours=3)), ("max-age=3600", timedelta(hours=1))]
)
def test_expires_counts_from_the_servers_date_unless_max_age_is_given(
    feed_server: FeedServer, store: IndexStore, registry: Registry,
    cache_control: str | None, expected: timedelta,
    engine: WhooshEngine,
) -> None:
    # The test server stamps its real clock in Date, so Expires is set from that clock too.
    expires = format_datetime(datetime.now(UTC) + timedelta(hours=3), usegmt=True)
    headers = {"Expires": expires} | ({"Cache-Control": cache_control} if cache_control else {})
    feed = registry.add(feed_server.route("/feed.xml", serve(TWO_ITEMS, headers=headers)))

    poll_once(engine, registry, feed)

    next_poll = registry.get(feed.id).next_poll
    assert next_poll is not None and abs(next_poll - (T0 + expected)) <= timedelta(seconds=2)


def test_a_304_keeps_the_ttl_and_honours_its_own_cache_control(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    body = rss_feed(("a", "Alpha", "One"), ttl=120)
    feed = registry.add(feed_server.route("/feed.xml", serve_conditional(body, etag='"v1"')))
    poll_once(engine, registry, feed)
    later = T0 + timedelta(hours=3)

    assert poll_once(engine, registry, feed, now=later).outcome == "not_modified"
    assert registry.get(feed.id).next_poll == later + timedelta(hours=2)

    cached = serve_conditional(body, etag='"v1"', headers={"Cache-Control": "max-age=14400"})
    feed_server.route("/feed.xml", cached)
    poll_once(engine, registry, feed, now=later)
    assert registry.get(feed.id).next_poll == later + timedelta(hours=4)


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [
        (server_error(retry_after="7200"), 500),
        (status_only(503, headers={"Retry-After": format_datetime(T0 + timedelta(hours=2))}), 503),
        (status_only(429, headers={"Retry-After": "7200"}), 429),
    ],
    ids=["500-seconds", "503-date", "429"],
)
def test_retry_after_on_a_failure_schedules_the_retry(
    feed_server: FeedServer, store: IndexStore, registry: Registry, behaviour: Behaviour, status: int
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", behaviour))

    result = poll_once(engine, registry, feed)

    assert result.outcome == "error" and result.status == status
    recorded = registry.get(feed.id)
    assert recorded.next_poll == T0 + timedelta(hours=2)
    assert recorded.last_status == status and str(status) in (recorded.last_error or "")
    assert recorded.consecutive_failures == 1 and recorded.last_success is None


def test_a_short_retry_after_never_shortens_the_backoff(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", server_error(retry_after="120")))

    poll_once(engine, registry, feed)

    next_poll = registry.get(feed.id).next_poll
    assert next_poll is not None and T0 + DEFAULT_INTERVAL <= next_poll <= T0 + DEFAULT_INTERVAL * 1.25


def test_repeated_failures_back_off_exponentially_up_to_a_day(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", status_only(500)))
    delays = []
    now = T0
    for _ in range(10):
        poll_once(engine, registry, feed, now=now)
        recorded = registry.get(feed.id)
        assert recorded.next_poll is not None
        delays.append(recorded.next_poll - now)
        now = recorded.next_poll

    assert registry.get(feed.id).consecutive_failures == 10
    assert DEFAULT_INTERVAL <= delays[0] <= DEFAULT_INTERVAL * 1.25
    for n, delay in enumerate(delays[1:], start=2):
        full = min(DEFAULT_INTERVAL * 2 ** (n - 1), MAX_INTERVAL)
        assert full * 0.75 <= delay <= full
    assert delays[-1] <= MAX_INTERVAL and delays[-1] >= MAX_INTERVAL * 0.75


def test_backoff_is_jittered_so_feeds_that_failed_together_spread_out() -> None:
    rng = random.Random(1)
    delays = {backoff(4, DEFAULT_INTERVAL, rng) for _ in range(20)}
    assert len(delays) == 20
    assert all(timedelta(minutes=90) <= d <= timedelta(hours=2) for d in delays)
    assert backoff(1000, DEFAULT_INTERVAL, rng) <= MAX_INTERVAL


def test_the_first_failure_is_jittered_too_never_sooner_than_the_interval() -> None:
    rng = random.Random(7)
    delays = [backoff(1, DEFAULT_INTERVAL, rng) for _ in range(20)]
    assert len(set(delays)) == 20
    assert all(DEFAULT_INTERVAL <= d <= DEFAULT_INTERVAL * 1.25 for d in delays)
    assert max(delays) - min(delays) > DEFAULT_INTERVAL * 0.1  # spread, not a rounding difference
    # The same seed gives the same schedule, so a poll's next time can be reproduced.
    assert [backoff(1, DEFAULT_INTERVAL, random.Random(7)) for _ in range(1)] == delays[:1]
    # An interval of a day or more is not lengthened past it.
    assert backoff(1, MAX_INTERVAL, rng) == MAX_INTERVAL


def test_feeds_that_fail_together_get_different_first_retries(
    feed_server: FeedServer, registry: Registry, engine: WhooshEngine) -> None:
    url = feed_server.route("/down.xml", status_only(500))
    feeds = [registry.add(f"{url}?n={n}") for n in range(5)]
    results = poll_due(engine, registry, now=T0, options=OPTIONS, rng=random.Random(3))
    assert [r.outcome for r in results] == ["error"] * 5
    retries = {registry.get(f.id).next_poll for f in feeds}
    assert len(retries) == 5
    assert all(r is not None and T0 + DEFAULT_INTERVAL <= r <= T0 + DEFAULT_INTERVAL * 1.25 for r in retries)


def test_a_success_after_failures_resets_the_schedule(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", status_only(502)))
    for _ in range(3):
        poll_once(engine, registry, feed)
    feed_server.route("/feed.xml", serve(TWO_ITEMS))

    poll_once(engine, registry, feed)

    recorded = registry.get(feed.id)
    assert recorded.consecutive_failures == 0 and recorded.last_error is None
    assert recorded.next_poll == T0 + DEFAULT_INTERVAL


def test_server_hints_read_http_dates_and_ignore_garbage() -> None:
    headers = {"cache-control": "no-cache", "expires": "Thu, 01 Jan 1970 00:00:00 GMT", "retry-after": "soon"}
    assert server_hints(headers, T0) == (timedelta(0), None)
    assert server_hints({"cache-control": 's-maxage=5, max-age="600"'}, T0) == (timedelta(minutes=10), None)


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900), ("1s", 1), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("90", 90),
                          ("0.5s", 0.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "m", "15x", "0s", "-5m", "1h 30m", "15mm"])
def test_parse_duration_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


# --- what the world serves ------------------------------------------------------------------------------

HUGE_ENTRY = rss_feed(("huge", "A huge entry", "word " * 40_000))  # 200 KB in one description
DECLARED_UTF8_BUT_LATIN1 = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Caf\u00e9</title>'
    "<item><title>D\u00e9j\u00e0 vu</title><link>http://example.org/1</link></item></channel></rss>"
).encode("latin-1")
TRUNCATED_AFTER_AN_ITEM = TWO_ITEMS[: TWO_ITEMS.index(b"<item>", TWO_ITEMS.index(b"</item>")) + 20]
TRUNCATED_BEFORE_ANY_ITEM = TWO_ITEMS[: TWO_ITEMS.index(b"<item>") - 5]

# (name, behaviour, expected outcome, a phrase of the recorded error or warning, titles indexed)
WORLD: list[tuple[str, Behaviour, str, str | None, set[str]]] = [
    ("gzip", gzipped(TWO_ITEMS), "ok", None, {"Alpha", "Beta"}),
    ("latin1-no-declaration", latin1_feed(), "ok", None, {"D\u00e9j\u00e0 vu"}),
    ("declared-utf8-but-latin1", serve(DECLARED_UTF8_BUT_LATIN1), "ok", "declared as utf-8",
     {"D\u00e9j\u00e0 vu"}),
    ("unknown-encoding-name", serve(TWO_ITEMS.replace(b"utf-8", b"klingon")), "ok", "klingon",
     {"Alpha", "Beta"}),
    ("truncated-after-an-item", serve(TRUNCATED_AFTER_AN_ITEM), "ok", "ill-formed feed", {"Alpha"}),
    ("undefined-entity", serve(TWO_ITEMS.replace(b"First item", b"First &nbsp; item")), "ok",
     "undefined entity", {"Alpha", "Beta"}),
    ("huge-single-entry", serve(HUGE_ENTRY), "ok", None, {"A huge entry"}),
    ("valid-but-empty", serve(rss_feed()), "ok", None, set()),
    ("truncated-before-any-item", serve(TRUNCATED_BEFORE_ANY_ITEM), "error", "not a readable feed", set()),
    ("html-instead-of-xml", html_page(), "error", "not an XML media type", set()),
    ("empty-body", serve(b""), "error", "empty input", set()),
    ("whitespace-body", serve(b" \r\n\t "), "error", "empty input", set()),
    ("binary-garbage", serve(b"\x00\x01\x02\xff" * 50, content_type="application/octet-stream"), "error",
     "not a readable feed", set()),
    ("json-not-a-feed", serve(b'{"error": "rate limited"}', content_type="application/json"), "error",
     "no usable item", set()),
    ("huge-entry-over-the-cap", serve(rss_feed(("big", "Big", "x" * 300_000))), "error", "over the limit",
     set()),
    ("gzip-bomb", gzipped(b"<rss>" + b" " * 5_000_000), "error", "over the limit", set()),
    ("endless-body", endless(), "error", "over the limit", set()),
    ("slow-body", slow_drip(TWO_ITEMS, interval=0.2), "error", "within", set()),
    ("corrupt-gzip", serve(gzip.compress(TWO_ITEMS)[:-20], headers={"Content-Encoding": "gzip"}), "error",
     "truncated", set()),
    ("not-found", status_only(404), "error", "404", set()),
    ("forbidden", status_only(403), "error", "403", set()),
    ("redirect-loop", redirect("/world.xml"), "error", "redirects", set()),
]


@pytest.mark.parametrize(("behaviour", "outcome", "phrase", "titles"), [w[1:] for w in WORLD],
                         ids=[w[0] for w in WORLD])
def test_whatever_a_feed_serves_the_outcome_is_recorded_on_it(
    feed_server: FeedServer, store: IndexStore, registry: Registry,
    behaviour: Behaviour, outcome: str, phrase: str | None, titles: set[str],
    engine: WhooshEngine,
) -> None:
    feed = registry.add(feed_server.route("/world.xml", behaviour))

    result = poll_once(engine, registry, feed)

    recorded = registry.get(feed.id)
    assert result.outcome == outcome, result
    assert recorded.last_polled == T0
    if outcome == "ok":
        assert recorded.last_error is None and recorded.last_success == T0
        assert recorded.item_count == len(titles)
        if phrase is None:
            assert recorded.last_warning is None
        else:
            assert phrase in (recorded.last_warning or "")
        assert (set(indexed(store)) if store.exists() else set()) == titles
    else:
        assert phrase is not None and phrase in (recorded.last_error or ""), recorded.last_error
        assert not (recorded.last_error or "").startswith(feed.url)  # the row already names the feed
        assert recorded.consecutive_failures == 1 and recorded.etag is None and recorded.last_success is None
        assert not store.exists()


def test_one_bad_feed_never_stops_the_others(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    for number, (name, behaviour, _, _, _) in enumerate(WORLD):
        registry.add(feed_server.route(f"/{name}.xml", behaviour))
        good = rss_feed((f"good-{number}", f"Good {number}", "Fine"), title=f"Good feed {number}")
        registry.add(feed_server.route(f"/good-{number}.xml", serve(good)))

    results = poll_due(engine, registry, now=T0, options=OPTIONS)

    assert len(results) == 2 * len(WORLD)
    feeds = registry.list()
    assert all(feed.last_polled == T0 for feed in feeds)
    outcomes = {feed.url.rsplit("/", 1)[1][:-4]: (feed.last_error is None) for feed in feeds}
    assert outcomes == {
        **{name: expected == "ok" for name, _, expected, _, _ in WORLD},
        **{f"good-{n}": True for n in range(len(WORLD))},
    }
    assert {f"Good {n}" for n in range(len(WORLD))} <= set(indexed(store))


def test_the_items_of_a_failing_feed_stay_in_the_index(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", serve_with_etag(TWO_ITEMS)))
    poll_once(engine, registry, feed)

    for broken in (server_error(), html_page(), serve(b""), slow_drip(interval=0.2)):
        feed_server.route("/feed.xml", broken)
        assert poll_once(engine, registry, feed).outcome == "error"

    assert sorted(indexed(store)) == ["Alpha", "Beta"]
    recorded = registry.get(feed.id)
    assert recorded.consecutive_failures == 4 and recorded.etag == '"v1"' and recorded.item_count == 2


def test_private_addresses_are_refused_unless_allowed(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    feed = registry.add(feed_server.route("/feed.xml", serve()))

    result = poll_once(engine, registry, feed, options=PollOptions(timeout=0.5))

    assert result.outcome == "error" and "non-public address" in (result.error or "")
    assert feed_server.requests_to("/feed.xml") == []


def test_a_refused_connection_is_recorded(
    store: IndexStore, registry: Registry, engine: WhooshEngine
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    feed = registry.add(f"http://127.0.0.1:{port}/feed.xml")

    result = poll_once(engine, registry, feed)

    assert result.outcome == "error" and "connection failed" in (result.error or "")


# --- rounds -----------------------------------------------------------------------------------------------


def test_a_round_polls_only_due_feeds_unless_forced(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    first = registry.add(feed_server.route("/one.xml", serve(TWO_ITEMS)))
    poll_due(engine, registry, now=T0, options=OPTIONS)
    second = registry.add(feed_server.route("/two.xml", serve(RSS)))
    disabled = registry.add(feed_server.route("/off.xml", serve(RSS)))
    registry.set_enabled(disabled.id, False)

    due = poll_due(engine, registry, now=T0 + timedelta(minutes=1), options=OPTIONS)
    assert [r.feed.id for r in due] == [second.id]

    forced = poll_due(engine, registry, force=True, now=T0 + timedelta(minutes=2), options=OPTIONS)
    assert [r.feed.id for r in forced] == [first.id, second.id]
    assert feed_server.requests_to("/off.xml") == []


def test_a_stop_request_ends_the_round_between_feeds(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    for n in range(3):
        registry.add(feed_server.route(f"/{n}.xml", serve(rss_feed((f"i{n}", f"Item {n}", "x")))))
    seen: list[PollResult] = []

    results = poll_due(engine, registry, now=T0, options=OPTIONS, on_result=seen.append,
                       should_stop=lambda: len(seen) >= 2)

    assert results == seen and len(results) == 2
    assert sorted(indexed(store)) == ["Item 0", "Item 1"]
    assert [f.last_polled for f in registry.list()] == [T0, T0, None]


def test_a_feed_removed_during_a_round_is_left_out(
    feed_server: FeedServer, store: IndexStore, registry: Registry
, engine: WhooshEngine) -> None:
    first = registry.add(feed_server.route("/one.xml", serve(TWO_ITEMS)))
    second = registry.add(feed_server.route("/two.xml", serve(RSS)))
    third = registry.add(feed_server.route("/three.xml", serve(RSS)))

    results = poll_due(engine, registry, now=T0, options=OPTIONS,
                       on_result=lambda r: registry.remove(second.id) if r.feed.id == first.id else None)

    assert [r.feed.id for r in results] == [first.id, third.id]
    assert [f.id for f in registry.list()] == [first.id, third.id]
