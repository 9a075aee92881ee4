"""A smoke run of bench/large.py at 500 items, so the by-hand 1M harness cannot rot between the runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import large
from bench.corpus import generate_items, generate_queries
from tests.bench.test_speed_smoke import CONNECTIONS, HTTP_ROWS, ZERO_ROWS, number, table_rows

ITEMS = 500
ROWS = [
    "build (feedsift add, wall clock)",
    "build rate",
    "index size (live generation)",
    "segments after the build",
    "open + first query",
    "items in the index",
    "suggest first call (loads the title tables)",
    *(f"{m} {p}" for m in ("search", "search all words (match=all)", "suggest", "similar")
      for p in ("p50", "p95", "p99")),
    "get p50",
    "get p95",
    "add 1,000 items (feedsift add, wall clock)",
    "items added (feedsift add's report)",
    "segments after the add",
    "items in the index after the add",
    "search after the add p50",
    "search after the add p95",
    *HTTP_ROWS,
]
GOALS = {
    "build (feedsift add, wall clock)": "≤ 15.0",
    "search p95": "≤ 150",
    "search after the add p95": "≤ 150",
    "add 1,000 items (feedsift add, wall clock)": "≤ 5.00",
}


@pytest.mark.timeout(120)
def test_large_harness_reports_every_row_at_500_items(tmp_path: Path) -> None:
    out = tmp_path / "BENCH.md"
    out.write_text("# feedsift benchmarks\n\n## Speed benchmark\n\nkept\n", encoding="utf-8")
    large.main([
        "--items", str(ITEMS), "--queries", "30", "--suggestions", "20", "--lookups", "10",
        "--http-requests", "30", "--concurrency", *map(str, CONNECTIONS),
        "--workdir", str(tmp_path / "work"), "--out", str(out),
    ])
    text = out.read_text("utf-8")
    assert "## Speed benchmark\n\nkept\n" in text, "--out replaced another section"
    assert "## Large index: 500 items (by hand)" in text
    assert "- command: `python bench/large.py --items 500" in text
    assert "- machine: " in text and "load average (1 min)" in text
    rows = table_rows(text)
    for label in ROWS:
        unit, value, _, _ = rows[label]
        assert math.isfinite(number(value)) and number(value) > 0, (label, rows[label])
    for label in ZERO_ROWS:
        assert number(rows[label][1]) == 0, (label, rows[label])
    for label, goal in GOALS.items():
        assert rows[label][2] == goal and rows[label][3] in ("yes", "no"), (label, rows[label])
    before = number(rows["items in the index"][1])
    added = number(rows["items added (feedsift add's report)"][1])
    assert (before, added) == (ITEMS, 1000)
    assert number(rows["items in the index after the add"][1]) == before + added


def test_added_items_are_new_and_suggest_prefixes_are_typed_words() -> None:
    corpus_ids = {item["id"] for item in generate_items(3000)}
    added = list(large.added_items(1000))
    assert len({item["id"] for item in added} - corpus_ids) == 1000
    prefixes = large.suggest_prefixes(generate_queries(100, seed=7), 40)
    assert len(prefixes) == len(set(prefixes)) == 40
    for prefix in prefixes:
        first, _, second = prefix.partition(" ")
        assert first.isalpha() and (second == "" or second.isalpha()), prefix
        assert 1 <= len(second or first) <= 5, prefix
