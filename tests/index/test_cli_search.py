"""Tests for index/cli/search.py: `feedsift search` over a real index, coloured or plain."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from index import cli
from index.cli import search as cli_search
from index.model import SearchRequest
from index.search.whoosh.reader import SearchIndex
from tests.support.copies import write_inputs
from tests.support.indexes import build_index, items_from

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed command with its output piped, as a script would."""
    return subprocess.run([str(Path(sys.executable).parent / "feedsift"), "search", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_piped_output_is_plain_ranked_results(sample_index: Path) -> None:
    result = run("--index", str(sample_index), "reinforcement", "learning")
    assert result.returncode == 0, result.stderr
    assert not ANSI.search(result.stdout)
    assert "<mark>" not in result.stdout
    index = SearchIndex(sample_index)
    try:
        page = index.search(SearchRequest(q="reinforcement learning"))
    finally:
        index.close()
    numbered = re.findall(r"^ ?(\d+)\. (.+)$", result.stdout, flags=re.MULTILINE)
    assert [(int(n), title) for n, title in numbered] == [(i, h.title) for i, h in enumerate(page.hits, 1)]
    assert f"    {page.hits[0].source} · " in result.stdout
    assert result.stdout.rstrip().endswith(f"{page.total} results")


def test_colour_marks_the_matches(sample_index: Path) -> None:
    result = CliRunner().invoke(cli.main, ["search", "--index", str(sample_index), "--color", "-n", "1",
                                           "reinforcement learning"], color=True)
    assert result.exit_code == 0, result.output
    bold = "\x1b[33m\x1b[1m"
    assert f"{bold}Reinforcement\x1b[0m {bold}Learning\x1b[0m" in result.output
    assert ANSI.sub("", result.output).count("<mark>") == 0


def test_highlights_are_unescaped_for_the_terminal() -> None:
    html = "a &lt;b&gt; &amp; <mark>c&amp;d</mark>"
    assert cli_search.render_highlight(html, color=False) == "a <b> & c&d"
    assert cli_search.render_highlight(html, color=True) == "a <b> & \x1b[33m\x1b[1mc&d\x1b[0m"


def test_json_output_and_source_filter(sample_index: Path) -> None:
    result = run("--index", str(sample_index), "--json", "--source", "Gradient Notes", "learning")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["total"] > 0 and body["hits"]
    assert {hit["source"] for hit in body["hits"]} == {"Gradient Notes"}
    assert set(body["hits"][0]) == {"id", "title", "link", "source", "published", "first_seen", "score",
                                    "snippet", "highlights", "also"}
    assert "<mark>" in body["hits"][0]["highlights"]["title"] + body["hits"][0]["highlights"]["summary"]


def test_limit_and_a_note_when_there_are_more(sample_index: Path) -> None:
    result = run("--index", str(sample_index), "-n", "2", "learning")
    assert len(re.findall(r"^ ?\d+\. ", result.stdout, flags=re.MULTILINE)) == 2
    assert "showing the first 2 (--limit for more)" in result.stdout


def test_a_bad_query_or_a_missing_index_is_an_error(sample_index: Path, tmp_path: Path) -> None:
    result = run("--index", str(sample_index), '"unbalanced')
    assert result.returncode == 1 and "Unbalanced quote" in result.stderr
    result = run("--index", str(tmp_path / "none"), "anything")
    assert result.returncode == 1 and result.stderr.startswith("Error:")
    assert run("--index", str(sample_index)).returncode == 2  # no query: a usage error



def test_a_dash_reads_a_long_question_from_standard_input(sample_index: Path) -> None:
    question = ("I have been reading about reinforcement learning for recommendation. " * 10
                + "What I need now is how telescopes decide which fields to observe when the weather is "
                "uncertain. " * 14)
    assert len(question) > 2000
    result = subprocess.run([str(Path(sys.executable).parent / "feedsift"), "search", "--index",
                             str(sample_index), "--json", "-"], input=question, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    index = SearchIndex(sample_index)
    try:
        page = index.search(SearchRequest(q=question))
    finally:
        index.close()
    hits = json.loads(result.stdout)["hits"]
    assert [h["id"] for h in hits] == [h.id for h in page.hits]
    assert "Telescope" in hits[0]["title"]


def test_copies_of_one_work_are_one_result_unless_asked(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(index, items_from(write_inputs(tmp_path / "inputs").paths))
    # Only the lab post and its repost on another site say "lied".
    body = json.loads(run("--index", str(index), "--json", "lied").stdout)
    assert body["total"] == 1
    assert [copy["source"] for copy in body["hits"][0]["also"]] == ["Lab Blog"]
    assert json.loads(run("--index", str(index), "--json", "--no-collapse", "lied").stdout)["total"] == 2
    text = run("--index", str(index), "lied").stdout
    assert "    also in Lab Blog\n" in text and text.rstrip().endswith("1 result")
