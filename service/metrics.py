"""Prometheus metrics: what every worker counts, and the exposition that adds them up across workers.

prometheus_client's multiprocess mode keeps each process's counters in memory-mapped files under
``PROMETHEUS_MULTIPROC_DIR``, and :func:`render` merges the files of every worker, so a scrape that
lands on any one gunicorn worker reports the whole server. The directory must be chosen before
prometheus_client is first imported (it picks its value class then), so this module sets it, to a
fresh temporary directory, when the environment has none; ``gunicorn.conf.py`` does the same in the
master before the app is loaded and removes a dead worker's live gauges when it exits.

Figures that are facts about the index (items, age of the newest item) or the feed registry (feeds by
state, polls by outcome) are not counted by any worker: :class:`IndexCollector` reads them from the
scraping worker's searcher and from the registry, opened read-only, at scrape time, so they are exact
whichever worker answers. Polls are counted in the registry by whichever process polls (the poll
worker is a separate ``feedsift poll`` process, which shares no metrics directory with gunicorn).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure_multiprocess_dir() -> str:
    """Return the multiprocess directory, creating a temporary one (and exporting it) when unset."""
    path = os.environ.get(MULTIPROC_ENV, "").strip()
    if not path:
        path = tempfile.mkdtemp(prefix="feedsift-metrics-")
        os.environ[MULTIPROC_ENV] = path
        atexit.register(_remove, path, os.getpid())
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def _remove(path: str, creator: int) -> None:
    # Processes forked from the creator share the directory: only the creator removes it, at its exit.
    if os.getpid() == creator:
        shutil.rmtree(path, ignore_errors=True)


ensure_multiprocess_dir()

# Imported only now: prometheus_client decides between per-process and multiprocess values on import.
from prometheus_client import CollectorRegistry, Counter, Histogram  # noqa: E402
from prometheus_client import values as _values  # noqa: E402
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: E402
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

from index.alerts import OUTCOMES, read_counts  # noqa: E402
from index.errors import FeedsiftError  # noqa: E402
from index.feeds.registry import REGISTRY_FILE, Registry  # noqa: E402
from index.search.engine import Engine  # noqa: E402

if not getattr(_values.ValueClass, "_multiprocess", False):
    # Something imported prometheus_client before this module set the directory; switch it over so
    # the metrics below are shared with the other workers rather than kept in this process alone.
    _values.ValueClass = _values.get_value_class()  # type: ignore[no-untyped-call]

# Text format 0.0.4, which every Prometheus reads; our names need none of 1.0.0's UTF-8 quoting.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Latency buckets in seconds: searches take milliseconds, suggestions well under one.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
POLL_OUTCOMES = ("ok", "not_modified", "error", "gone")

# registry=None: in multiprocess mode the files are the registry; render() builds a fresh one to read them.
REQUESTS = Counter(
    "feedsift_http_requests", "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"], registry=None,
)
LATENCY = Histogram(
    "feedsift_http_request_duration_seconds", "Time to answer an HTTP request, by endpoint.",
    ["endpoint"], buckets=LATENCY_BUCKETS, registry=None,
)


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)


class IndexCollector:
    """Figures read at scrape time: the index's items and freshness, feeds by health, polls by outcome."""

    def __init__(self, index: Engine, index_dir: Path) -> None:
        self.index = index
        self.index_dir = Path(index_dir)

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("feedsift_index_up", "1 when the index is open and readable, else 0.")
        items = GaugeMetricFamily("feedsift_index_items", "Items in the index.")
        age = GaugeMetricFamily(
            "feedsift_index_newest_item_age_seconds",
            "Seconds since the newest item was published (or first seen, for undated items).",
        )
        try:
            rows, total = self.index.sources()
        except FeedsiftError:
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            items.add_metric([], total)
            newest = max((r.newest.timestamp() for r in rows if r.newest is not None), default=None)
            yield up
            yield items
            if newest is not None:
                age.add_metric([], max(0.0, time.time() - newest))
                yield age
        yield from self._feeds()
        yield from self._alerts()

    def _alerts(self) -> Iterator[Any]:
        # Counted in the database by whichever process delivers (the poll worker, `alerts deliver`), and
        # read here through a read-only connection: a scrape never writes.
        counts = read_counts(self.index_dir)
        if counts is None:
            return
        outcomes, pending = counts
        attempts = CounterMetricFamily(
            "feedsift_alert_deliveries", "Webhook delivery attempts by outcome: delivered (2xx), retry "
            "(failed, tried again later) and failed (no retry left).", labels=["outcome"],
        )
        for outcome in OUTCOMES:
            attempts.add_metric([outcome], outcomes.get(outcome, 0))
        yield attempts
        yield GaugeMetricFamily("feedsift_alert_outbox_pending",
                                "Matched items not yet delivered to their alerts' webhooks.", value=pending)

    def _feeds(self) -> Iterator[Any]:
        # Read-only: a scrape never creates the registry, nor changes its schema or anything in it.
        exists = (self.index_dir / REGISTRY_FILE).exists()
        registry = Registry.beside(self.index_dir, read_only=True)
        try:
            outcomes = registry.poll_outcomes()
            feeds = registry.list() if exists else None
        except FeedsiftError:
            outcomes, feeds = {}, None
        polls = CounterMetricFamily(
            "feedsift_poll_outcomes", "Feed polls by outcome (ok, not_modified, error, gone), by the poll "
            "worker and the API alike, as counted in the feed registry.", labels=["outcome"],
        )
        for outcome in POLL_OUTCOMES:
            polls.add_metric([outcome], outcomes.get(outcome, 0))
        yield polls
        if feeds is None:
            return
        states = {"ok": 0, "failing": 0, "disabled": 0, "never_polled": 0}
        for feed in feeds:
            if not feed.enabled:
                states["disabled"] += 1
            elif feed.consecutive_failures:
                states["failing"] += 1
            elif feed.last_polled is None:
                states["never_polled"] += 1
            else:
                states["ok"] += 1
        family = GaugeMetricFamily(
            "feedsift_feeds", "Registered feeds by the outcome of their last polls.", labels=["state"]
        )
        for state, count in states.items():
            family.add_metric([state], count)
        yield family


def render(index: Engine, index_dir: Path) -> bytes:
    """Return the Prometheus text exposition of every worker's counters and this worker's index gauges."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(IndexCollector(index, index_dir))
    return generate_latest(registry)
