"""Alerts over a real index on disk: what a write matches, what is queued once, what is sent and retried.

Receivers are real HTTP servers on 127.0.0.1 (tests/support/webhooks.py); time is a clock passed to
``deliver`` so the retry schedule can be walked without waiting a day.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index.alerts import GIVE_UP_AFTER, MAX_ITEMS, RETRY_DELAYS, AlertStore, AlertWatcher, Outbox, deliver
from index.alerts.match import match_items
from index.errors import QueryError, WebhookURLError
from index.feeds.registry import REGISTRY_FILE, Registry
from index.model import FeedItem, SearchRequest
from index.search.whoosh.engine import WhooshEngine
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import rebuild, write_items
from tests.support.indexes import SAMPLE_FILES, items_from
from tests.support.webhooks import Receiver


def item(n: int, title: str, summary: str = "about nothing", source: str = "Zoo News") -> FeedItem:
    return FeedItem(id=f"item-{n}", title=title, link=f"https://zoo.example/{n}", summary=summary,
                    source=source, published=datetime(2026, 3, 1, 9, 30, n % 60, 123456, tzinfo=UTC))


def queued(root: Path) -> list[tuple[int, str]]:
    with AlertStore.beside(root).connect() as conn:
        rows = conn.execute("SELECT alert_id, item_id FROM alert_outbox ORDER BY id")
        return [(row[0], row[1]) for row in rows]


def engine(root: Path) -> WhooshEngine:
    return WhooshEngine(root, watcher=AlertWatcher(root))


# --- matching ---------------------------------------------------------------------------------------

QUERIES = [
    ("diffusion", None, "any"),
    ("diffusion models", None, "any"),
    ("diffusion models", None, "all"),
    ('"diffusion models"', None, "any"),
    ("diffusion -video", None, "any"),
    ("models NOT diffusion", None, "any"),
    ("diffus*", None, "any"),
    ("difusion~", None, "any"),
    ('source:"gradient notes" learning', None, "any"),
    ("tag:robotics", None, "any"),
    ("author:fischer", None, "any"),
    ("title:conformal OR title:graph", None, "any"),
    ("models", "Paper Digest Weekly", "any"),
    ("learning", "paper digest weekly", "all"),
]


def test_matching_is_the_search_restricted_to_the_written_items(built_index: Path) -> None:
    everything = items_from(SAMPLE_FILES)
    written = everything[::2]
    ids = {i.id for i in written}

    class Alert:
        def __init__(self, n: int, q: str, source: str | None, match: str) -> None:
            self.id, self.q, self.source, self.match = n, q, source, match

    alerts = [Alert(n, q, source, match) for n, (q, source, match) in enumerate(QUERIES)]
    found = match_items(alerts, written)
    index = SearchIndex(built_index)
    try:
        total = 0
        for alert in alerts:
            page = index.search(SearchRequest(q=alert.q, match=alert.match, per_page=100,
                                              sources=(alert.source,) if alert.source else ()))
            expected = [hit.id for hit in page.hits if hit.id in ids]
            got = [i.id for i in found.get(alert.id, [])]
            assert sorted(got) == sorted(expected), alert.q
            total += len(got)
    finally:
        index.close()
    assert total > 20  # the queries do match written items, so agreement says something


def test_a_query_the_search_refuses_is_refused_when_the_alert_is_made(tmp_path: Path) -> None:
    store = AlertStore.beside(tmp_path)
    for bad in ('"unclosed', "a*", "(x", "the", "quokka " * 150):
        with pytest.raises(QueryError):
            store.add(bad, "http://127.0.0.1:9/hook", allow_private=True)
    alert, _ = store.add("quok*", "http://127.0.0.1:9/hook", allow_private=True)  # a prefix needs items
    assert alert.q == "quok*"


# --- from writes to the outbox --------------------------------------------------------------------

def test_only_items_added_or_changed_after_the_alert_was_made_are_queued(tmp_path: Path) -> None:
    root = tmp_path / "index"
    write_items(IndexStore(root), [item(1, "quokka before"), item(2, "quokka before too")])
    store = AlertStore.beside(root)
    alert, _ = store.add("quokka", "http://127.0.0.1:9/hook", allow_private=True)
    eng = engine(root)
    try:
        report = eng.upsert([item(1, "quokka before"), item(2, "quokka before too"), item(3, "a quokka now")])
        assert (report.added, report.unchanged) == (1, 2)
        assert queued(root) == [(alert.id, "item-3")]
        eng.upsert([item(2, "quokka before too", summary="changed after")])
        assert queued(root) == [(alert.id, "item-3"), (alert.id, "item-2")]
    finally:
        eng.close()


def test_an_item_is_queued_for_an_alert_once_unless_it_asks_for_updates(tmp_path: Path) -> None:
    root = tmp_path / "index"
    store = AlertStore.beside(root)
    once, _ = store.add("quokka", "http://127.0.0.1:9/once", allow_private=True)
    again, _ = store.add("quokka", "http://127.0.0.1:9/again", updates=True, allow_private=True)
    eng = engine(root)
    try:
        eng.upsert([item(1, "quokka")])
        eng.upsert([item(1, "quokka")])  # unchanged: nothing is written, nothing queued
        eng.upsert([item(1, "quokka", summary="the summary changed")])
        eng.upsert([item(1, "quokka", summary="the summary changed")])
    finally:
        eng.close()
    # The changed item waiting for `again` replaced its older copy: it goes once, as it is now.
    assert queued(root) == [(once.id, "item-1"), (again.id, "item-1")]
    with store.connect() as conn:
        summaries = [json.loads(row[0])["summary"] for row in conn.execute(
            "SELECT i.item FROM alert_outbox JOIN alert_items i USING (item_id, fingerprint) ORDER BY id")]
    assert summaries == ["about nothing", "the summary changed"]


def test_a_write_with_no_alert_costs_one_look_and_creates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "index"
    watcher = AlertWatcher(root)
    asked: list[int] = []

    def written() -> list[FeedItem]:
        asked.append(1)
        return [item(1, "quokka")]

    with watcher.committing(written):
        pass
    assert not (root / REGISTRY_FILE).exists()  # a write never creates the database
    Registry.beside(root)  # the feed registry's database, without the alerts' tables
    with watcher.committing(written):
        pass
    AlertStore.beside(root)  # the alerts' tables, with no alert in them
    with watcher.committing(written):
        pass
    assert asked == []  # the written items were never even worked out
    with AlertStore.beside(root).connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM alert_journal").fetchone()[0] == 0


def test_a_rebuild_queues_only_what_it_adds_or_changes(tmp_path: Path) -> None:
    root = tmp_path / "index"
    store_ = IndexStore(root)
    write_items(store_, [item(1, "quokka one"), item(2, "quokka two")])
    alert, _ = AlertStore.beside(root).add("quokka", "http://127.0.0.1:9/hook", allow_private=True)
    rebuild(store_, [item(1, "quokka one"), item(2, "quokka two", summary="new"), item(3, "quokka three")],
            watcher=AlertWatcher(root))
    assert queued(root) == [(alert.id, "item-2"), (alert.id, "item-3")]


def test_a_removed_alert_sends_and_keeps_nothing(tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "index"
    store = AlertStore.beside(root)
    alert, _ = store.add("quokka", receiver.url, allow_private=True)
    eng = engine(root)
    try:
        eng.upsert([item(1, "quokka")])
        store.remove(alert.id)
        run = deliver(root, fingerprints=eng.fingerprints, allow_private=True)
    finally:
        eng.close()
    assert (run.attempted, receiver.posts, queued(root)) == (0, [], [])


# --- delivery ------------------------------------------------------------------------------------

def test_a_delivery_is_signed_and_holds_at_most_100_items(tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "index"
    alert, secret = AlertStore.beside(root).add("quokka", receiver.url, allow_private=True)
    items = [item(n, f"quokka number {n}") for n in range(MAX_ITEMS + 50)]
    eng = engine(root)
    try:
        eng.upsert(items)
        run = deliver(root, fingerprints=eng.fingerprints, allow_private=True)
    finally:
        eng.close()
    assert run.outcomes == {"delivered": 2, "retry": 0, "failed": 0}
    assert [len(post.json["items"]) for post in receiver.posts] == [MAX_ITEMS, 50]
    assert receiver.items() == [i.id for i in items]
    for post in receiver.posts:
        expected = hmac.new(secret.encode(), post.body, hashlib.sha256).hexdigest()
        assert post.headers["x-feedsift-signature"] == f"sha256={expected}"
        assert post.headers["content-type"] == "application/json"
        body = post.json
        assert body["alert"] == {"id": alert.id, "q": "quokka"}
        assert body["delivery"] == post.delivery
    first = receiver.posts[0].json["items"][0]
    assert first == {"id": "item-0", "title": "quokka number 0", "link": "https://zoo.example/0",
                     "source": "Zoo News", "published": "2026-03-01T09:30:00Z", "authors": [], "tags": [],
                     "summary": "about nothing"}
    assert len({post.delivery for post in receiver.posts}) == 2


def test_a_failing_webhook_is_retried_with_the_same_delivery_on_schedule_then_failed(tmp_path: Path) -> None:
    root = tmp_path / "index"
    start = datetime(2026, 3, 1, tzinfo=UTC)
    now = [start]
    with Receiver(statuses=[500] * 20) as failing:
        alert, _ = AlertStore.beside(root).add("quokka", failing.url, allow_private=True)
        eng = engine(root)
        try:
            eng.upsert([item(1, "quokka")])
            outcomes = [deliver(root, allow_private=True, clock=lambda: now[0]).outcomes]
            waits = []
            for delay in RETRY_DELAYS:
                now[0] += delay - timedelta(seconds=1)
                assert deliver(root, allow_private=True, clock=lambda: now[0]).attempted == 0  # not due yet
                now[0] += timedelta(seconds=1)
                outcomes.append(deliver(root, allow_private=True, clock=lambda: now[0]).outcomes)
                waits.append(delay)
        finally:
            eng.close()
        posts = failing.posts
    assert len(posts) == 1 + len(RETRY_DELAYS)
    assert len({post.delivery for post in posts}) == 1 and len({post.body for post in posts}) == 1
    assert [o["retry"] for o in outcomes] == [1] * len(RETRY_DELAYS) + [0]
    assert outcomes[-1]["failed"] == 1
    assert now[0] - start <= GIVE_UP_AFTER
    attempts = Outbox(AlertStore.beside(root)).attempts(alert.id)
    assert [a.outcome for a in attempts] == ["failed"] + ["retry"] * len(RETRY_DELAYS)
    assert [a.status for a in attempts] == [500] * (1 + len(RETRY_DELAYS))
    health = AlertStore.beside(root).get(alert.id)
    assert (health.last_status, health.consecutive_failures, health.pending) == (500, 7, 0)


def test_now_sends_a_pending_retry_at_once_and_a_redirect_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "index"
    with Receiver(statuses=[302]) as moved:
        AlertStore.beside(root).add("quokka", moved.url, allow_private=True)
        eng = engine(root)
        try:
            eng.upsert([item(1, "quokka")])
            first = deliver(root, allow_private=True)
            waiting = deliver(root, allow_private=True)
            forced = deliver(root, allow_private=True, force=True)
        finally:
            eng.close()
        posts = moved.posts
    assert (first.outcomes["retry"], waiting.attempted, forced.outcomes["delivered"]) == (1, 0, 1)
    assert [post.path for post in posts] == ["/hook", "/hook"]  # the 302 was an answer, not a hop
    assert posts[0].delivery == posts[1].delivery


def test_webhooks_pass_the_fetch_guard(tmp_path: Path, receiver: Receiver) -> None:
    store = AlertStore.beside(tmp_path)
    for url in (receiver.url, "http://localhost:9/hook", "http://10.0.0.1/hook", "http://[::1]:9/"):
        with pytest.raises(WebhookURLError, match="FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS"):
            store.add("quokka", url)
    for url in ("ftp://example.org/hook", "file:///etc/passwd", "http:///nohost", "not a url"):
        with pytest.raises(WebhookURLError):
            store.add("quokka", url, allow_private=True)
    assert store.list() == []


def test_a_webhook_that_turned_private_is_refused_at_delivery(tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "index"
    alert, _ = AlertStore.beside(root).add("quokka", receiver.url, allow_private=True)
    eng = engine(root)
    try:
        eng.upsert([item(1, "quokka")])
        run = deliver(root)  # the deliverer does not allow private addresses
    finally:
        eng.close()
    assert (run.outcomes["retry"], receiver.posts) == (1, [])
    attempt = Outbox(AlertStore.beside(root)).attempts(alert.id)[0]
    assert attempt.status is None and attempt.error is not None and "non-public address" in attempt.error


def test_a_journalled_item_reads_back_with_its_fingerprint(tmp_path: Path) -> None:
    store = AlertStore.beside(tmp_path)
    alert, _ = store.add("quokka", "http://127.0.0.1:9/hook", allow_private=True)
    outbox = Outbox(store)
    original = replace(item(7, "quokka"), authors=("A. Writer",), tags=("zoo", "marsupials"))
    outbox.journal([original])
    asked: list[list[str]] = []

    def fingerprints(ids: list[str]) -> dict[str, str]:
        asked.append(ids)
        return {original.id: original.fingerprint()}

    # Recovery queues the item only if the copy read back from the journal has the same fingerprint.
    assert outbox.recover(fingerprints) == 1
    assert asked == [["item-7"]]
    assert queued(tmp_path) == [(alert.id, "item-7")]
    with store.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM alert_journal").fetchone()[0] == 0


def test_a_webhook_name_that_does_not_resolve_yet_is_taken_and_retried(tmp_path: Path) -> None:
    root = tmp_path / "index"
    alert, _ = AlertStore.beside(root).add("quokka", "https://receiver.invalid/hook")
    eng = engine(root)
    try:
        eng.upsert([item(1, "quokka")])
        run = deliver(root)
    finally:
        eng.close()
    assert run.outcomes["retry"] == 1
    attempt = Outbox(AlertStore.beside(root)).attempts(alert.id)[0]
    assert attempt.status is None and attempt.error is not None and "cannot resolve" in attempt.error


def test_an_item_body_is_kept_once_and_dropped_when_delivered(tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "index"
    store = AlertStore.beside(root)
    for q in ("quokka", "quokka OR wombat", "title:quokka"):
        store.add(q, receiver.url, allow_private=True)
    eng = engine(root)
    try:
        eng.upsert([item(1, "quokka"), item(2, "wombat")])
        with store.connect() as conn:
            bodies = conn.execute("SELECT item_id FROM alert_items ORDER BY item_id").fetchall()
        assert [row[0] for row in bodies] == ["item-1", "item-2"]  # four pairs, two bodies
        assert len(queued(root)) == 4
        deliver(root, allow_private=True)
    finally:
        eng.close()
    assert sorted(receiver.items()) == ["item-1", "item-1", "item-1", "item-2"]
    with store.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM alert_items").fetchone()[0] == 0
