"""The by-hand large-index benchmark: one big corpus built, searched, added to and served, beside its goals.

``python bench/large.py --items 1000000 --workdir DIR [--out BENCH.md]`` (``make bench-large``; not in
``make bench`` nor CI: a 1M build alone takes many minutes on two cores)

On one seeded corpus (bench/corpus.py, written as JSON Lines parts by bench/speed.py) it measures what a
user of that size meets: the build through the ``feedsift add`` command, the index on disk, in-process
search, suggestions, similar items and lookups on a freshly opened index, adding a small batch of new
items to the big index through ``feedsift add`` again, and gunicorn under the bench's mixed load
(bench/load.py, through speed.measure_http). Each measure runs once: a run this long is not repeated
for spread, and there is no FTS5 peer beside it (``make bench`` compares against FTS5).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load, speed
from bench.corpus import Item, SearchParams, generate_items, generate_queries
from index.model import make_item_id
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore

# The issue 18 goals for 1M items, as upper bounds in each measure's unit.
BUILD_GOAL_MIN = 15.0
SEARCH_P95_GOAL_MS = 150.0
ADD_GOAL_S = 5.0
ADD_GOAL_ITEMS = 1_000
# The added items come from another seed, so their texts differ from the corpus's; their links (and so
# their ids) get a path of their own, because corpus links number items by position whatever the seed.
ADD_SEED = speed.SEED + 1
# Searches after the add are queries not sent before (the bench's headline figures are unseen queries).
AFTER_ADD_QUERY_SEED = speed.QUERY_SEED + 1
# Ids sampled from the corpus for the HTTP mix's lookups and similar items; the first --lookups of them
# are the in-process lookups.
HTTP_IDS = 2_000
ADD_REPORT = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged")
_WORD = re.compile(r"[a-z]+")


@dataclass
class Measure:
    """One figure of the run, with the issue's goal for it when it names one (an upper bound)."""

    label: str
    unit: str
    value: float
    goal: float | None = None

    @property
    def met(self) -> str:
        if self.goal is None or self.value != self.value:
            return ""
        return "yes" if self.value <= self.goal else "no"


@dataclass
class LargeReport:
    """Every measure of one large run in display order, and notes on how they were taken."""

    items: int
    measures: dict[str, Measure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, label: str, unit: str, value: float, goal: float | None = None) -> None:
        self.measures[label] = Measure(label, unit, float(value), goal)

    def latencies(self, label: str, times: Sequence[float], names: Sequence[str] = ("p50", "p95", "p99"),
                  p95_goal: float | None = None) -> None:
        """Add a row per percentile of ``times`` (nan when nothing was timed, which the table shows)."""
        values = dict(zip(("p50", "p95", "p99"), speed.percentiles(times) if times else (float("nan"),) * 3,
                          strict=True))
        for name in names:
            self.add(f"{label} {name}", "ms", values[name], p95_goal if name == "p95" else None)

    def value(self, label: str) -> float:
        return self.measures[label].value


class Progress:
    """Timestamped progress lines on stderr: a 1M run takes long enough that someone will look in."""

    def __init__(self, items: int) -> None:
        self.items = items
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"{datetime.now():%H:%M:%S} +{elapsed / 60:5.1f} min [large {self.items:,}] {message}",
              file=sys.stderr, flush=True)


# -- the corpus and the items added to it ---------------------------------------------------------------


def added_items(n: int) -> Iterator[Item]:
    """Yield n seeded items in no corpus of bench/corpus.py: other texts, other links and so other ids."""
    for k, item in enumerate(generate_items(n, ADD_SEED)):
        new = item.copy()
        new["link"] = f"https://{item['source']}.example.com/added/{k}"
        new["id"] = make_item_id(guid=None, link=new["link"], title=item["title"], source=item["source"])
        yield new


def sample_ids(parts: Sequence[Path], n_items: int, k: int, seed: int) -> list[str]:
    """Return the ids of k items of the corpus parts at seeded random positions, reading only those lines.

    Holding every id of a 1M corpus is not needed for a few thousand lookups.
    """
    rng = random.Random(seed)
    wanted: dict[int, set[int]] = {}
    for position in rng.sample(range(n_items), min(k, n_items)):
        wanted.setdefault(position // speed.PART_ITEMS, set()).add(position % speed.PART_ITEMS)
    ids: list[str] = []
    for part, lines in sorted(wanted.items()):
        with parts[part].open(encoding="utf-8") as f:
            ids += [json.loads(line)["id"] for number, line in enumerate(f) if number in lines]
    rng.shuffle(ids)
    return ids


def suggest_prefixes(queries: Sequence[SearchParams], n: int) -> list[str]:
    """Return up to n distinct things a person types into a search box: 3-5 letters of a query's first
    word, and its first word followed by the start of its second."""
    prefixes: dict[str, None] = {}
    for i, params in enumerate(queries):
        words = _WORD.findall(params.get("q", "").lower())
        if not words:
            continue
        cut = 3 + i % 3
        prefixes[words[0][:cut]] = None
        if len(words) > 1:
            prefixes[f"{words[0]} {words[1][:cut]}"] = None
    return list(prefixes)[:n]


# -- measuring -------------------------------------------------------------------------------------------


def feedsift_add(index_dir: Path, inputs: Sequence[Path], log: Path) -> tuple[float, int]:
    """Run ``feedsift add --index index_dir INPUTS...`` as a user would; return (seconds, items it added).

    The wall clock includes the command's start and its last commit. Its stderr (warnings) goes to
    ``log``; it always runs the Whoosh engine, whatever FEEDSIFT_ENGINE the caller has.
    """
    command = [str(load.BIN / "feedsift"), "add", "--index", str(index_dir), *map(str, inputs)]
    env = {**os.environ, "FEEDSIFT_ENGINE": "whoosh"}
    with log.open("ab") as err:
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, env=env, cwd=load.REPO,
                              check=False)
        seconds = time.perf_counter() - started
    out = done.stdout.decode("utf-8", errors="replace")
    found = ADD_REPORT.search(out)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"feedsift add exited with {done.returncode}: {out.strip()} (stderr in {log})")
    return seconds, int(found.group(1))


