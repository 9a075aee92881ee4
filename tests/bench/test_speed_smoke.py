"""A smoke run of bench/speed.py at 1k items, so the speed harness cannot rot outside `make bench`."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from bench import load, speed
from bench.corpus import generate_queries
from index.ingest.jsonl import parse_record

IN_PROCESS_ROWS = [
    "indexing (JSONL ingest + write_items)",
    "indexing (write_items / peer db work only)",
    "index size",
    "open + first query",
    *(f"{m} {p}" for m in ("search", "search repeat (seen queries)", "search all words (match=all)", "get")
      for p in ("p50", "p95", "p99")),
]
FEEDSIFT_ONLY_ROWS = [f"similar {p}" for p in ("p50", "p95", "p99")]
CONNECTIONS = (1, 4)
HTTP_ROWS = [
    "HTTP start to first answered query",
    *(f"HTTP {c} conn {m}" for c in CONNECTIONS for m in ("req/s", "p50", "p95", "p99")),
    "worker RSS (largest)",
    "worker PSS (largest)",
    "worker private (largest)",
    "worker anonymous (largest)",
]
ZERO_ROWS = [
    "search query errors",
    *(f"HTTP {c} conn {m}" for c in CONNECTIONS for m in ("errors", "timeouts")),
]


def table_rows(text: str) -> dict[str, list[str]]:
    """Return {measure: cells} of every data row of the report's tables."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("measure", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def number(cell: str) -> float:
    return float(cell.replace(",", "")) if cell else math.nan


@pytest.mark.timeout(120)
def test_speed_harness_reports_every_row_at_1k_items(tmp_path: Path) -> None:
    out = tmp_path / "BENCH.md"
    speed.main([
        "--items", "1000", "--runs", "1", "--queries", "30", "--lookups", "20", "--http",
        "--http-requests", "40", "--concurrency", *map(str, CONNECTIONS),
        "--workdir", str(tmp_path / "work"), "--out", str(out),
    ])
    text = out.read_text("utf-8")
    assert "- command: `python bench/speed.py --items 1000" in text
    assert "- machine: " in text and "Python 3." in text
    rows = table_rows(text)
    served = "HTTP skipped" not in text
    for label in IN_PROCESS_ROWS:
        unit, runs, ours, _, peer, _, ratio = rows[label]
        assert runs == "1", label
        assert number(ours) > 0 and number(peer) > 0 and number(ratio) > 0, (label, rows[label])
    for label in FEEDSIFT_ONLY_ROWS + (HTTP_ROWS if served else []):
        assert number(rows[label][2]) > 0, (label, rows[label])
    for label in ZERO_ROWS if served else ZERO_ROWS[:1]:
        assert number(rows[label][2]) == 0, (label, rows[label])


def test_mixed_requests_follow_the_mix_and_are_deterministic() -> None:
    queries = generate_queries(50, seed=3)
    paths = load.mixed_requests(200, queries, ["a1", "b2"], seed=1)
    assert paths == load.mixed_requests(200, queries, ["a1", "b2"], seed=1)
    assert len(paths) == 200
    similar = sum(p.endswith("/similar") for p in paths)
    items = sum(p.startswith("/v1/items/") for p in paths) - similar
    assert (items, similar) == (24, 12)
    assert sum(p.startswith("/v1/search?q=") for p in paths) == 140
    assert load.search_path({"q": "a b", "source": ["src1", "src2"], "since": "2024-01-01"}) == (
        "/v1/search?q=a+b&source=src1&source=src2&since=2024-01-01"
    )


def test_a_corpus_with_copies_measures_search_both_ways(tmp_path: Path) -> None:
    items = list(speed.corpus_items(5000, 0.2))
    parsed = [parse_record(dict(item)) for item in items]
    works = Counter(item.work for item in parsed if not isinstance(item, str))
    in_copies = sum(n for n in works.values() if n > 1)
    assert len(items) == len({i["id"] for i in items}) == sum(works.values()) == 5000
    assert 0.17 < in_copies / 5000 < 0.23 and max(works.values()) == 4
    out = tmp_path / "BENCH.md"
    speed.main(["--items", "1000", "--runs", "2", "--queries", "20", "--lookups", "10", "--copies", "0.2",
                "--workdir", str(tmp_path / "work"), "--out", str(out)])
    rows = table_rows(out.read_text("utf-8"))
    for p in ("p50", "p95", "p99"):
        assert number(rows[f"search, every copy (collapse=false) {p}"][2]) > 0
    assert "about 20% of the items are copies of one work" in out.read_text("utf-8")


def test_the_fts5_peer_answers_all_words_with_its_implicit_and(tmp_path: Path) -> None:
    from bench.corpus import generate_items
    from bench.fts5_peer import Fts5Peer

    with Fts5Peer(tmp_path) as peer:
        peer.build(generate_items(400, 5))
        one = peer.search({"q": "learning"})
        assert peer.search({"q": "learning", "match": "all"}) == one  # one word: both modes agree
        both = peer.search({"q": "learning model", "match": "all"})
        either = peer.search({"q": "learning model"})
        learning, model = one["total"], peer.search({"q": "model"})["total"]
        assert 0 < both["total"] < min(learning, model) and either["total"] > max(learning, model)
