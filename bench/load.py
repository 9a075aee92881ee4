"""The HTTP side of the speed benchmark: a real gunicorn over a built index and a bounded load generator.

``python bench/load.py [--items 10000] [--requests 400] [--concurrency 1 16 64]`` builds a seeded corpus
index in a temporary directory, serves it with gunicorn (two workers of ``gunicorn.conf.py``'s threads)
and drives it; ``--url`` drives a server that is already running instead. The load is a fixed number of
requests from a mixed list (searches with the benchmark's query parameters, item lookups, similar items,
browsing by newest), sent over http.client connections held by stdlib threads. The client asks for
keep-alive, which the threaded workers keep for a few seconds between requests.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.corpus import SOURCES, SearchParams, generate_items, generate_queries, write_jsonl

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONCURRENCY = (1, 16, 64)
DEFAULT_REQUESTS = 400
# Shares of the mixed request list; searches dominate, as on a search service's front page.
MIX = (("search", 0.70), ("item", 0.12), ("similar", 0.06), ("browse", 0.12))
REQUEST_TIMEOUT = 30.0
START_TIMEOUT = 60.0


@dataclass
class LoadResult:
    """What one load level measured: latencies of answered requests, failures, and the wall time taken."""

    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    timeouts: int = 0
    resets: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Answered requests per second of wall time."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Return the p-th percentile latency in ms (nan when nothing was answered)."""
        return float(np.percentile(self.latencies_ms, p)) if self.latencies_ms else float("nan")


@dataclass
class Memory:
    """One process's memory from /proc/<pid>/smaps_rollup, in MB."""

    pid: int
    rss: float
    pss: float
    private: float
    # Memory no file backs (heap, arrays built at start): what the process alone holds, whatever the
    # page cache does; private also counts mapped index pages no other worker has touched yet.
    anonymous: float = 0.0


def search_path(params: SearchParams) -> str:
    """Return the /v1/search path with these parameters (``source`` repeated, as the API takes lists)."""
    pairs: list[tuple[str, str]] = [("q", params.get("q", ""))]
    pairs += [("source", s) for s in params.get("source", [])]
    for key in ("since", "until", "sort"):
        value = params.get(key)
        if isinstance(value, str) and value:
            pairs.append((key, value))
    return "/v1/search?" + urlencode(pairs)


def mixed_requests(n: int, queries: Sequence[SearchParams], ids: Sequence[str], seed: int) -> list[str]:
    """Return n request paths in the MIX shares, searches taken from ``queries`` in order, seeded."""
    rng = random.Random(seed)
    kinds = [kind for kind, share in MIX for _ in range(round(n * share))]
    kinds = (kinds + ["search"] * n)[:n]
    rng.shuffle(kinds)
    paths: list[str] = []
    searched = 0
    for kind in kinds:
        if kind == "search":
            paths.append(search_path(queries[searched % len(queries)]))
            searched += 1
        elif kind == "item":
            paths.append(f"/v1/items/{rng.choice(ids)}")
        elif kind == "similar":
            paths.append(f"/v1/items/{rng.choice(ids)}/similar")
        else:
            browse: list[tuple[str, str]] = [("sort", "newest")]
            if rng.random() < 0.5:
                browse.append(("source", rng.choice(SOURCES)))
            if rng.random() < 0.3:
                browse.append(("page", str(rng.randint(2, 5))))
            paths.append("/v1/search?" + urlencode(browse))
    return paths


def run_load(host: str, port: int, paths: Sequence[str], concurrency: int,
             timeout: float = REQUEST_TIMEOUT) -> LoadResult:
    """Send every path once over ``concurrency`` connections, each request as soon as one is free."""
    lock = threading.Lock()
    todo = iter(paths)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    statuses: dict[int, int] = {}
    failures = {"errors": 0, "timeouts": 0, "resets": 0}
    start = threading.Barrier(concurrency + 1)

    def next_path() -> str | None:
        with lock:
            return next(todo, None)

    def count(key: str) -> None:
        with lock:
            failures[key] += 1

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        start.wait()
        while (path := next_path()) is not None:
            began = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Connection": "keep-alive"})
                response = conn.getresponse()
                response.read()
            except TimeoutError:
                count("timeouts")
                conn.close()
                continue
            except (ConnectionResetError, BrokenPipeError):
                # A server that refuses work by closing connections (a full accept queue, a killed
                # worker): counted on its own, and as an error.
                count("resets")
                count("errors")
                conn.close()
                continue
            except (OSError, http.client.HTTPException):
                count("errors")
                conn.close()
                continue
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status != 200:
                    failures["errors"] += 1
            if response.status == 200:
                latencies[slot].append(elapsed)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return LoadResult(
        concurrency=concurrency,
        requests=len(paths),
        seconds=seconds,
        latencies_ms=[x for slot in latencies for x in slot],
        errors=failures["errors"],
        timeouts=failures["timeouts"],
        resets=failures["resets"],
        statuses=statuses,
    )


