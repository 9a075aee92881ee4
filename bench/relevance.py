"""The relevance benchmark: BEIR-style test collections indexed and searched by feedsift and scored.

``python bench/relevance.py DIR... [--floors FILE] [--min-ndcg10 X] [--index-dir D] [--per-query OUT]``
where each DIR is a collection (``corpus.jsonl`` with ``{"id","title","text"}``, ``queries.jsonl`` with
``{"id","text"}``, ``qrels.tsv`` with ``query-id<TAB>doc-id<TAB>relevance`` and an optional header
line) or a directory of collections, every one of which is run. Each corpus goes through the product's
own JSON Lines ingestion and writer; every query that has judgements goes through ``SearchIndex.search``
with the API's defaults except ``per_page=100``, exactly what ``POST /v1/search`` with
``{"q": ..., "per_page": 100}`` runs. One table shows each collection's nDCG@10, R@100 and MAP with its
plain BM25 baseline beside each; the exit status is 1 when any collection is under its floor
(``bench/relevance_floors.toml``) or has none.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ir_measures
from ir_measures import AP, Qrel, R, ScoredDoc, nDCG

from index.errors import QueryError
from index.ingest.jsonl import item_record_problem, parse_jsonl
from index.model import SearchRequest
from index.search.querylang import MAX_QUERY_CHARS
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items

TOP = 100
MEASURES = (nDCG @ 10, R @ 100, AP)
NDCG10 = str(nDCG @ 10)
FLOORS = Path(__file__).resolve().with_name("relevance_floors.toml")
# The product requires a title; a corpus line without one gets a title with no indexable word, so the
# item is searched by its text alone, as the published flat-index baselines search it.
UNTITLED = "\u2014"

# Published scores of the strongest classical baseline, keyed by the collection directory's name.
REFERENCES: dict[str, list[tuple[str, dict[str, float]]]] = {
    "scifact": [
        ("Anserini BM25 flat (k1 0.9, b 0.4)", {"nDCG@10": 0.6789, "R@100": 0.9253}),
        ("Anserini BM25 multifield", {"nDCG@10": 0.6647, "R@100": 0.9076}),
        ("bm25s BM25 flat (k1 0.9, b 0.4)", {"nDCG@10": 0.6762, "R@100": 0.9127, "AP": 0.6372}),
    ],
}


@dataclass
class Collection:
    """A test collection on disk: the corpus path, the query texts and the judgements."""

    corpus: Path
    queries: dict[str, str]
    qrels: list[Qrel]

    def judged_queries(self) -> dict[str, str]:
        """Return the queries with at least one relevant document, in file order (as trec_eval counts)."""
        judged = {q.query_id for q in self.qrels if q.relevance > 0}
        return {qid: text for qid, text in self.queries.items() if qid in judged}


@dataclass
class Report:
    """The scores of one run: mean of each measure over every judged query, plus timings."""

    measures: dict[str, float]
    queries: int
    documents: int
    ms_per_query: float
    p50_ms: float
    failed_queries: list[str] = field(default_factory=list)
    skipped_documents: list[str] = field(default_factory=list)
    shortened_queries: list[str] = field(default_factory=list)
    # measure -> query id -> value, for paired comparisons between runs (bench/paired.py).
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Floor:
    """What one collection is held to: a minimum nDCG@10, and the plain BM25 scores shown beside ours."""

    ndcg10: float
    baseline: dict[str, float]


def load_floors(path: str | Path = FLOORS) -> dict[str, Floor]:
    """Read the floors file: one table per collection name with ``floor_ndcg10`` and ``baseline``."""
    with open(path, "rb") as f:
        tables = tomllib.load(f)
    return {
        name: Floor(ndcg10=float(table["floor_ndcg10"]),
                    baseline={k: float(v) for k, v in table.get("baseline", {}).items()})
        for name, table in tables.items()
    }


def find_collections(path: str | Path) -> list[Path]:
    """Return ``path`` if it is a collection, else the collections directly inside it, by name."""
    root = Path(path)
    if (root / "corpus.jsonl").is_file():
        return [root]
    found = sorted(d for d in root.iterdir() if (d / "corpus.jsonl").is_file()) if root.is_dir() else []
    if not found:
        raise FileNotFoundError(f"{root}: neither a collection (corpus.jsonl) nor a directory of them")
    return found


def load_collection(root: str | Path) -> Collection:
    """Read ``queries.jsonl`` and ``qrels.tsv`` from a collection directory."""
    root = Path(root)
    queries: dict[str, str] = {}
    with open(root / "queries.jsonl", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                queries[str(record["id"])] = str(record["text"])
    qrels: list[Qrel] = []
    with open(root / "qrels.tsv", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise ValueError(f"{root / 'qrels.tsv'} line {number}: expected query-id, doc-id, relevance")
            if number == 1 and not parts[2].lstrip("-").isdigit():
                continue  # a header line
            qrels.append(Qrel(parts[0], parts[1], int(parts[2])))
    return Collection(corpus=root / "corpus.jsonl", queries=queries, qrels=qrels)


def corpus_as_items_jsonl(corpus: Path) -> tuple[str, dict[str, str]]:
    """Return the corpus as feedsift JSON Lines (title to title, text to summary, the id kept), and
    the corpus ids of the items that needed another id.

    The product reads ``summary`` (and ``title``) as HTML, so plain corpus text is escaped: an
    abstract's "p < 0.05" must stay text, not open a tag. Item ids become URL path segments, so a
    corpus id the product refuses (DBpedia's ``<dbpedia:X_(Y)>``) is indexed under a digest of it.
    """
    out = []
    renamed: dict[str, str] = {}
    with open(corpus, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            doc = json.loads(line)
            title = html.escape(str(doc.get("title") or "").strip(), quote=False) or UNTITLED
            text = html.escape(str(doc.get("text") or ""), quote=False)
            item_id = str(doc["id"])
            if item_record_problem({"id": item_id, "title": "t"}) is not None:
                renamed_id = "corpus-" + hashlib.sha1(item_id.encode("utf-8")).hexdigest()[:24]
                renamed[renamed_id] = item_id
                item_id = renamed_id
            out.append(json.dumps({"id": item_id, "title": title, "summary": text}))
    return "\n".join(out) + "\n", renamed


def build_index(corpus: Path, index_dir: str | Path) -> tuple[int, list[str], dict[str, str]]:
    """Index the corpus through ``parse_jsonl`` and ``write_items``.

    Return the number of items written, why any corpus line was skipped, and the corpus ids of
    items indexed under another id.
    """
    text, renamed = corpus_as_items_jsonl(corpus)
    parsed = parse_jsonl(text, source="corpus")
    report = write_items(IndexStore(index_dir), parsed.items)
    return report.added + report.updated + report.unchanged, parsed.errors, renamed


def api_query(text: str) -> str:
    """Return the query as the API accepts it: cut at a space to the longest query it takes if longer."""
    if len(text) <= MAX_QUERY_CHARS:
        return text
    cut = text[:MAX_QUERY_CHARS]
    space = cut.rfind(" ")
    return cut[:space] if space > 0 else cut


def run_queries(
    searcher: SearchIndex, queries: dict[str, str], renamed: dict[str, str] | None = None
) -> tuple[list[ScoredDoc], list[float], list[str]]:
    """Search every query; return the run, each query's time in ms and the queries the engine refused.

    Evaluators re-sort a run by score and break ties by document id, so each hit's score is taken
    from its rank: the run is scored in exactly the order the API returns.
    """
    renamed = renamed or {}
    run: list[ScoredDoc] = []
    times: list[float] = []
    failed: list[str] = []
    for qid, text in queries.items():
        request = SearchRequest(q=api_query(text), per_page=TOP)
        start = time.perf_counter()
        try:
            page = searcher.search(request)
        except QueryError:
            failed.append(qid)
            continue
        finally:
            times.append((time.perf_counter() - start) * 1000)
        for rank, hit in enumerate(page.hits):
            run.append(ScoredDoc(qid, renamed.get(hit.id, hit.id), float(TOP - rank)))
    return run, times, failed


def score_run(qrels: Sequence[Qrel], run: Iterable[ScoredDoc], query_ids: Iterable[str]) -> dict[str, float]:
    """Return the mean of each measure over ``query_ids``.

    A query with no results scores 0 on every measure and still counts (trec_eval's ``-c``);
    ir-measures alone would average over the queries present in the run.
    """
    per_query = score_queries(qrels, run, query_ids)
    return {name: statistics.fmean(values.values()) if values else 0.0 for name, values in per_query.items()}


def score_queries(qrels: Sequence[Qrel], run: Iterable[ScoredDoc],
                  query_ids: Iterable[str]) -> dict[str, dict[str, float]]:
    """Return each measure's value for each of ``query_ids`` (0 for a query the run has nothing for)."""
    wanted = list(dict.fromkeys(query_ids))
    values = {str(m): dict.fromkeys(wanted, 0.0) for m in MEASURES}
    for metric in ir_measures.iter_calc(list(MEASURES), list(qrels), list(run)):
        if metric.query_id in values[str(metric.measure)]:
            values[str(metric.measure)][metric.query_id] = float(metric.value)
    return values


def evaluate(root: str | Path, *, index_dir: str | Path | None = None) -> Report:
    """Index the collection at ``root`` (in ``index_dir`` if given, else a temporary directory), score it."""
    collection = load_collection(root)
    if index_dir is not None:
        return _evaluate_in(collection, Path(index_dir))
    with tempfile.TemporaryDirectory(prefix="feedsift-relevance-") as tmp:
        return _evaluate_in(collection, Path(tmp))


def _evaluate_in(collection: Collection, index_dir: Path) -> Report:
    documents, skipped, renamed = build_index(collection.corpus, index_dir)
    queries = collection.judged_queries()
    searcher = SearchIndex(index_dir)
    try:
        run, times, failed = run_queries(searcher, queries, renamed)
    finally:
        searcher.close()
    judged = set(queries)
    qrels = [q for q in collection.qrels if q.query_id in judged]
    per_query = score_queries(qrels, run, queries)
    return Report(
        measures={name: statistics.fmean(v.values()) if v else 0.0 for name, v in per_query.items()},
        queries=len(queries),
        documents=documents,
        ms_per_query=statistics.fmean(times) if times else 0.0,
        p50_ms=statistics.median(times) if times else 0.0,
        failed_queries=failed,
        skipped_documents=skipped,
        shortened_queries=[qid for qid, text in queries.items() if api_query(text) != text],
        per_query=per_query,
    )


def format_table(name: str, report: Report) -> str:
    """Return the run's scores beside the published references for this collection, if any."""
    columns = [str(m) for m in MEASURES]
    rows = [("feedsift (this run)", report.measures)]
    rows.extend(REFERENCES.get(name, []))
    width = max(len(label) for label, _ in rows)
    lines = [
        f"{name}: {report.documents} documents, {report.queries} judged queries",
        f"{'run':<{width}}  " + "  ".join(f"{c:>8}" for c in columns),
    ]
    for label, values in rows:
        cells = [f"{values[c]:>8.4f}" if c in values else f"{'-':>8}" for c in columns]
        lines.append(f"{label:<{width}}  " + "  ".join(cells))
    lines.append(f"search time: mean {report.ms_per_query:.1f} ms/query, p50 {report.p50_ms:.1f} ms")
    if report.shortened_queries:
        lines.append(f"queries cut to the API's limit of {MAX_QUERY_CHARS} characters: "
                     f"{len(report.shortened_queries)}")
    if report.failed_queries:
        lines.append(f"queries refused by the engine (scored 0): {len(report.failed_queries)}")
    if report.skipped_documents:
        lines.append(f"corpus lines the ingestion skipped: {len(report.skipped_documents)}"
                     f" (first: {report.skipped_documents[0]})")
    return "\n".join(lines)


def format_summary(reports: dict[str, Report], floors: dict[str, Floor], *,
                   min_ndcg10: float | None = None, require_floors: bool = False) -> tuple[str, list[str]]:
    """Return one table of every collection (our score, then plain BM25's, per measure) and the failures.

    A collection fails when its nDCG@10 is under its floor or under ``min_ndcg10``, and, with
    ``require_floors``, when the floors file has none for it.
    """
    columns = [str(m) for m in MEASURES]
    width = max([len("collection"), *(len(n) for n in reports)])
    header = (f"{'collection':<{width}}  {'docs':>6}  {'queries':>7}  "
              + "  ".join(f"{c:>8} {'(bm25)':>8}" for c in columns) + f"  {'floor':>6}  verdict")
    lines = [header, "-" * len(header)]
    failures: list[str] = []
    for name, report in reports.items():
        floor = floors.get(name)
        ndcg = report.measures[NDCG10]
        limits = [x for x in (floor.ndcg10 if floor else None, min_ndcg10) if x is not None]
        wanted = max(limits) if limits else None
        verdict = "ok"
        if floor is None and require_floors:
            failures.append(f"{name}: the floors file has no floor for it")
            verdict = "NO FLOOR"
        elif wanted is not None and ndcg < wanted:
            failures.append(f"{name}: nDCG@10 {ndcg:.4f} is below the threshold {wanted:.4f}")
            verdict = "FAIL"
        baseline = floor.baseline if floor else {}
        cells = "  ".join(f"{report.measures[c]:>8.4f} {_cell(baseline.get(c))}" for c in columns)
        lines.append(f"{name:<{width}}  {report.documents:>6}  {report.queries:>7}  {cells}  "
                     f"{_cell(wanted, 6)}  {verdict}")
    ours = [r.measures[NDCG10] for r in reports.values()]
    ratios = [r.measures[NDCG10] / floors[n].baseline[NDCG10] for n, r in reports.items()
              if n in floors and floors[n].baseline.get(NDCG10)]
    lines.append("-" * len(header))
    summary = f"nDCG@10 mean {statistics.fmean(ours):.4f}, worst {min(ours):.4f}" if ours else "nothing run"
    if ratios:
        summary += (f"; against plain BM25: mean {statistics.fmean(ratios) - 1:+.1%}, "
                    f"worst {min(ratios) - 1:+.1%}")
    lines.append(summary)
    return "\n".join(lines), failures


def _cell(value: float | None, width: int = 8) -> str:
    return f"{value:>{width}.4f}" if value is not None else f"{'-':>{width}}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark on every collection given; return 1 when any is under its floor, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("collections", nargs="+",
                        help="a directory holding corpus.jsonl, queries.jsonl and qrels.tsv, or a directory "
                             "of such directories")
    parser.add_argument("--floors", default=None,
                        help=f"the floors file (default {FLOORS.name} when more than one collection runs)")
    parser.add_argument("--min-ndcg10", type=float, default=None,
                        help="exit 1 when any collection's nDCG@10 is below this")
    parser.add_argument("--index-dir", default=None,
                        help="build the indexes here (one directory per collection) and keep them "
                             "(default: temporary directories)")
    parser.add_argument("--per-query", default=None,
                        help="write every query's scores here as JSON, for bench/paired.py")
    args = parser.parse_args(argv)
    roots = [c for path in args.collections for c in find_collections(path)]
    names = [root.resolve().name for root in roots]
    if len(set(names)) != len(names):
        parser.error("two collections have the same directory name")
    floors_path = args.floors if args.floors is not None else (FLOORS if len(roots) > 1 else None)
    floors = load_floors(floors_path) if floors_path is not None else {}
    reports: dict[str, Report] = {}
    for root, name in zip(roots, names, strict=True):
        index_dir = Path(args.index_dir) / name if args.index_dir else None
        reports[name] = evaluate(root, index_dir=index_dir)
        print(format_table(name, reports[name]), end="\n\n", flush=True)
    table, failures = format_summary(reports, floors, min_ndcg10=args.min_ndcg10,
                                     require_floors=floors_path is not None)
    print(table)
    if args.per_query:
        Path(args.per_query).write_text(
            json.dumps({name: r.per_query for name, r in reports.items()}, indent=1), encoding="utf-8")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
