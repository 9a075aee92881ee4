"""A write over HTTP that the disk refuses is a 503 problem with Retry-After, and nothing is lost.

A real gunicorn serves an index on a tmpfs of this test's own (8 MiB): filled up (ENOSPC), then
remounted read-only (EROFS). Mounting needs root and CAP_SYS_ADMIN; where it is refused the test skips
and says why. gunicorn runs in its own process, so Whoosh's leftover file objects from the failed
commit never meet this process's ``-W error``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.disks import fill, tmpfs
from tests.support.gunicorn import Server, gunicorn, sample_env

TOKEN = "disk-full-token-0123456789abcdef"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs of this test's own (skipped, saying why, where mounting is refused)."""
    with tmpfs(tmp_path / "fs") as mount_point:
        yield mount_point


def send(server: Server, method: str, path: str,
         body: Any = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}, dict(response.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read()), dict(exc.headers)


def batch(start: int, count: int = 200) -> list[dict[str, str]]:
    return [{"id": f"full-{n}", "title": f"telescope item {n}", "link": f"https://example.org/{n}",
             "summary": " ".join(f"word{n}x{k}" for k in range(150))} for n in range(start, start + count)]


def assert_not_writable(status: int, body: dict[str, Any], headers: dict[str, str], path: str) -> None:
    assert status == 503, body
    assert headers["Content-Type"] == "application/problem+json"
    assert body["type"] == "/problems/index-not-writable" and body["instance"] == path
    assert int(headers["Retry-After"]) > 0
    # The index directory and the OS error are for the operator's log, never for the client.
    assert "/" not in body["detail"].replace("/problems", "") and "ENOSPC" not in body["detail"]


def test_a_full_or_read_only_disk_is_a_503_and_the_index_keeps_serving(disk: Path) -> None:
    env = sample_env(disk, FEEDSIFT_API_TOKEN=TOKEN)
    with gunicorn(env, disk.parent / "gunicorn.log", workers=1) as server:
        before = server.get("/v1/search?q=learning")[1]["total"]
        count = server.get("/readyz")[1]["items"]

        filler = fill(disk, leave=32 * 1024)
        status, body, headers = send(server, "POST", "/v1/items", batch(0))
        assert_not_writable(status, body, headers, "/v1/items")
        assert server.get("/v1/search?q=learning")[1]["total"] == before
        assert server.get("/readyz")[1]["items"] == count
        assert "index not writable" in server.log_text() and "No space left on device" in server.log_text()

        filler.unlink()
        status, body, _ = send(server, "POST", "/v1/items", batch(0, 5))
        assert status == 200 and body["added"] == 5, body

        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            status, body, headers = send(server, "POST", "/v1/items", batch(100, 5))
            assert_not_writable(status, body, headers, "/v1/items")
            status, body, headers = send(server, "DELETE", "/v1/items/full-1")
            assert_not_writable(status, body, headers, "/v1/items/full-1")
            assert server.get("/v1/items/full-1")[0] == 200
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        status, _, _ = send(server, "DELETE", "/v1/items/full-1")
        assert status == 204