def get(host: str, port: int, path: str, timeout: float = 10.0) -> int:
    """Return the status of one GET, reading and dropping the body."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A gunicorn serving feedsift, started by :func:`serve`."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    healthy_after: float = 0.0

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the server's log, for error messages."""
        text = self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def workers(self) -> list[int]:
        """Return the pids of the master's worker processes."""
        master = self.process.pid
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # The command name in parentheses may hold spaces; the parent pid is the second field after it.
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry))
        return sorted(pids)


@contextmanager
def serve(index_dir: Path, log: Path, *, workers: int = 2, start_timeout: float = START_TIMEOUT,
          extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """Run gunicorn over ``index_dir`` until the block ends, then stop it by pid.

    The log goes to a file: an unread pipe can fill and block the server.
    """
    port = free_port()
    env = {**os.environ, "FEEDSIFT_INDEX_DIR": str(index_dir), "WEB_CONCURRENCY": str(workers),
           **(extra_env or {})}
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--access-logfile", "-", "--error-logfile", "-",
             "service.app:create_app()"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server("127.0.0.1", port, process, log, started)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if get(server.host, port, "/healthz", timeout=2) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn did not answer /healthz in {start_timeout:g} s:\n{server.log_tail()}"
                )
            time.sleep(0.02)
        server.healthy_after = time.perf_counter() - started
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def first_answer(server: Server, path: str, timeout: float = START_TIMEOUT) -> tuple[int, float]:
    """Send ``path`` until it is answered; return (status, seconds from the server's start to the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = get(server.host, server.port, path, timeout=timeout)
            return status, time.perf_counter() - server.started
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def open_every_worker(server: Server, rounds: int = 24) -> None:
    """Make each worker open its index before the load, as a readiness probe would.

    Sync workers take one connection each, so a few rounds of concurrent probes reach both.
    """
    run_load(server.host, server.port, ["/readyz"] * rounds, concurrency=4)


def memory(pid: int) -> Memory:
    """Return a process's RSS, PSS and private (clean + dirty) memory in MB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0])
    mb = 1024.0
    return Memory(pid, fields.get("Rss", 0) / mb, fields.get("Pss", 0) / mb,
                  (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / mb,
                  fields.get("Anonymous", 0) / mb)


def format_results(results: Sequence[LoadResult]) -> str:
    """Return the load levels as a markdown table."""
    lines = [
        "| connections | requests | req/s | p50 ms | p95 ms | p99 ms | errors | timeouts | resets "
        "| statuses |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(r.statuses.items()))
        lines.append(
            f"| {r.concurrency} | {r.requests} | {r.rate:,.0f} | {r.percentile(50):.1f} | "
            f"{r.percentile(95):.1f} | {r.percentile(99):.1f} | {r.errors} | {r.timeouts} | {r.resets} | "
            f"{statuses} |"
        )
    return "\n".join(lines)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``finally`` blocks still stop the gunicorn a run started."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    """Drive a feedsift server with the mixed request list at each concurrency and print a table."""
    parser = argparse.ArgumentParser(prog="python bench/load.py", description=main.__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="corpus size when starting a server")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="requests per level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--url", help="an already running server (http://host:port); else one is started")
    args = parser.parse_args(argv)
    ids = [item["id"] for item in generate_items(min(args.items, 2000), args.seed)]
    if args.url:
        parts = urlsplit(args.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        for level, concurrency in enumerate(args.concurrency):
            paths = mixed_requests(args.requests, generate_queries(500, seed=100 + level), ids, seed=level)
            print(format_results([run_load(host, port, paths, concurrency)]))
        return 0
    # Imported here so that driving a remote server needs nothing of the engine.
    from index.ingest.load import load_input
    from index.search.whoosh.store import IndexStore
    from index.search.whoosh.writer import write_items

    with tempfile.TemporaryDirectory(prefix="feedsift-load-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus.jsonl"
        write_jsonl(corpus, args.items, args.seed)
        print(f"indexing {args.items:,} items ...", file=sys.stderr)
        write_items(IndexStore(work / "index"), load_input(str(corpus)).items)
        with serve(work / "index", work / "gunicorn.log") as server:
            status, after = first_answer(server, "/v1/search?q=learning")
            if status != 200:
                print(f"/v1/search answered {status}: the app does not serve search yet", file=sys.stderr)
                return 1
            open_every_worker(server)
            results = []
            for level, concurrency in enumerate(args.concurrency):
                queries = generate_queries(500, seed=100 + level)
                paths = mixed_requests(args.requests, queries, ids, seed=level)
                results.append(run_load(server.host, server.port, paths, concurrency))
            mem = [memory(pid) for pid in server.workers()]
        print(format_results(results))
        print(f"first answered query {after:.2f} s after start; per worker " + ", ".join(
            f"RSS {m.rss:.0f} / PSS {m.pss:.0f} / private {m.private:.0f} / anonymous {m.anonymous:.0f} MB"
            for m in mem))
    return 0


if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
