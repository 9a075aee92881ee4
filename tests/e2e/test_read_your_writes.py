"""End to end: once a write over HTTP has been answered, every gunicorn worker's next request sees it.

Two workers over an index built by the real CLI, with a reopen interval of a minute, so only the
index's ``changed`` stamp (moved by every writer as it lets go of the lock) can make the other worker
see a write within the test; the interval alone would leave it serving its old view.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.gunicorn import Server, gunicorn, sample_env

TOKEN = "read-your-writes-0123456789abcdef"
ACCESS_FORMAT = 'pid=%(p)s "%(r)s" %(s)s'
PROBE_LINE = re.compile(r'pid=<?(\d+)>? "GET /v1/items/ryw-item ')
ITEM = {"id": "ryw-item", "title": "Quasar variability in nightly photometry",
        "link": "https://ryw.example.org/quasar", "summary": "Written over HTTP, read right after."}
ROUNDS = 3
PROBES = 8


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = sample_env(tmp_path, FEEDSIFT_API_TOKEN=TOKEN, FEEDSIFT_REOPEN_INTERVAL="60")
    with gunicorn(env, tmp_path / "gunicorn.log", args=("--access-logformat", ACCESS_FORMAT)) as srv:
        yield srv


def send(server: Server, method: str, path: str, body: Any = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def probe_all(server: Server) -> list[int]:
    """GET the item from ``PROBES`` threads at once; return the statuses."""
    def get(_: int) -> int:
        return server.fetch("/v1/items/ryw-item")[0]

    with ThreadPoolExecutor(max_workers=PROBES) as pool:
        return list(pool.map(get, range(PROBES)))


def warm_up(server: Server) -> None:
    """Make both workers open their view of the index before the writes, as a busy server has."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        pages = (f"/v1/search?q=galaxy&per_page=1&page={n}" for n in range(1, 25))
        statuses = list(pool.map(lambda path: server.fetch(path)[0], pages))
    assert set(statuses) == {200}


def test_every_worker_sees_a_post_and_a_delete_on_its_next_request(server: Server) -> None:
    warm_up(server)
    statuses_after: dict[int, list[int]] = {}
    round_no = 0
    for _ in range(ROUNDS):
        round_no += 1
        assert send(server, "POST", "/v1/items", [ITEM]) == 200
        statuses_after[round_no] = probe_all(server)
        round_no += 1
        assert send(server, "DELETE", "/v1/items/ryw-item") == 204
        statuses_after[round_no] = probe_all(server)

    for n, statuses in statuses_after.items():
        expected = 200 if n % 2 else 404
        assert statuses == [expected] * PROBES, f"round {n}: {statuses}"

    # Both workers answered probes, so the other worker's next request saw each write too.
    deadline = time.monotonic() + 2
    while True:
        pids = {m.group(1) for m in PROBE_LINE.finditer(server.log_text())}
        lines = len(PROBE_LINE.findall(server.log_text()))
        if lines == ROUNDS * 2 * PROBES or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(pids) == 2, f"probes were answered by {pids}"