def segment_count(index_dir: Path) -> int:
    """Return how many segments the live generation has: what a later add or merge has to deal with."""
    ix = IndexStore(index_dir).open()
    try:
        reader = ix.reader()
        try:
            return 1 if reader.is_atomic() else len(reader.leaf_readers())
        finally:
            reader.close()
    finally:
        ix.close()


def measure_build(report: LargeReport, parts: Sequence[Path], index_dir: Path, work: Path) -> None:
    """Build the index from nothing through ``feedsift add`` and describe what it left on disk."""
    if index_dir.exists():
        shutil.rmtree(index_dir)
    seconds, added = feedsift_add(index_dir, parts, work / "feedsift-add.log")
    report.add("build (feedsift add, wall clock)", "min", seconds / 60, BUILD_GOAL_MIN)
    report.add("build rate", "items/s", added / seconds)
    report.add("index size (live generation)", "MB",
               speed.directory_size(IndexStore(index_dir).current_path()) / 1e6)
    report.add("segments after the build", "count", segment_count(index_dir))


def measure_in_process(report: LargeReport, index_dir: Path, queries: Sequence[SearchParams],
                       prefixes: Sequence[str], ids: Sequence[str]) -> None:
    """Search, suggest, similar and get on a freshly opened index, each argument sent once."""
    started = time.perf_counter()
    index = SearchIndex(index_dir)
    try:
        index.search(speed.to_request(speed.FIRST_QUERY))
        report.add("open + first query", "ms", (time.perf_counter() - started) * 1000)
        report.add("items in the index", "count", index.count())
        times, failed = speed.timed([speed.to_request(p) for p in queries], index.search)
        report.latencies("search", times, p95_goal=SEARCH_P95_GOAL_MS)
        report.add("search query errors", "count", failed)
        every_word = [speed.to_request({**p, "match": "all"}) for p in queries]
        report.latencies("search all words (match=all)", speed.timed(every_word, index.search)[0])
        # Apart from the rest: the first suggestion loads each segment's title table (gunicorn's workers
        # do it in the background as they start); the others only look words up in them.
        started = time.perf_counter()
        index.suggest("a", limit=1)
        first_suggest = (time.perf_counter() - started) * 1000
        report.add("suggest first call (loads the title tables)", "ms", first_suggest)
        report.latencies("suggest", speed.timed(prefixes, index.suggest)[0])
        report.latencies("similar", speed.timed(ids[: max(1, len(ids) // 2)], index.similar)[0])
        report.latencies("get", speed.timed(ids, index.get)[0], names=("p50", "p95"))
    finally:
        index.close()


def measure_add(report: LargeReport, index_dir: Path, work: Path, n: int,
                queries: Sequence[SearchParams]) -> None:
    """Add n new items to the big index through ``feedsift add``, then search it again, opened fresh."""
    path = speed.write_parts(work / "added", added_items(n), prefix="added")
    seconds, added = feedsift_add(index_dir, path, work / "feedsift-add.log")
    report.add(f"add {n:,} items (feedsift add, wall clock)", "s", seconds,
               ADD_GOAL_S if n == ADD_GOAL_ITEMS else None)
    report.add("items added (feedsift add's report)", "count", added)
    report.add("segments after the add", "count", segment_count(index_dir))
    index = SearchIndex(index_dir)
    try:
        index.search(speed.to_request(speed.FIRST_QUERY))
        report.add("items in the index after the add", "count", index.count())
        times, _ = speed.timed([speed.to_request(p) for p in queries], index.search)
        report.latencies("search after the add", times, names=("p50", "p95"), p95_goal=SEARCH_P95_GOAL_MS)
    finally:
        index.close()


def measure_served(report: LargeReport, index_dir: Path, work: Path, ids: Sequence[str], requests: int,
                   concurrency: Sequence[int], queries: int) -> None:
    """Serve the index with gunicorn and load it at each concurrency (speed.measure_http); keep its rows."""
    served = speed.SizeReport(report.items)
    speed.measure_http(served, index_dir, work / "gunicorn.log", ids, requests, concurrency, queries)
    for row in served.rows.values():
        report.add(row.label, row.unit, row.values[speed.FEEDSIFT][0])
    report.notes += served.notes


def bench_large(n: int, work: Path, *, queries: int, suggestions: int, lookups: int, add: int,
                http_requests: int, concurrency: Sequence[int]) -> LargeReport:
    """Measure everything for one corpus of n items under ``work``."""
    report = LargeReport(n)
    log = Progress(n)
    load_start = os.getloadavg()[0]
    work.mkdir(parents=True, exist_ok=True)
    index_dir = work / "index"
    log("writing the corpus")
    parts = speed.write_corpus(work / "corpus", n)
    ids = sample_ids(parts, n, max(lookups, HTTP_IDS), seed=speed.SEED)
    query_set = generate_queries(queries, seed=speed.QUERY_SEED)
    prefixes = suggest_prefixes(query_set, suggestions)
    log(f"building the index: feedsift add of {len(parts)} parts (its stderr: {work / 'feedsift-add.log'})")
    measure_build(report, parts, index_dir, work)
    log(f"built in {report.value('build (feedsift add, wall clock)'):.1f} min; in-process queries")
    measure_in_process(report, index_dir, query_set, prefixes, ids[:lookups])
    log(f"adding {add:,} items")
    measure_add(report, index_dir, work, add, generate_queries(queries, seed=AFTER_ADD_QUERY_SEED))
    log(f"HTTP: {http_requests} requests at {', '.join(map(str, concurrency))} connections")
    measure_served(report, index_dir, work, ids, http_requests, concurrency, queries)
    log("done")
    report.notes += [
        f"in process: {len(query_set)} searches (each sent once, then again with match=all), "
        f"{len(prefixes)} suggestion prefixes (3-5 letters of a query's first word, or its first word and "
        f"the start of its second), {max(1, lookups // 2)} similar and {lookups} get of ids sampled from "
        "the corpus, on a freshly opened `SearchIndex`",
        f"the add: {add:,} items of another seed with links (and ids) no corpus item has, one JSON Lines "
        f"file through `feedsift add`; then {queries} other searches, never sent before, on a fresh open",
        "HTTP runs after the add, over the same index; the mixed requests look up "
        f"{len(ids):,} sampled ids. The workers' background warm-up (suggestion titles, spelling words; "
        "gunicorn.conf.py post_worker_init) is not waited for, since bench/load.py has no signal for its "
        "end: the first connection level may share the CPU with it",
        f"load average (1 min) {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on "
        f"{len(os.sched_getaffinity(0))} cores; the whole run took "
        f"{(time.perf_counter() - log.started) / 60:.1f} min",
    ]
    return report


# -- reporting -------------------------------------------------------------------------------------------


def heading(items: int) -> str:
    return f"## Large index: {items:,} items (by hand)"


def render(report: LargeReport, command: str) -> str:
    """Return the run's markdown section: command, date, machine, one table of measures, then notes."""
    lines = [
        heading(report.items),
        "",
        f"- command: `{command}`",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {speed.machine()}",
        "",
        "Each measure runs once. The goals are issue 18's for 1,000,000 items (build, default search p95, "
        "adding 1,000 items); a run of another size is judged against them all the same.",
        "",
        "| measure | unit | value | goal | met |",
        "|---|---|---|---|---|",
    ]
    for m in report.measures.values():
        goal = f"≤ {speed.format_value(m.goal, m.unit)}" if m.goal is not None else ""
        lines.append(f"| {m.label} | {m.unit} | {speed.format_value(m.value, m.unit)} | {goal} | {m.met} |")
    lines.append("")
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Build, search, add to and serve one large seeded corpus; print (and optionally write) the section."""
    parser = argparse.ArgumentParser(prog="python bench/large.py", description=main.__doc__)
    parser.add_argument("--items", type=int, default=1_000_000, help="corpus size (default 1,000,000)")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="corpus, index and logs go here (a million items: ~1.2 GB of corpus and, "
                             "going by BENCH.md's 100k index, ~7 GB of index)")
    parser.add_argument("--queries", type=int, default=500, help="size of each query set")
    parser.add_argument("--suggestions", type=int, default=200, help="suggestion prefixes")
    parser.add_argument("--lookups", type=int, default=200, help="items to get (half as many similar)")
    parser.add_argument("--add", type=int, default=ADD_GOAL_ITEMS, help="new items added to the big index")
    parser.add_argument("--http-requests", type=int, default=load.DEFAULT_REQUESTS,
                        help="requests per connection level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--out", type=Path, help="write the section into this file (BENCH.md)")
    args = parser.parse_args(argv)
    command = "python bench/large.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    report = bench_large(args.items, args.workdir, queries=args.queries, suggestions=args.suggestions,
                         lookups=args.lookups, add=args.add, http_requests=args.http_requests,
                         concurrency=args.concurrency)
    text = render(report, command)
    print(text)
    if args.out:
        speed.write_section(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    load.stop_on_sigterm()
    sys.exit(main())
