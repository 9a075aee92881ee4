"""A real gunicorn for end-to-end tests: a free port, a log file, ready once /healthz answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.indexes import SAMPLE_FILES
from tests.support.paths import REPO

BIN = Path(sys.executable).parent


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def feedsift(*args: str, env: Mapping[str, str]) -> None:
    """Run the feedsift command; fail the test with its stderr if it does not exit 0."""
    result = subprocess.run([str(BIN / "feedsift"), *args], env=dict(env), capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


@dataclass
class Server:
    """A running gunicorn: its base URL, log file, index directory and environment."""

    base: str
    log: Path
    index_dir: Path
    env: dict[str, str]

    def get(self, path: str) -> tuple[int, Any]:
        """GET ``path`` and return (status, parsed JSON body)."""
        status, body, _ = self.fetch(path)
        return status, json.loads(body)

    def fetch(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        """GET ``path`` and return (status, body bytes, headers)."""
        req = urllib.request.Request(self.base + path, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=5) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read(), dict(exc.headers)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


def sample_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Return an environment whose index is ``tmp_path/index``, built from the samples by the real CLI.

    The test process's own PROMETHEUS_MULTIPROC_DIR (service.metrics sets one) is not passed on, so
    the server counts only its own requests; pass one in ``extra`` to choose it.
    """
    index_dir = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"FEEDSIFT_INDEX_DIR": str(index_dir), "FEEDSIFT_REOPEN_INTERVAL": "0.5", **extra})
    feedsift("add", "--index", str(index_dir), *map(str, SAMPLE_FILES), env=env)
    return env


@contextmanager
def gunicorn(env: dict[str, str], log: Path, *, workers: int = 2,
             args: tuple[str, ...] = ()) -> Iterator[Server]:
    """Serve ``service.app:create_app()`` from gunicorn with ``env``; yield once /healthz answers."""
    port = free_port()
    srv = Server(f"http://127.0.0.1:{port}", log, Path(env["FEEDSIFT_INDEX_DIR"]), env)
    # A file, not a pipe: nobody reads a pipe while the test runs, and a full one would block the server.
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), *args,
             # Concurrent runs would otherwise share one control socket in $HOME.
             "--no-control-socket", "service.app:create_app()"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, srv.log_text()
            try:
                if srv.fetch("/healthz")[0] == 200:
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
