"""The SQLite FTS5 peer engine that the speed benchmark measures feedsift against on the same corpus."""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType
from typing import TypedDict

from bench.corpus import Item, SearchParams, generate_items, generate_queries

TOP = 10
_BATCH = 1000
# Title matches weigh twice summary matches: the benchmark's stand-in for feedsift's title boost.
_RANK = "bm25(items, 2.0, 1.0)"
_TERMS = re.compile(r'"([^"]*)"|([^\s"]+)')
_WORD_CHAR = re.compile(r"\w")

# Filter and facet columns live in a narrow table apart from the text: counting facets looks up every
# match's row, and narrow rows halve that cost at 10k items.
_SCHEMA = """
CREATE TABLE docs (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    published TEXT NOT NULL,
    month TEXT NOT NULL
);
CREATE TABLE texts (
    rowid INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    link TEXT NOT NULL,
    authors TEXT NOT NULL,
    tags TEXT NOT NULL
);
CREATE VIRTUAL TABLE items USING fts5(
    title, summary, content='texts', content_rowid='rowid', tokenize='porter unicode61'
);
"""
# Covering indexes: browsing and date filters read (published, source, month) without touching rows,
# and source filters likewise through (source, published, month).
_INDEXES = """
CREATE INDEX docs_published ON docs (published, source, month);
CREATE INDEX docs_source ON docs (source, published, month);
"""


class PeerResult(TypedDict):
    """One peer search's answer: exact total, top hits as (id, score), facet counts over all matches."""

    total: int
    hits: list[tuple[str, float]]
    sources: dict[str, int]
    months: dict[str, int]


class Fts5Peer:
    """An FTS5 index of a feed corpus in a file database, searched with feedsift's query parameters."""

    def __init__(self, directory: Path | None = None) -> None:
        self._owned = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="fts5peer-")) if directory is None else directory
        self.path = self.directory / "peer.sqlite3"
        self._db = sqlite3.connect(self.path)

    def build(self, items: Iterable[Item]) -> tuple[float, int]:
        """Index ``items`` and return (items per second, database size in bytes).

        Only database work is timed: items are pulled from the iterable in batches outside the clock, so a
        generator's own cost does not count against the engine.
        """
        db = self._db
        # The database is disposable, so a bulk load need not survive a crash mid-build.
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.executescript(_SCHEMA)
        it = iter(items)
        count, elapsed = 0, 0.0
        while batch := list(itertools.islice(it, _BATCH)):
            rowids = range(count + 1, count + len(batch) + 1)
            docs = [
                (r, i["id"], i["source"], i["published"], i["published"][:7])
                for r, i in zip(rowids, batch, strict=True)
            ]
            texts = [
                (r, i["title"], i["summary"], i["link"], "\x1f".join(i["authors"]), "\x1f".join(i["tags"]))
                for r, i in zip(rowids, batch, strict=True)
            ]
            started = time.perf_counter()
            db.executemany(
                "INSERT INTO docs (rowid, id, source, published, month) VALUES (?, ?, ?, ?, ?)", docs
            )
            db.executemany(
                "INSERT INTO texts (rowid, title, summary, link, authors, tags) VALUES (?, ?, ?, ?, ?, ?)",
                texts,
            )
            elapsed += time.perf_counter() - started
            count += len(batch)
        started = time.perf_counter()
        # One rebuild from the content table is faster than keeping the index current row by row, and
        # 'optimize' merges its segments into one b-tree, as a freshly built Whoosh index has one segment.
        db.execute("INSERT INTO items (items) VALUES ('rebuild')")
        db.execute("INSERT INTO items (items) VALUES ('optimize')")
        db.executescript(_INDEXES)
        db.execute("ANALYZE")
        db.commit()
        elapsed += time.perf_counter() - started
        return count / elapsed if elapsed else 0.0, self.path.stat().st_size

    def search(self, params: SearchParams) -> PeerResult:
        """Run one /v1/search parameter dict: any word matches, items with every word rank first.

        With ``match=all`` only items with every word match (FTS5's implicit AND), ranked by ``bm25()``.
        """
        where, args = _filters(params)
        any_expr, all_expr = _match(params.get("q", ""))
        if params.get("match") == "all" and all_expr is not None:
            any_expr, all_expr = all_expr, None
        order_args: list[str] = []
        if any_expr is None:
            from_sql = "FROM docs d" + (" WHERE " + " AND ".join(where) if where else "")
            top_sql = f"SELECT d.id, 0.0 {from_sql} ORDER BY d.published DESC LIMIT {TOP}"
        else:
            where = ["items MATCH ?", *where]
            args = [any_expr, *args]
            from_sql = "FROM items JOIN docs d ON d.rowid = items.rowid WHERE " + " AND ".join(where)
            if params.get("sort") == "newest":
                order = "d.published DESC"
            elif all_expr is not None:
                order = "items.rowid IN (SELECT rowid FROM items WHERE items MATCH ?) DESC, score DESC"
                order_args = [all_expr]
            else:
                order = "score DESC"
            # bm25 is lower-is-better; negated it reads like feedsift's higher-is-better scores.
            top_sql = f"SELECT d.id, -{_RANK} AS score {from_sql} ORDER BY {order} LIMIT {TOP}"
        hits = [(str(i), float(s)) for i, s in self._db.execute(top_sql, args + order_args)]
        total = 0
        sources: dict[str, int] = {}
        months: dict[str, int] = {}
        # One pass over the match set yields the total and both facets.
        for source, month, n in self._db.execute(
            f"SELECT d.source, d.month, count(*) {from_sql} GROUP BY d.source, d.month", args
        ):
            total += n
            sources[source] = sources.get(source, 0) + n
            months[month] = months.get(month, 0) + n
        by_count = dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0])))
        return PeerResult(total=total, hits=hits, sources=by_count, months=dict(sorted(months.items())))

    def close(self) -> None:
        """Close the database and delete its directory if this peer created it."""
        self._db.close()
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Fts5Peer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _quote(text: str) -> str | None:
    """Return ``text`` as an FTS5 string, so no user input is read as query syntax; None if it has no word."""
    if not _WORD_CHAR.search(text):
        return None
    return '"' + text.replace('"', '""') + '"'


