"""Suggestion latency, in process, over an index of the synthetic corpus: ``python -m bench.suggest_speed``.

Types each sampled title the way a person would, one more character at a time (1 to 12 characters
of its first words), and times ``GET /v1/suggest`` through Flask's test client, which includes
argument parsing and JSON. The first call after opening pays for reading the titles (once per
segment, see index/search/whoosh/suggest.py) and is reported apart.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from service.config import Settings

from bench.corpus import generate_items
from index.search.whoosh.reader import SearchIndex
from service.app import create_app
from service.engine import search_index


def typed_prefixes(n_items: int, samples: int, seed: int) -> list[str]:
    """Return what a person has typed on the way to some titles of the corpus."""
    rng = random.Random(seed)
    titles = [item["title"] for item in generate_items(min(n_items, 5000))]
    prefixes = []
    for title in rng.sample(titles, samples):
        for length in range(1, 13):
            prefixes.append(title[:length].lower())
    return prefixes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    """Measure suggestion latency over an existing index of the benchmark corpus."""
    parser = argparse.ArgumentParser(prog="python -m bench.suggest_speed", description=main.__doc__)
    parser.add_argument("--index", type=Path, required=True, help="an index built from bench.corpus")
    parser.add_argument("--samples", type=int, default=200, help="titles to type (12 prefixes each)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    items = SearchIndex(args.index).count()
    app = create_app(Settings(index_dir=args.index))
    client = app.test_client()
    started = time.perf_counter()
    assert client.get("/v1/suggest?q=a").status_code == 200
    cold = (time.perf_counter() - started) * 1000
    prefixes = typed_prefixes(items, args.samples, args.seed)
    times = []
    for text in prefixes:
        started = time.perf_counter()
        response = client.get("/v1/suggest", query_string={"q": text})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    search_index(app).close()
    print(f"{items} items, {len(times)} suggestions: p50 {statistics.median(times):.2f} ms, "
          f"p95 {percentile(times, 0.95):.2f} ms, p99 {percentile(times, 0.99):.2f} ms, "
          f"max {max(times):.2f} ms; first call (reads every title) {cold:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
