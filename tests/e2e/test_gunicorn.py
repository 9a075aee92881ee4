"""End to end: real gunicorn with two workers over an index built by the real CLI, updated while it serves."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.indexes import SAMPLE_FILES
from tests.support.paths import REPO

BIN = Path(sys.executable).parent
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def feedsift(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([str(BIN / "feedsift"), *args], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


@dataclass
class Server:
    base: str
    log: Path
    index_dir: Path
    env: dict[str, str]

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.load(exc)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Serve an index of the samples, built by the CLI, from gunicorn with two workers; stop it by pid."""
    index_dir = tmp_path / "index"
    env = {**os.environ, "FEEDSIFT_INDEX_DIR": str(index_dir), "FEEDSIFT_REOPEN_INTERVAL": "0.5"}
    feedsift("add", "--index", str(index_dir), *map(str, SAMPLE_FILES), env=env)
    port = free_port()
    srv = Server(f"http://127.0.0.1:{port}", tmp_path / "gunicorn.log", index_dir, env)
    # A file, not a pipe: nobody reads a pipe while the test runs, and a full one would block the server.
    with srv.log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--access-logformat", ACCESS_FORMAT,
             # Concurrent runs would otherwise share one control socket in $HOME.
             "--no-control-socket", "service.app:create_app()"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, srv.log_text()
            try:
                if srv.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz:\n" + srv.log_text()
            time.sleep(0.1)
        yield srv
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
    results: dict[int, tuple[float, int]] = {}
    marker = 0
    while time.monotonic() - committed < 6.0:
        marker += 1
        sent = time.monotonic() - committed
        status, body = server.get(f"/v1/search?q=quasar&per_page=1&page={marker}")
        assert status == 200
        results[marker] = (sent, body["total"])
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
