"""Tests of relevance ordering in index/query.py and index/searcher.py, on a real index in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.model import FeedItem
from index.query import MAX_TIER_WORDS
from index.searcher import SearchIndex, SearchRequest
from index.store import IndexStore
from index.writer import write_items

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


@pytest.fixture()
def searcher(tmp_path: Path) -> SearchIndex:
    items = [FeedItem(id=i, title=t, link=f"https://example.org/{i}", summary=s, source="test")
             for i, t, s in ITEMS]
    write_items(IndexStore(tmp_path / "index"), items)
    index = SearchIndex(tmp_path / "index")
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