def _match(q: str) -> tuple[str | None, str | None]:
    """Translate q into (any-term MATCH expression, all-terms expression or None when there is one term).

    Quoted spans become FTS5 phrases, other whitespace-separated words become single-term strings, and an
    unbalanced quote is dropped; (None, None) means q has no searchable words and the search is a browse.
    """
    terms = [t for p, w in _TERMS.findall(q) if (t := _quote(p or w)) is not None]
    unique = list(dict.fromkeys(terms))
    if not unique:
        return None, None
    return " OR ".join(unique), (" AND ".join(unique) if len(unique) > 1 else None)


def _filters(params: SearchParams) -> tuple[list[str], list[str]]:
    """Translate source, since and until into SQL conditions on ``docs d`` and their arguments."""
    where: list[str] = []
    args: list[str] = []
    if sources := params.get("source"):
        where.append("d.source IN (" + ", ".join("?" * len(sources)) + ")")
        args += sources
    if since := params.get("since"):
        where.append("d.published >= ?")
        args.append(since)
    if until := params.get("until"):
        # A bare date is inclusive, so it means "before the next day" on ISO strings.
        bound = (date.fromisoformat(until) + timedelta(days=1)).isoformat() if len(until) == 10 else until
        where.append("d.published < ?" if len(until) == 10 else "d.published <= ?")
        args.append(bound)
    return where, args


def main(argv: list[str] | None = None) -> int:
    """Build the peer on a generated corpus, run the query set, and print build rate, size and latency."""
    parser = argparse.ArgumentParser(prog="python -m bench.fts5_peer", description=main.__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args(argv)
    queries = generate_queries(args.queries)
    with Fts5Peer() as peer:
        rate, size = peer.build(generate_items(args.items, args.seed))
        # A first pass warms SQLite's page cache, so the timed pass measures a running service.
        for params in queries:
            peer.search(params)
        times = []
        for params in queries:
            started = time.perf_counter()
            peer.search(params)
            times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    print(f"items={args.items} build={rate:,.0f} items/s size={size / 1e6:.1f} MB")
    print(f"queries={len(queries)} p50={cuts[49]:.2f} ms p95={cuts[94]:.2f} ms max={max(times):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
