"""The worst requests we know of, timed: what each costs on an index, and /healthz behind two of them.

``python bench/adversarial.py (--index DIR | --items N | --shared) [--runs 3] [--http]``

Each case is a request that passes validation (or is refused by the engine's own work budget, which
is also an answer) and once cost seconds: a 1,000-letter word (did-you-mean), many misspelt words,
every common word at once, a phrase of common words, prefixes and fuzzy words that expand over the
lexicon, 1,000 CJK characters, similar items of the longest item, and suggestions for 1,000 typed
characters. The common words are read from the index itself, so the cases fit any corpus. With
``--http`` a real gunicorn (``gunicorn.conf.py``, 2 workers) serves the index, and /healthz is timed
while the two slowest cases run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from bench.speed import build_feedsift, write_corpus
from index.errors import QueryError
from index.ingest.load import load_input
from index.model import SearchRequest
from index.search.schema import SPELLING_FIELD
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
LIMIT = 1000
# What a POST /v1/search body may carry.
LONG_LIMIT = 10_000


@dataclass(frozen=True)
class Case:
    """One adversarial request: what it is, and how to send it to the engine and over HTTP."""

    name: str
    what: str
    run: Callable[[SearchIndex], str]
    path: str


def _fill(words: list[str], sep: str = " ", limit: int = LIMIT) -> str:
    """Return the words repeated up to ``limit`` characters."""
    text = ""
    while words:
        for word in words:
            if len(text) + len(word) + len(sep) > limit:
                return text
            text += (sep if text else "") + word
    return text


def _search(q: str) -> Callable[[SearchIndex], str]:
    def run(index: SearchIndex) -> str:
        try:
            page = index.search(SearchRequest(q=q))
        except QueryError as exc:
            return f"400: {str(exc)[:60]}"
        return f"{page.total} hits" + (", did-you-mean" if page.did_you_mean else "")
    return run


def cases(index: SearchIndex) -> list[Case]:
    """Return the cases, built from the index's own most common words and longest item."""
    with index._use() as view:
        reader = view.searcher.reader()
        common = [w.decode() if isinstance(w, bytes) else w
                  for _, w in reader.most_frequent_terms(SPELLING_FIELD, 3000)]
        common = [w for w in common if w.isalpha() and len(w) >= 4]
        many, common = common[:1500], common[:150]
        lengths = [(len(f.get("title", "")) + len(f.get("summary", "")), f["id"])
                   for f in view.searcher.all_stored_fields()]
    longest = max(lengths)[1]
    typos = [w[0] + w[2:] + w[1] for w in common]  # each common word with a letter moved: unknown words
    long_fuzzy = [("fuzzyword" * 3)[:24] + "~2", ("abcdefghijklmnopqrstuvwx") + "~2",
                  (common[0] * 6)[:24] + "~2", (common[1] * 6)[:24] + "~2"]
    texts = {
        "long-word": "b" * LIMIT,
        "typos": _fill(typos),
        "common-or": _fill(common),
        "common-phrase": '"' + " ".join(common[:12]) + '" ' + _fill(common)[: LIMIT - 200],
        "sloppy-phrase": '"' + " ".join(common[:12]) + '"~5 ' + _fill(common)[: LIMIT - 200],
        "prefixes": _fill([w[:3] + "*" for w in common]),
        "fuzzy-long": " ".join(long_fuzzy),
        "fuzzy-common": " ".join(w + "~2" for w in common[:4]) + " " + _fill(common)[:800],
        "cjk": "\u5b66" * LIMIT,
        "common-or-10k": _fill(many, limit=LONG_LIMIT),
        "phrases-10k": _fill(['"' + " ".join(common[i:i + 12]) + '"' for i in range(138)],
                             limit=LONG_LIMIT),
        "typos-10k": _fill([w[0] + w[2:] + w[1] for w in many], limit=LONG_LIMIT),
    }
    what = {
        "long-word": "one 1,000-letter word (did-you-mean)",
        "typos": "~100 distinct misspelt words (did-you-mean budget)",
        "common-or": "the 150 most common words, OR-ed",
        "common-phrase": "a 12-word phrase of common words, then common words",
        "sloppy-phrase": "the same phrase with slop 5",
        "prefixes": "3-letter prefixes of common words (expansion budget)",
        "fuzzy-long": "four 24-letter fuzzy words, distance 2",
        "fuzzy-common": "four common fuzzy words, then common words",
        "cjk": "1,000 CJK characters",
        "common-or-10k": "POST: 10,000 characters of the 1,500 most common words",
        "phrases-10k": "POST: 10,000 characters of 12-word phrases of common words",
        "typos-10k": "POST: 10,000 characters of misspelt common words",
    }
    found = [Case(name, what[name], _search(q), "/v1/search?" + urllib.parse.urlencode({"q": q}))
             for name, q in texts.items() if len(q) <= LIMIT]
    found += [Case(name, what[name], _search(q), "") for name, q in texts.items() if len(q) > LIMIT]
    found.append(Case("similar", "similar items of the longest item",
                      lambda index: f"{len(index.similar(longest) or [])} hits",
                      f"/v1/items/{urllib.parse.quote(longest)}/similar"))
    typed = _fill(common)
    found.append(Case("suggest", "suggestions for 1,000 typed characters",
                      lambda index: f"{len(index.suggest(typed).titles)} titles",
                      "/v1/suggest?" + urllib.parse.urlencode({"q": typed})))
    return found


