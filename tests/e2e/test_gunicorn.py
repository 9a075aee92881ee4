"""End to end: real gunicorn with two workers over an index built by the real CLI, updated while it serves."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.gunicorn import Server, feedsift, gunicorn, sample_env

# The access log line carries the worker's pid, so the test can tell which worker answered.
ACCESS_FORMAT = 'pid=%(p)s "%(r)s" %(s)s'
PROBE_LINE = re.compile(r'pid=<?(\d+)>? "GET /v1/search\?q=quasar&per_page=1&page=(\d+) ')
NEW_ITEM = {
    "id": "e2e-quasar-001",
    "title": "Quasar Variability Mapped With Zwicky Photometry",
    "summary": "A brand-new item added while the server runs: quasar light curves from nightly photometry.",
    "link": "https://e2e.example.org/quasar",
    "source": "E2E Feed",
    "published": "2026-06-01T12:00:00Z",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Serve an index of the samples, built by the CLI, from gunicorn with two workers; stop it by pid."""
    env = sample_env(tmp_path)
    with gunicorn(env, tmp_path / "gunicorn.log", args=("--access-logformat", ACCESS_FORMAT)) as srv:
        yield srv


def answered_by(server: Server, markers: set[int], wait: float = 2.0) -> dict[int, str]:
    """Return {page marker: worker pid} for the probe requests, waiting a little for their log lines."""
    deadline = time.monotonic() + wait
    while True:
        found = {int(m.group(2)): m.group(1) for m in PROBE_LINE.finditer(server.log_text())}
        if markers <= found.keys() or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_gunicorn_serves_and_sees_new_items_within_two_seconds(server: Server, tmp_path: Path) -> None:
    status, body = server.get("/v1/search?q=reinforcement+learning")
    assert status == 200
    assert body["total"] > 0 and "<mark>" in body["hits"][0]["highlights"]["title"]
    assert body["facets"]["source"]
    status, body = server.get("/v1/items/nope")
    assert status == 404 and body["type"] == "/problems/not-found"
    status, body = server.get("/v1/search?q=%22unbalanced")
    assert status == 400 and body["type"] == "/problems/invalid-query"
    assert server.get("/v1/search?q=quasar")[1]["total"] == 0

    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps(NEW_ITEM) + "\n", "utf-8")
    feedsift("add", "--index", str(server.index_dir), str(new), env=server.env)
    committed = time.monotonic()

    # Each probe carries a distinct page number (with per_page=1 the total is unaffected), so the access
    # log tells which worker answered it. Probe until both workers have answered with the new item.
    # Probes go two at a time: while one worker is busy the other must accept, whereas sequential probes
    # from one client can all land on the same worker.
    results: dict[int, tuple[float, int]] = {}

    def probe(m: int) -> tuple[int, float, int]:
        sent = time.monotonic() - committed
        status, body = server.get(f"/v1/search?q=quasar&per_page=1&page={m}")
        assert status == 200
        return m, sent, body["total"]

    marker = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        while time.monotonic() - committed < 6.0:
            for m, sent, total in pool.map(probe, (marker + 1, marker + 2)):
                results[m] = (sent, total)
            marker += 2
            if marker % 10 == 0:
                workers = answered_by(server, set(), wait=0)
                fresh = {workers.get(m) for m, (_, total) in results.items() if total == 1}
                if len(fresh - {None}) >= 2:
                    break
            time.sleep(0.02)
    workers = answered_by(server, set(results))
    per_worker: dict[str, list[tuple[float, int]]] = {}
    for m, result in results.items():
        per_worker.setdefault(workers.get(m, "no log line"), []).append(result)
    assert len(per_worker) == 2, f"expected two workers to answer, got {per_worker.keys()}"
    for pid, answers in per_worker.items():
        stale = [sent for sent, total in answers if total == 0]
        assert not stale or max(stale) < 2.0, f"worker {pid} missed the new item {max(stale):.2f} s after"
        assert any(total == 1 for _, total in answers), f"worker {pid} never found the new item"
    status, body = server.get("/v1/search?q=quasar")
    assert body["hits"][0]["id"] == NEW_ITEM["id"]
    assert server.get(f"/v1/items/{NEW_ITEM['id']}")[1]["title"] == NEW_ITEM["title"]
