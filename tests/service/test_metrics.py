"""Tests for service/metrics.py and /metrics: the exposition parsed with prometheus_client after traffic."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from index.feeds.poll import PollOptions, poll_due
from index.feeds.registry import Registry
from index.search.whoosh.engine import WhooshEngine
from service import metrics
from tests.support.api import assert_problem
from tests.support.feedserver import FeedServer, rss_feed, serve_conditional

TOKEN = "metrics-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def count(samples: Samples, endpoint: str, status: str, method: str = "GET") -> float:
    labels = (("endpoint", endpoint), ("method", method), ("status", status))
    return samples.get(("feedsift_http_requests_total", labels), 0.0)


def test_requests_are_counted_by_endpoint_and_status_with_latencies(client: FlaskClient) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.get("/v1/search?q=learning").status_code == 200
    assert client.get('/v1/search?q="open').status_code == 400
    assert client.get("/v1/items/extra-001").status_code == 200
    assert client.get("/v1/items/nope").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert client.put("/v1/search").status_code == 405
    after = scrape(client)
    assert count(after, "/v1/search", "200") - count(before, "/v1/search", "200") == 3
    assert count(after, "/v1/search", "400") - count(before, "/v1/search", "400") == 1
    # Items are counted under their route, not their id: one series however many items there are.
    assert count(after, "/v1/items/<item_id>", "200") - count(before, "/v1/items/<item_id>", "200") == 1
    assert count(after, "/v1/items/<item_id>", "404") - count(before, "/v1/items/<item_id>", "404") == 1
    assert count(after, "unmatched", "404") - count(before, "unmatched", "404") == 1
    assert count(after, "unmatched", "405", "PUT") - count(before, "unmatched", "405", "PUT") == 1
    assert count(after, "/metrics", "200") - count(before, "/metrics", "200") == 1
    key = ("feedsift_http_request_duration_seconds_count", (("endpoint", "/v1/search"),))
    assert after[key] - before.get(key, 0.0) == 4
    inf = ("feedsift_http_request_duration_seconds_bucket", (("endpoint", "/v1/search"), ("le", "+Inf")))
    assert after[inf] == after[key]
    assert after[("feedsift_http_request_duration_seconds_sum", (("endpoint", "/v1/search"),))] > 0


def test_index_gauges(client: FlaskClient) -> None:
    samples = scrape(client)
    assert samples[("feedsift_index_up", ())] == 1
    assert samples[("feedsift_index_items", ())] == client.get("/readyz").get_json()["items"]
    newest = max(s["newest"] for s in client.get("/v1/sources").get_json()["sources"] if s["newest"])
    stamp = time.mktime(time.strptime(newest, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    age = samples[("feedsift_index_newest_item_age_seconds", ())]
    assert abs(age - (time.time() - stamp)) < 60


def test_a_missing_index_is_reported_not_failed(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    samples = scrape(make_app(tmp_path / "missing").test_client())
    assert samples[("feedsift_index_up", ())] == 0
    assert ("feedsift_index_items", ()) not in samples


def test_every_poll_outcome_is_declared_before_any_poll(client: FlaskClient) -> None:
    samples = scrape(client)
    for outcome in ("ok", "not_modified", "error", "gone"):
        assert samples[("feedsift_poll_outcomes_total", (("outcome", outcome),))] == 0


def test_an_api_poll_and_the_poll_worker_are_both_counted(built_index: Path, make_app: Callable[..., Flask],
                                                          feed_server: FeedServer) -> None:
    client = make_app(built_index, api_token=TOKEN, allow_private_feeds=True).test_client()
    feed_body = rss_feed(("c-1", "Counted", "Once."))
    url = feed_server.route("/counted.xml", serve_conditional(feed_body, etag='"v1"'))
    feed = client.post("/v1/feeds", json={"url": url}, headers=AUTH).get_json()
    assert client.post(f"/v1/feeds/{feed['id']}/poll", headers=AUTH).get_json()["outcome"] == "ok"
    samples = scrape(client)
    assert samples[("feedsift_poll_outcomes_total", (("outcome", "ok"),))] == 1
    # The poll worker is another process (`feedsift poll`); it counts in the same registry.
    engine = WhooshEngine(built_index)
    try:
        results = poll_due(engine, Registry.beside(built_index), force=True,
                           options=PollOptions(allow_private=True))
    finally:
        engine.close()
    assert [r.outcome for r in results] == ["not_modified"]
    samples = scrape(client)
    assert samples[("feedsift_poll_outcomes_total", (("outcome", "ok"),))] == 1
    assert samples[("feedsift_poll_outcomes_total", (("outcome", "not_modified"),))] == 1


def test_a_scrape_never_writes_the_registry(built_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(built_index).test_client()
    scrape(client)
    assert not (built_index / "feeds.sqlite3").exists()
    Registry.beside(built_index).add("https://example.org/a.xml")
    # As a feedsift from before the poll counts left it: no table for them.
    with closing(sqlite3.connect(built_index / "feeds.sqlite3")) as conn:
        conn.execute("DROP TABLE poll_outcomes")
        conn.commit()
    before = (built_index / "feeds.sqlite3").read_bytes()
    samples = scrape(client)
    assert samples[("feedsift_feeds", (("state", "never_polled"),))] == 1
    assert samples[("feedsift_poll_outcomes_total", (("outcome", "ok"),))] == 0
    # The database is byte for byte as it was (SQLite's -shm index of the write-ahead log aside).
    assert (built_index / "feeds.sqlite3").read_bytes() == before
    with closing(sqlite3.connect(built_index / "feeds.sqlite3")) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'poll_outcomes'").fetchone() is None


def test_registered_feeds_by_state(built_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(built_index).test_client()
    assert not any(name == "feedsift_feeds" for name, _ in scrape(client))
    registry = Registry.beside(built_index)
    registry.add("https://example.org/a.xml")
    gone = registry.add("https://example.org/b.xml")
    registry.set_enabled(gone.id, False)
    samples = scrape(client)
    assert samples[("feedsift_feeds", (("state", "never_polled"),))] == 1
    assert samples[("feedsift_feeds", (("state", "disabled"),))] == 1
    assert samples[("feedsift_feeds", (("state", "ok"),))] == 0


def test_metrics_are_kept_in_the_multiprocess_directory() -> None:
    directory = Path(os.environ[metrics.MULTIPROC_ENV])
    assert directory.is_dir()
    assert list(directory.glob(f"counter_{os.getpid()}.db"))


def test_metrics_take_no_parameters_but_answer_only_get(client: FlaskClient) -> None:
    assert_problem(client.post("/metrics"), 405, "method-not-allowed")