def measure(index_dir: Path, runs: int) -> tuple[float, list[tuple[Case, str, list[float]]]]:
    """Time each case ``runs`` times on a SearchIndex opened and warmed as a gunicorn worker is (titles
    for suggestions and spelling words read); return the warm-up's milliseconds and (case, outcome,
    milliseconds) for each case."""
    index = SearchIndex(index_dir)
    try:
        index.count()
        started = time.perf_counter()
        index.suggest("warm")
        index.search(SearchRequest(q="qzxvkjq"))
        warm = (time.perf_counter() - started) * 1000
        results = []
        for case in cases(index):
            times = []
            outcome = ""
            for _ in range(runs):
                started = time.perf_counter()
                outcome = case.run(index)
                times.append((time.perf_counter() - started) * 1000)
            results.append((case, outcome, times))
        return warm, results
    finally:
        index.close()


def healthz_behind(index_dir: Path, slow: list[Case],
                   log: Path) -> tuple[float, list[tuple[str, int, float]]]:
    """Serve the index with gunicorn; return /healthz's time while the ``slow`` cases run, and theirs."""
    with load.serve(index_dir, log, workers=2) as server:
        load.open_every_worker(server)
        # As a server that has been up a while: titles read for suggestions (each worker does it in
        # the background as it starts) and each slow case seen once by every worker.
        load.run_load(server.host, server.port, ["/v1/suggest?q=warm"] * 8, concurrency=2)
        load.run_load(server.host, server.port, [case.path for case in slow] * 4, concurrency=2)
        answers: list[tuple[str, int, float]] = []

        def send(case: Case) -> None:
            started = time.perf_counter()
            status = load.get(server.host, server.port, case.path, timeout=60)
            answers.append((case.name, status, (time.perf_counter() - started) * 1000))

        threads = [threading.Thread(target=send, args=(case,)) for case in slow]
        for thread in threads:
            thread.start()
        time.sleep(0.05)  # both slow requests are in the workers
        started = time.perf_counter()
        status = load.get(server.host, server.port, "/healthz")
        healthz = (time.perf_counter() - started) * 1000
        assert status == 200
        for thread in threads:
            thread.join()
        return healthz, answers


def build(args: argparse.Namespace, work: Path) -> Path:
    if args.index:
        return Path(args.index)
    index_dir = work / "index"
    if args.shared:
        inputs = sorted(SHARED.glob("digests/*.txt")) + sorted(SHARED.glob("feeds/*/*.xml"))
        write_items(IndexStore(index_dir), [i for p in inputs for i in load_input(str(p)).items])
    else:
        build_feedsift(write_corpus(work / "corpus", args.items), index_dir)
    return index_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--index", help="an existing index directory")
    source.add_argument("--items", type=int, help="build the seeded bench corpus of this many items")
    source.add_argument("--shared", action="store_true", help="build from the shared feeds and digest")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--http", action="store_true", help="also time /healthz behind the two slowest")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="feedsift-adversarial-"))
    try:
        index_dir = build(args, work)
        count = SearchIndex(index_dir).count()
        warm, results = measure(index_dir, args.runs)
        print(f"{count} items, {args.runs} runs each (ms: median, max); warm-up as a worker starts "
              f"(titles, spelling words): {warm:.0f} ms\n")
        print("| case | request | outcome | median ms | max ms |\n|---|---|---|---|---|")
        for case, outcome, times in results:
            median = statistics.median(times)
            print(f"| {case.name} | {case.what} | {outcome} | {median:.0f} | {max(times):.0f} |")
        if args.http:
            slow = [case for case, _, _ in sorted(results, key=lambda r: -statistics.median(r[2]))
                    if case.path][:2]
            healthz, answers = healthz_behind(index_dir, slow, work / "gunicorn.log")
            print(f"\ngunicorn (2 workers): /healthz answered in {healthz:.0f} ms behind "
                  + ", ".join(f"{name} ({status}, {ms:.0f} ms)" for name, status, ms in answers))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
