"""Tests for index/search/whoosh/reader.py: query language, totals, facets, highlights, lookup, reopening."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from index.errors import QueryError
from index.model import SearchRequest
from index.search.whoosh import reader as reader_module
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import CHANGED_FILE, IndexStore
from index.search.whoosh.writer import delete_items, write_items
from tests.support.indexes import SAMPLE_FILES, items_from, jsonl_items

EXTRA = [
    {"id": "x1", "title": "Reinforcement learning for robots", "summary": "Policy gradients and reward.",
     "source": "Alpha", "published": "2026-01-10T00:00:00Z", "authors": ["Ada Lovelace"], "tags": ["rl"]},
    {"id": "x2", "title": "Supervised learning basics", "summary": "Labels and losses, no reward at all.",
     "source": "Beta", "published": "2026-02-10T00:00:00Z", "authors": ["Alan Turing"], "tags": ["ml"]},
    {"id": "x3", "title": "Reinforcement schedules in psychology", "summary": "Operant conditioning.",
     "source": "Beta", "published": "2025-12-01T00:00:00Z"},
    {"id": "x4", "title": "&lt;script&gt;alert(1)&lt;/script&gt; & <img src=x onerror=alert(2)> learning",
     "summary": "Escaping &lt;b&gt; matters: <script>x</script> learning", "source": "Gamma"},
]


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[SearchIndex]:
    root = tmp_path / "ix"
    write_items(IndexStore(root), [*items_from(SAMPLE_FILES), *jsonl_items(EXTRA)])
    idx = SearchIndex(root, check_interval=0)
    yield idx
    idx.close()


def all_ids(index: SearchIndex, **kwargs: object) -> list[str]:
    ids: list[str] = []
    page = 1
    while True:
        result = index.search(SearchRequest(per_page=100, page=page, **kwargs))  # type: ignore[arg-type]
        if not result.hits:
            return ids
        ids.extend(h.id for h in result.hits)
        page += 1


def test_browse_is_everything_newest_first(index: SearchIndex) -> None:
    page = index.search(SearchRequest(q="", per_page=100))
    assert page.total == 44 == len(page.hits)
    dates = [h.published for h in page.hits if h.published is not None]
    assert dates == sorted(dates, reverse=True)


def test_all_words_rank_first_then_some(index: SearchIndex) -> None:
    hits = index.search(SearchRequest(q="reinforcement learning", per_page=100)).hits
    ids = [h.id for h in hits]
    assert ids.index("x1") < ids.index("x3") and ids.index("x1") < ids.index("x2")
    both = [h for h in hits if "reinforc" in h.title.lower() + h.snippet.lower()]
    assert both, "expected some hits with both words"


def test_match_all_restricts(index: SearchIndex) -> None:
    some = index.search(SearchRequest(q="reinforcement learning")).total
    every = index.search(SearchRequest(q="reinforcement learning", match="all")).total
    assert 0 < every < some


def test_sentence_still_finds_items(index: SearchIndex) -> None:
    page = index.search(SearchRequest(q="how do robots learn from reward with policy gradients?"))
    assert page.hits and page.hits[0].id == "x1"


def test_phrase_field_prefix_fuzzy_and_negation(index: SearchIndex) -> None:
    assert all_ids(index, q='"operant conditioning"') == ["x3"]
    assert set(all_ids(index, q="title:reinforcement")) >= {"x1", "x3"}
    assert "x2" not in all_ids(index, q="title:reinforcement")
    assert set(all_ids(index, q="reinforcem*")) >= {"x1", "x3"}
    assert "x1" in all_ids(index, q="reinforcment~")
    assert all_ids(index, q='source:"alpha"') == ["x1"]
    assert all_ids(index, q='author:"ada lovelace"') == ["x1"]
    assert all_ids(index, q="tag:ml") == ["x2"]
    with_reward = set(all_ids(index, q="reward"))
    assert with_reward >= {"x1", "x2"}
    assert set(all_ids(index, q="reward -supervised")) == with_reward - {"x2"}
    assert set(all_ids(index, q="reward NOT supervised")) == with_reward - {"x2"}
    assert set(all_ids(index, q="reward AND NOT supervised")) == with_reward - {"x2"}


def test_total_is_exact_for_every_kind_of_query(index: SearchIndex) -> None:
    for q in ["learning", "learning -reinforcement", "NOT learning", "learn* OR reward", '"learning"']:
        total = index.search(SearchRequest(q=q, per_page=5)).total
        assert total == len(all_ids(index, q=q)), q


def test_source_facets_ignore_the_source_filter(index: SearchIndex) -> None:
    unfiltered = index.search(SearchRequest(q="learning"))
    filtered = index.search(SearchRequest(q="learning", sources=("Beta",)))
    assert filtered.source_facets == unfiltered.source_facets
    beta = next(f.count for f in unfiltered.source_facets if f.value == "Beta")
    assert filtered.total == beta
    assert {h.source for h in filtered.hits} == {"Beta"}
    both = index.search(SearchRequest(q="learning", sources=("Beta", "alpha")))
    assert both.total == beta + 1  # source names match without regard to case


def test_date_filters_and_month_facets(index: SearchIndex) -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    until = datetime(2026, 1, 31, tzinfo=UTC)
    ids = all_ids(index, q="learning", since=since, until=until)
    assert "x1" in ids and "x2" not in ids and "x3" not in ids
    page = index.search(SearchRequest(q="learning", since=since, until=until))
    assert sum(f.count for f in page.month_facets) == page.total
    assert all(f.value == "2026-01" for f in page.month_facets)


def test_sorting_by_date(index: SearchIndex) -> None:
    newest = index.search(SearchRequest(q="reinforcement", sort="newest", per_page=100)).hits
    oldest = index.search(SearchRequest(q="reinforcement", sort="oldest", per_page=100)).hits
    assert [h.id for h in newest] == [h.id for h in reversed(oldest)]
    assert all(h.score > 0 for h in newest)


def test_paging_past_the_end_and_deep_paging(index: SearchIndex) -> None:
    page = index.search(SearchRequest(q="learning", page=50))
    assert page.hits == [] and page.total > 0
    with pytest.raises(QueryError, match="10000"):
        index.search(SearchRequest(page=101, per_page=100))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_highlights_escape_item_text_and_carry_only_mark(index: SearchIndex) -> None:
    hits = index.search(SearchRequest(q="learning escaping", per_page=100)).hits
    hit = next(h for h in hits if h.id == "x4")
    for html in hit.highlights.values():
        parser = _Tags()
        parser.feed(html)
        assert set(parser.tags) <= {"mark"}
    assert "&lt;script&gt;" in hit.highlights["title"]
    assert "<mark>learning</mark>" in hit.highlights["title"]
    assert "&amp;lt;b&amp;gt;" not in hit.highlights["summary"]  # one escaping of the text "<b>", not two
    assert "&lt;b&gt;" in hit.highlights["summary"]
    assert "<script>" in hit.title  # title is plain text, documented as such


def test_snippet_is_plain_text_around_the_match(index: SearchIndex) -> None:
    hit = index.search(SearchRequest(q='"operant conditioning"')).hits[0]
    assert "Operant conditioning" in hit.snippet and "<mark>" not in hit.snippet
    assert "<mark>Operant</mark> <mark>conditioning</mark>" in hit.highlights["summary"]


@pytest.mark.parametrize(
    ("q", "message"),
    [('"unbalanced', "Unbalanced quote"), ("(open", "parenthesis"), ("a*", "prefix"), ("x" * 10_001, "limit"),
     ("the of and", "no searchable words"), ("word~5", "Fuzzy distance")],
)
def test_bad_queries_are_query_errors(index: SearchIndex, q: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        index.search(SearchRequest(q=q))


def test_did_you_mean(index: SearchIndex) -> None:
    page = index.search(SearchRequest(q="condtioning"))
    assert page.total == 0
    assert page.did_you_mean == "conditioning"
    assert index.search(SearchRequest(q="learning")).did_you_mean is None


def test_get_similar_and_sources(index: SearchIndex) -> None:
    item = index.get("x1")
    assert item is not None and item.authors == ("Ada Lovelace",) and item.tags == ("rl",)
    assert item.summary == "Policy gradients and reward."
    assert index.get("nope") is None
    similar = index.similar("x1")
    assert similar is not None and similar and all(h.id != "x1" for h in similar)
    assert index.similar("nope") is None
    rows, total = index.sources()
    assert total == 44 and sum(r.count for r in rows) == 44
    assert [r.count for r in rows] == sorted((r.count for r in rows), reverse=True)
    rows, total = index.sources("reinforcement")
    assert total == sum(r.count for r in rows) and total < 44


def test_new_commits_and_deletions_are_seen_without_refresh(index: SearchIndex, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    assert index.search(SearchRequest(q="zanzibar")).total == 0
    write_items(store, jsonl_items([{"id": "z1", "title": "Zanzibar spice routes"}]))
    assert [h.id for h in index.search(SearchRequest(q="zanzibar")).hits] == ["z1"]
    delete_items(store, ["z1", "x1"])
    assert index.search(SearchRequest(q="zanzibar")).total == 0
    assert index.get("x1") is None
    facets = index.search(SearchRequest(q="")).source_facets
    assert "Alpha" not in {f.value for f in facets}


def test_invalidate_makes_the_next_read_see_a_write_despite_a_long_check_interval(tmp_path: Path) -> None:
    # Without the index's changed stamp (a writer from before it), which the writers here leave.
    root = tmp_path / "ix"
    write_items(IndexStore(root), jsonl_items(EXTRA))
    (root / CHANGED_FILE).unlink()
    idx = SearchIndex(root, check_interval=3600)
    try:
        assert idx.get("x1") is not None
        delete_items(IndexStore(root), ["x1"])
        (root / CHANGED_FILE).unlink()
        assert idx.get("x1") is not None  # the open view is served until the interval is up...
        idx.invalidate()
        assert idx.get("x1") is None  # ...unless the writer says the index changed
        assert "x1" not in all_ids(idx)
    finally:
        idx.close()


def test_date_order_read_off_the_whole_index_equals_sorting_the_subset(index: SearchIndex) -> None:
    """Large subsets are ordered through the view's order of every document, small ones by sorting."""
    import numpy as np

    rng = np.random.default_rng(5)
    with index._use() as view:
        everything = view.all_docs
        for size in (1, 3, everything.size // 10, everything.size // 2, everything.size):
            docs = np.sort(rng.choice(everything, size=size, replace=False))
            expected = docs[np.lexsort((docs, view.sort_date[docs]))]
            assert np.array_equal(view.by_date(docs), expected), size
        assert view._date_order is not None  # the large subsets took the precomputed path


def test_an_or_of_more_words_than_the_budget_scores_its_rarest(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # word n is in n + 1 items: "alpha" in 1, ..., "epsilon" in 5.
    words = ["alpha", "bravo", "charlie", "delta", "epsilon"]
    items = jsonl_items({"id": f"{word}-{k}", "title": f"{word} item", "link": f"https://example.org/{word}/{k}",
                         "source": "budget"} for n, word in enumerate(words) for k in range(n + 1))
    write_items(IndexStore(tmp_path / "index"), items)
    index = SearchIndex(tmp_path / "index")
    try:
        everything = index.search(SearchRequest(q=" ".join(words), per_page=100))
        assert everything.total == 15
        monkeypatch.setattr(reader_module, "MAX_SCORED_WORDS", 3)  # the budget, made small enough to see
        page = index.search(SearchRequest(q=" ".join(words), per_page=100))
        assert page.total == 6  # alpha, bravo and charlie: the three rarest
        assert {hit.id.split("-")[0] for hit in page.hits} == {"alpha", "bravo", "charlie"}
    finally:
        index.close()
