"""Tests of relevance ordering (index/search/querylang.py, index/search/whoosh/reader.py) on a real index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.errors import QueryError
from index.model import FeedItem, SearchRequest
from index.search.querylang import MAX_QUERY_CHARS, MAX_TIER_WORDS
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


@pytest.fixture()
def library(tmp_path: Path) -> Iterator[SearchIndex]:
    """Items for long, wordy questions: each names one topic, some share the question's filler words."""
    items = [
        ("assoc", "Associative memories", "Content-addressable stores built as associative processors."),
        ("parallel", "Parallel machines", "Information about machines with increased parallelism."),
        ("users", "Library users", "Information on who uses a library and why, with interest in methods."),
        ("nonusers", "Non-users of libraries", "Why some people never use a library."),
        ("titles", "Descriptive titles", "Problems in making up descriptive titles for reports."),
        ("filler", "Information services", "Information, information and more information services."),
    ]
    index = open_index(tmp_path / "library", items)
    yield index
    index.close()


def test_a_repeated_word_weighs_as_often_as_it_is_said(library: SearchIndex) -> None:
    once = "machines parallelism associative memories information sources"
    thrice = ("associative machines, associative parallelism, associative memories, information "
              "sources")
    assert ranked(library, once)[0] == "parallel"  # two of its words against two of "assoc"'s, once each
    assert ranked(library, thrice)[0] == "assoc"
    scores = {h.id: h.score for h in library.search(SearchRequest(q=thrice, per_page=10)).hits}
    single = {h.id: h.score for h in library.search(SearchRequest(q=once, per_page=10)).hits}
    assert scores["parallel"] == pytest.approx(single["parallel"])  # its words are said once in both


def test_a_sentence_in_capitals_reads_and_or_not_as_words(library: SearchIndex) -> None:
    shouted = "I AM INTERESTED IN LIBRARY USERS AND NOT IN NON-USERS OR THEIR REASONS"
    # As operators, "NOT IN NON-USERS" would drop the item about non-users; in capitals they are words.
    assert {"users", "nonusers"} <= set(ranked(library, shouted))
    assert "nonusers" not in ranked(library, "library users NOT non-users")  # keywords: still operators
    assert "nonusers" not in ranked(library, "LIBRARY USERS NOT NON-USERS")


def test_a_sentence_with_an_unpaired_quote_is_read_without_it(library: SearchIndex) -> None:
    pasted = 'What problems are there in making up "descriptive titles for reports? (see Smith 1970'
    assert ranked(library, pasted)[0] == "titles"
    with pytest.raises(QueryError, match="Unbalanced quote"):
        library.search(SearchRequest(q='"descriptive titles'))  # keywords: refused, to be fixed
    with pytest.raises(QueryError, match="limit"):
        library.search(SearchRequest(q="titles " * (MAX_QUERY_CHARS // 7 + 1)))


def test_a_long_question_is_ranked_by_what_it_is_about(library: SearchIndex) -> None:
    question = ("I would be interested to receive information on non-users of libraries, including any "
                "studies of who are non-users and why they are non-users. " * 20)
    assert len(question) > 2000
    assert ranked(library, question)[:2] == ["nonusers", "users"]
