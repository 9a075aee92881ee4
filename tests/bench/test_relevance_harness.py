"""Tests for bench/relevance.py on a small collection with known answers (tests/data/relevance-mini)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ir_measures import Qrel, ScoredDoc

from bench.relevance import (
    FLOORS,
    Floor,
    Report,
    api_query,
    evaluate,
    find_collections,
    format_summary,
    load_collection,
    load_floors,
    main,
    score_run,
)
from index.search.querylang import MAX_QUERY_CHARS
from index.search.whoosh.reader import SearchIndex

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "relevance-mini"
# 14 queries with a relevant document: 13 find theirs first, one (q12) shares no word with its document.
EXPECTED = 13 / 14


def test_mini_collection_scores_as_designed(tmp_path: Path) -> None:
    report = evaluate(MINI, index_dir=tmp_path / "index")
    assert report.documents == 13
    assert report.queries == 14  # q14 is judged only non-relevant and is left out
    assert report.failed_queries == []
    assert report.skipped_documents == []
    assert report.shortened_queries == []  # q15's 1,197 characters are within what POST takes
    assert report.measures == pytest.approx({"nDCG@10": EXPECTED, "R@100": EXPECTED, "AP": EXPECTED})
    assert report.ms_per_query > 0


def test_index_keeps_corpus_ids_and_plain_text(tmp_path: Path) -> None:
    evaluate(MINI, index_dir=tmp_path / "index")
    searcher = SearchIndex(tmp_path / "index")
    try:
        item = searcher.get("d04")
        untitled = searcher.get("d12")
    finally:
        searcher.close()
    assert item is not None and "(p < 0.05 in <most> reconstructions)" in item.summary
    assert untitled is not None and untitled.summary.startswith("Craftsmen")


def test_long_queries_are_cut_at_a_space_to_the_api_limit() -> None:
    text = "word " * (MAX_QUERY_CHARS // 5 + 100)
    cut = api_query(text)
    assert len(cut) <= MAX_QUERY_CHARS and cut.endswith("word") and text.startswith(cut)
    assert api_query("short claim.") == "short claim."


def test_perfect_run_scores_one_and_empty_run_zero() -> None:
    collection = load_collection(MINI)
    judged = collection.judged_queries()
    perfect = [ScoredDoc(q.query_id, q.doc_id, 1.0) for q in collection.qrels]
    assert score_run(collection.qrels, perfect, judged) == {"nDCG@10": 1.0, "R@100": 1.0, "AP": 1.0}
    assert score_run(collection.qrels, [], judged) == {"nDCG@10": 0.0, "R@100": 0.0, "AP": 0.0}


def test_queries_missing_from_the_run_count_as_zero() -> None:
    qrels = [Qrel("a", "x", 1), Qrel("b", "y", 1)]
    run = [ScoredDoc("a", "z", 2.0), ScoredDoc("a", "x", 1.0)]  # x at rank 2; b found nothing
    scores = score_run(qrels, run, ["a", "b"])
    assert scores["R@100"] == pytest.approx(0.5)
    assert scores["AP"] == pytest.approx(0.25)


def test_threshold_sets_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(MINI), "--min-ndcg10", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "feedsift (this run)" in out and "0.9286" in out
    assert main([str(MINI), "--min-ndcg10", "0.95"]) == 1


def test_command_line_exit_codes() -> None:
    script = str(ROOT / "bench" / "relevance.py")
    passing = subprocess.run([sys.executable, script, str(MINI), "--min-ndcg10", "0.928"],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert passing.returncode == 0, passing.stderr
    assert "nDCG@10" in passing.stdout and "0.9286" in passing.stdout
    failing = subprocess.run([sys.executable, script, str(MINI), "--min-ndcg10", "0.929"],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert failing.returncode == 1
    assert "below the threshold" in failing.stderr


SHARED = ROOT.parent / "shared" / "data" / "relevance"


def _report(ndcg: float) -> Report:
    return Report(measures={"nDCG@10": ndcg, "R@100": 0.5, "AP": 0.25}, queries=3, documents=9,
                  ms_per_query=1.0, p50_ms=1.0)


def test_summary_puts_the_baseline_beside_each_measure_and_fails_under_a_floor() -> None:
    floors = {"alpha": Floor(0.40, {"nDCG@10": 0.40, "R@100": 0.60, "AP": 0.30}),
              "beta": Floor(0.70, {"nDCG@10": 0.65})}
    table, failures = format_summary({"alpha": _report(0.44), "beta": _report(0.6999)}, floors,
                                     require_floors=True)
    alpha = next(line for line in table.splitlines() if line.startswith("alpha"))
    assert alpha.split()[3:] == ["0.4400", "0.4000", "0.5000", "0.6000", "0.2500", "0.3000", "0.4000", "ok"]
    beta = next(line for line in table.splitlines() if line.startswith("beta"))
    assert beta.split()[-2:] == ["0.7000", "FAIL"] and " - " in beta  # no R@100 baseline given
    assert failures == ["beta: nDCG@10 0.6999 is below the threshold 0.7000"]
    assert "mean 0.5699, worst 0.4400" in table and "mean +8.8%, worst +7.7%" in table


def test_a_collection_without_a_floor_fails_when_floors_are_required() -> None:
    _, failures = format_summary({"gamma": _report(0.9)}, {}, require_floors=True)
    assert failures == ["gamma: the floors file has no floor for it"]
    assert format_summary({"gamma": _report(0.9)}, {})[1] == []
    assert format_summary({"gamma": _report(0.9)}, {}, min_ndcg10=0.95)[1] != []


def test_a_directory_of_collections_runs_every_one_against_the_floors_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "collections"
    for name in ("mini", "mini2"):
        (parent / name).mkdir(parents=True)
        for f in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
            (parent / name / f).write_bytes((MINI / f).read_bytes())
    (parent / "notes").mkdir()  # not a collection: ignored
    assert [p.name for p in find_collections(parent)] == ["mini", "mini2"]
    floors = tmp_path / "floors.toml"
    floors.write_text('[mini]\nfloor_ndcg10 = 0.9\nbaseline = { "nDCG@10" = 0.5 }\n'
                      '[mini2]\nfloor_ndcg10 = 0.9\n', encoding="utf-8")
    per_query = tmp_path / "runs.json"
    assert main([str(parent), "--floors", str(floors), "--per-query", str(per_query)]) == 0
    out = capsys.readouterr().out
    assert "mean 0.9286, worst 0.9286; against plain BM25: mean +85.7%" in out
    runs = json.loads(per_query.read_text(encoding="utf-8"))
    assert set(runs) == {"mini", "mini2"} and runs["mini"]["nDCG@10"]["q12"] == 0.0
    floors.write_text(floors.read_text(encoding="utf-8").replace("0.9\nbaseline", "0.93\nbaseline"),
                      encoding="utf-8")
    assert main([str(parent), "--floors", str(floors)]) == 1
    assert "FAIL: mini: nDCG@10 0.9286 is below the threshold 0.9300" in capsys.readouterr().err


def test_the_floors_file_holds_every_shared_collection_at_its_source_baseline() -> None:
    floors = load_floors(FLOORS)
    assert floors["scifact"].ndcg10 == 0.70
    for name, floor in floors.items():
        assert set(floor.baseline) == {"nDCG@10", "R@100", "AP"}, name
        if name != "scifact":
            assert floor.ndcg10 == floor.baseline["nDCG@10"], name
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not here")
    assert {p.name for p in find_collections(SHARED)} <= set(floors)
    for name, floor in floors.items():
        source = (SHARED / name / "SOURCE.md").read_text(encoding="utf-8")
        baseline = source[source.index("## Our baseline"):]
        assert f"nDCG@10 **{floor.baseline['nDCG@10']:.4f}**" in baseline or (
            f"nDCG@10 {floor.baseline['nDCG@10']:.4f}" in baseline), name
