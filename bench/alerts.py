"""The cost of alerts on a write, by hand: ``python -m bench.alerts [--alerts 1000] [--items 500]``.

Over an index of ``--base`` synthetic items (bench/corpus.py), times writes of ``--items`` new items
three ways: without a watcher, with the alert watcher and no alert stored, and with ``--alerts`` alerts
(the benchmark's query mix, a fifth with a source filter). For the last it also times the matching
alone (index.alerts.match) and the whole settle (matching plus the outbox transaction). Each figure is
the median of ``--rounds`` writes, each of a fresh block of items.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench.corpus import generate_items, generate_queries
from index.alerts import AlertStore, AlertWatcher, Outbox
from index.alerts.match import match_items
from index.model import FeedItem
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items


def feed_items(start: int, count: int) -> list[FeedItem]:
    """Return items ``start`` to ``start + count`` of the synthetic corpus as FeedItems."""
    records = list(generate_items(start + count))[start:]
    return [FeedItem(id=r["id"], title=r["title"], link=r["link"], summary=r["summary"], source=r["source"],
                     published=datetime.fromisoformat(r["published"].replace("Z", "+00:00")),
                     authors=tuple(r["authors"]), tags=tuple(r["tags"])) for r in records]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=2000, help="items in the index before the writes")
    parser.add_argument("--items", type=int, default=500, help="items per timed write")
    parser.add_argument("--alerts", type=int, default=1000, help="alerts stored for the last scenario")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="feedsift-bench-alerts-") as tmp:
        root = Path(tmp) / "index"
        store = IndexStore(root)
        write_items(store, feed_items(0, args.base))
        blocks = iter(range(args.base, args.base + (4 * args.rounds + 1) * args.items, args.items))

        def write(watcher: AlertWatcher | None) -> float:
            items = feed_items(next(blocks), args.items)
            return timed(lambda: write_items(store, items, watcher=watcher))

        plain = [write(None) for _ in range(args.rounds)]
        alerts = AlertStore.beside(root)
        idle = [write(AlertWatcher(root)) for _ in range(args.rounds)]
        # What the watcher adds to one commit when no alert is stored, alone (a write's own time varies
        # by more than that between runs).
        watcher = AlertWatcher(root)
        started = time.perf_counter()
        for _ in range(1000):
            with watcher.committing(list):
                pass
        look = (time.perf_counter() - started) * 1000

        queries = [q for q in generate_queries(args.alerts * 2, seed=11) if q.get("q")][:args.alerts]
        for n, params in enumerate(queries):
            source = params.get("source", [None])[0] if n % 5 == 0 else None
            alerts.add(str(params["q"]), "https://hooks.example.org/bench", source=source)
        watched = [write(AlertWatcher(root)) for _ in range(args.rounds)]

        sample = feed_items(next(blocks), args.items)
        watches = Outbox(alerts)._watches(datetime.now().astimezone())
        matching = [timed(lambda: match_items(watches, sample)) for _ in range(args.rounds)]
        found = match_items(watches, sample)
        outbox = Outbox(alerts)
        settling = []
        for _ in range(args.rounds):
            batch = feed_items(next(blocks), args.items)
            entry, at = outbox.journal(batch)
            settling.append(timed(lambda: outbox.settle(entry, batch, at)))  # noqa: B023 - called at once

    median = statistics.median
    print(f"index of {args.base} items; writes of {args.items} new items; medians of {args.rounds}")
    print(f"  write, no watcher                  {median(plain):8.0f} ms")
    print(f"  write, watcher, no alert stored    {median(idle):8.0f} ms  "
          f"({median(idle) - median(plain):+.0f} ms; the watcher's look alone: {look:.0f} us a commit)")
    print(f"  write, {len(queries)} alerts               {median(watched):8.0f} ms  "
          f"({median(watched) - median(plain):+.0f} ms)")
    print(f"  matching alone: {len(queries)} alerts x {args.items} items  {median(matching):8.0f} ms  "
          f"({median(matching) * 1000 / len(queries):.0f} us an alert; {len(found)} alerts matched "
          f"{sum(len(v) for v in found.values())} pairs)")
    print(f"  settle (matching + outbox)         {median(settling):8.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
