"""End to end: /metrics through two real gunicorn workers counts every request, whichever worker took it."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.gunicorn import Server, gunicorn, sample_env

ACCESS_FORMAT = 'pid=%(p)s "%(r)s" %(s)s'
PROBE = re.compile(r'pid=<?(\d+)>? "GET /v1/search\?q=learning&page=\d+')


def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body, headers = server.fetch("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode("utf-8"))
        for sample in family.samples
    }


def requests_of(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], endpoint: str,
                status: str) -> float:
    key = ("feedsift_http_requests_total", (("endpoint", endpoint), ("method", "GET"), ("status", status)))
    return samples.get(key, 0.0)


def test_metrics_add_up_every_worker(tmp_path: Path) -> None:
    env = sample_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    (tmp_path / "metrics").mkdir()
    with gunicorn(env, tmp_path / "gunicorn.log", args=("--access-logformat", ACCESS_FORMAT)) as server:
        before = scrape(server)
        # Concurrent requests, so that while one worker is busy the other must accept: sequential ones
        # from a single client can all land on the same worker. Batches go on until both have answered.
        searches, missing = 0, 7
        with ThreadPoolExecutor(max_workers=4) as pool:
            while searches < 400:
                pages = range(searches + 1, searches + 21)
                statuses = list(pool.map(lambda n: server.fetch(f"/v1/search?q=learning&page={n}")[0], pages))
                assert statuses == [200] * len(pages)
                searches += len(pages)
                if len(set(PROBE.findall(server.log_text()))) >= 2:
                    break
        for _ in range(missing):
            assert server.fetch("/v1/items/nope")[0] == 404
        deadline = time.monotonic() + 3
        while len(set(PROBE.findall(server.log_text()))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = set(PROBE.findall(server.log_text()))
        assert len(workers) == 2, f"both workers should have answered searches, got {workers}"
        after = scrape(server)

    assert requests_of(after, "/v1/search", "200") - requests_of(before, "/v1/search", "200") == searches
    assert requests_of(after, "/v1/items/<item_id>", "404") - requests_of(before, "/v1/items/<item_id>",
                                                                          "404") == missing
    # The first scrape is counted too, once it has been answered.
    assert requests_of(after, "/metrics", "200") - requests_of(before, "/metrics", "200") == 1
    latency = ("feedsift_http_request_duration_seconds_count", (("endpoint", "/v1/search"),))
    assert after[latency] - before.get(latency, 0.0) == searches
    assert after[("feedsift_index_items", ())] > 0
    assert after[("feedsift_index_up", ())] == 1
    # Each worker keeps its counts in its own file; the scrape added them up.
    assert len(list((tmp_path / "metrics").glob("counter_*.db"))) >= 2
