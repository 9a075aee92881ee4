"""Tests of relevance ordering (index/search/querylang.py, index/search/whoosh/reader.py) on a real index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.model import FeedItem, SearchRequest
from index.search.querylang import MAX_TIER_WORDS
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items

FILLER = "Notes from the field about weather, tools and travel across the region this season."

# (id, title, summary). The "some words" items repeat one query word often in short text, so that
# plain BM25 would put them above the long items that hold every word once.
ITEMS = [
    ("all-long", "Garden diary", f"{FILLER} We fitted a solar panel on the shed roof. {FILLER} {FILLER}"),
    ("all-title", "Solar panel cleaning", f"{FILLER} {FILLER}"),
    ("all-three", "Battery notes", f"{FILLER} The solar panel charges a battery. {FILLER}"),
    ("solar-only", "Solar solar", "Solar solar solar flares and solar wind."),
    ("panel-only", "Panel", "Panel panel panel discussion panel."),
    ("battery-only", "Battery battery", "Battery battery battery."),
    ("none", "Unrelated", FILLER),
]


def open_index(root: Path, rows: list[tuple[str, str, str]]) -> SearchIndex:
    """Write (id, title, summary) rows into a new index at ``root`` and open it for searching."""
    items = [FeedItem(id=i, title=t, link=f"https://example.org/{i}", summary=s, source="test")
             for i, t, s in rows]
    write_items(IndexStore(root), items)
    return SearchIndex(root)


@pytest.fixture()
def searcher(tmp_path: Path) -> Iterator[SearchIndex]:
    index = open_index(tmp_path / "index", ITEMS)
    yield index
    index.close()


def ranked(searcher: SearchIndex, q: str) -> list[str]:
    return [hit.id for hit in searcher.search(SearchRequest(q=q, per_page=50)).hits]


def test_items_with_every_word_come_first(searcher: SearchIndex) -> None:
    ids = ranked(searcher, "solar panel")
    assert set(ids[:3]) == {"all-long", "all-title", "all-three"}
    assert set(ids[3:]) == {"solar-only", "panel-only"}


def test_three_words_all_first_then_the_rest(searcher: SearchIndex) -> None:
    ids = ranked(searcher, "solar panel battery")
    assert ids[0] == "all-three"
    assert set(ids[1:]) == {"all-long", "all-title", "solar-only", "panel-only", "battery-only"}


def test_one_word_finds_every_item_holding_it(searcher: SearchIndex) -> None:
    assert set(ranked(searcher, "panel")) == {"all-long", "all-title", "all-three", "panel-only"}


def test_scores_fall_down_the_page(searcher: SearchIndex) -> None:
    hits = searcher.search(SearchRequest(q="solar panel battery", per_page=50)).hits
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_hyphenated_words_are_words_not_negations(searcher: SearchIndex) -> None:
    assert "all-title" in ranked(searcher, "solar-panel")
    assert ranked(searcher, "solar -panel") == ["solar-only"]


def test_tiering_covers_short_queries_only() -> None:
    # Longer queries are sentences; requiring every word of those would bury good partial matches.
    assert 2 <= MAX_TIER_WORDS <= 6


@pytest.fixture()
def science(tmp_path: Path) -> Iterator[SearchIndex]:
    items = [
        ("il6-hyphen", "IL-6 signalling in sepsis", "Interleukin levels rose."),
        ("il6-joined", "IL6 knockout mice", "Mice without the cytokine."),
        ("il6-spaced", "IL 6 and fever", "A spaced spelling."),
        ("adar-family", "ADAR enzymes edit RNA", "Editing of double-stranded RNA by the ADAR family."),
        ("adar1-binds", "ADAR1 binds Dicer", "ADAR1 forms a complex with Dicer."),
        ("wiki-editing", "Editing wiki pages", "Edit, edit and edit again."),
        ("page-1", "Manual", "Notes on page 1 of the manual."),
        ("tnf-greek", "TNF-\u03b1 blockade", "Anti-TNF-\u03b1 antibodies in arthritis."),
        ("tnf-latin", "TNF alpha in sepsis", "Tumour necrosis factor alpha."),
    ]
    index = open_index(tmp_path / "science", items)
    yield index
    index.close()


def test_compound_spellings_find_each_other(science: SearchIndex) -> None:
    assert {"il6-hyphen", "il6-joined"} <= set(ranked(science, "IL6"))
    assert {"il6-hyphen", "il6-joined"} <= set(ranked(science, "IL-6"))
    assert "il6-hyphen" in ranked(science, "IL 6")


def test_phrases_span_hyphenated_words(science: SearchIndex) -> None:
    assert ranked(science, '"IL-6 signalling"') == ["il6-hyphen"]
    assert ranked(science, '"IL 6 signalling"') == ["il6-hyphen"]
    assert ranked(science, '"ADAR1 binds"') == ["adar1-binds"]


def test_letter_digit_parts_lift_but_never_widen(science: SearchIndex) -> None:
    # Two items match only "editing"; the part "adar" of "ADAR1" puts the one about ADAR above the
    # one that says "edit" more often, but adds no match of its own: "ADAR1" alone finds one item,
    # and its digit part never pulls in "page 1".
    assert ranked(science, "ADAR1 editing") == ["adar1-binds", "adar-family", "wiki-editing"]
    assert ranked(science, "ADAR1") == ["adar1-binds"]
    highlights = science.search(SearchRequest(q="ADAR1")).hits[0].highlights
    assert highlights["title"] == "<mark>ADAR1</mark> binds Dicer"


def test_greek_letters_match_their_names(science: SearchIndex) -> None:
    assert set(ranked(science, "TNF-alpha")[:2]) == {"tnf-greek", "tnf-latin"}
    assert "tnf-latin" in ranked(science, "TNF-\u03b1")
    hit = science.search(SearchRequest(q="TNF-alpha")).hits
    greek = next(h for h in hit if h.id == "tnf-greek")
    assert "<mark>TNF-\u03b1</mark>" in greek.highlights["title"]
