"""Tests for bench/relevance.py on a small collection with known answers (tests/data/relevance-mini)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ir_measures import Qrel, ScoredDoc

from bench.relevance import api_query, evaluate, load_collection, main, score_run
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
    assert report.shortened_queries == ["q15"]
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
    text = "word " * 300
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
