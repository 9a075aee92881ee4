"""The Typesense engine against the Whoosh engine over the same items, on a real typesense-server.

Where both engines give a query the same meaning (browse, filters, words, phrases without inflected
forms) totals and facets must be equal; where they differ by design the difference is pinned here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from index.alerts import AlertStore, AlertWatcher, Outbox
from index.alerts.match import match_items
from index.errors import EngineUnavailableError, IndexMissingError, QueryError
from index.model import FeedItem, Page, SearchRequest, SourceCount
from index.search.engine import Engine
from index.search.typesense.engine import TypesenseEngine
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.support.indexes import SAMPLE_FILES, items_from, jsonl_items
from tests.support.typesense_nodes import API_KEY, Node, free_port

EXTRA: list[dict[str, Any]] = [
    {"id": "ts-xss", "title": "&lt;script&gt;alert(1)&lt;/script&gt; & <img src=x onerror=alert(2)> quasar",
     "summary": "Quasar notes: &lt;img src=x onerror=alert(3)&gt; and &lt;b&gt;bold&lt;/b&gt; "
                "3 &lt; 4 &amp; 5.",
     "link": "https://ts.example.org/xss", "source": "Edge Cases", "published": "2025-12-31T23:30:00Z",
     "authors": ["Mary Jane Doe"], "tags": ["Security", "data science"]},
    {"id": "ts-plural", "title": "Quasars and their hosts", "summary": "Many quasars in one survey field.",
     "link": "https://ts.example.org/plural", "source": "Edge Cases", "published": "2026-01-02T08:00:00Z"},
    {"id": "ts-undated", "title": "An undated note on photometry", "summary": "Photometry without a date.",
     "link": "https://ts.example.org/undated", "source": "edge cases lower"},
    {"id": "ts-hyphens", "title": "IL-6 signalling, GPT-4 and the café: e.g. 3.5 models",
     "summary": "Straße und Ökonomie: input/output of GPT-4 on IL6 assays.",
     "link": "https://ts.example.org/hyphens", "source": "Edge Cases", "published": "2026-01-03T08:00:00Z"},
]

# Queries that mean the same on both engines: totals, source facets and month facets must agree.
SAME_MEANING = [
    "",
    "learning",
    "reinforcement learning",
    "model",  # Typesense matches "models" too: stems are kept in `terms`
    "quasar",
    '"reinforcement learning"',
    '"graph neural"',
    "diffusion OR galaxy",
    "learning NOT reinforcement",
    "learning -offline",
    "reinforcement AND learning",
    "(diffusion OR galaxy) AND model",
    'source:"Gradient Notes" learning',
    "source:gradient",
    "tag:llm",
    'tag:"data science"',
    "title:diffusion",
    "summary:benchmark",
    "author:novak",
    'author:"jane doe"',
    "transf*",
    "photo*",
    "the graph",
    '"reinforcement learning" -offline',
    "GPT-4",
    "IL-6 signalling",
    "IL6",
]


@pytest.fixture(scope="module")
def items() -> list[FeedItem]:
    return items_from(SAMPLE_FILES) + jsonl_items(EXTRA)


@pytest.fixture(scope="module")
def whoosh(items: list[FeedItem], tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    root = tmp_path_factory.mktemp("whoosh") / "index"
    write_items(IndexStore(root), items)
    index = SearchIndex(root)
    yield index
    index.close()


@pytest.fixture(scope="module")
def ts(items: list[FeedItem], typesense_node: Node) -> Iterator[TypesenseEngine]:
    engine = TypesenseEngine([typesense_node.url], API_KEY, "compare_items")
    engine.drop_collection()
    report = engine.upsert(items)
    assert (report.added, report.updated, report.unchanged) == (len(items), 0, 0)
    yield engine
    engine.drop_collection()
    engine.close()


def both(whoosh: SearchIndex, ts: TypesenseEngine, **args: object) -> tuple[Page, Page]:
    req = SearchRequest(**args)  # type: ignore[arg-type]
    return whoosh.search(req), ts.search(req)


@pytest.mark.parametrize("match", ["any", "all"])
@pytest.mark.parametrize("q", SAME_MEANING)
def test_same_meaning_gives_same_totals_and_facets(whoosh: SearchIndex, ts: TypesenseEngine, q: str,
                                                    match: str) -> None:
    w, t = both(whoosh, ts, q=q, match=match, per_page=100)
    assert t.total == w.total
    assert t.source_facets == w.source_facets
    assert t.month_facets == w.month_facets
    assert {h.id for h in t.hits} == {h.id for h in w.hits}


@pytest.mark.parametrize("q", ["", "learning", "model"])
def test_filters_by_source_and_date_agree(whoosh: SearchIndex, ts: TypesenseEngine, q: str) -> None:
    filters: list[dict[str, object]] = [
        {"sources": ("Gradient Notes",)},
        {"sources": ("gradient notes", "PAPER DIGEST WEEKLY")},
        {"sources": ("No Such Source",)},
        {"since": datetime(2026, 3, 1, tzinfo=UTC)},
        {"until": datetime(2026, 3, 1, tzinfo=UTC)},
        {"since": datetime(2026, 2, 1, tzinfo=UTC), "until": datetime(2026, 6, 1, tzinfo=UTC),
         "sources": ("Paper Digest Weekly", "Eval Lab Notes")},
    ]
    for extra in filters:
        w, t = both(whoosh, ts, q=q, per_page=100, **extra)
        assert (t.total, t.source_facets, t.month_facets) == (w.total, w.source_facets, w.month_facets), extra
        assert {h.id for h in t.hits} == {h.id for h in w.hits}, extra


def test_source_facets_ignore_the_source_filter(ts: TypesenseEngine) -> None:
    everything = ts.search(SearchRequest())
    narrowed = ts.search(SearchRequest(sources=("Gradient Notes",)))
    assert narrowed.total == 10
    assert narrowed.source_facets == everything.source_facets
    assert sum(f.count for f in narrowed.month_facets) == 10


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_date_orders_agree(whoosh: SearchIndex, ts: TypesenseEngine, sort: str) -> None:
    # Published dates in the samples are distinct, so the order is fully determined once undated items
    # (dated when first seen, several in the same second, tied differently) are left out by `until`.
    before = datetime(2026, 11, 1, tzinfo=UTC)
    w, t = both(whoosh, ts, q="learning", sort=sort, per_page=100, until=before)
    assert [h.id for h in t.hits] == [h.id for h in w.hits]
    for page in (1, 2, 3):
        w, t = both(whoosh, ts, sort=sort, per_page=7, page=page, until=before)
        assert [h.id for h in t.hits] == [h.id for h in w.hits]


@pytest.mark.parametrize("q", [
    "model learning",
    "graph models for language and galaxy images",
    '"reinforcement learning" AND (agents OR control OR learning)',
    "model*",
    "learning -offline",
    "GPT-4 models",
    "IL-6 signalling survey",
    "cafe models e.g.",
])
def test_relevance_pages_cover_the_match_set_once(whoosh: SearchIndex, ts: TypesenseEngine, q: str) -> None:
    # The ranked part and the rest are fetched separately; together they must be the match set.
    everything = whoosh.search(SearchRequest(q=q, per_page=100))
    seen: list[str] = []
    for page in range(1, 40):
        seen += [h.id for h in ts.search(SearchRequest(q=q, per_page=3, page=page)).hits]
    assert len(seen) == len(set(seen)) == everything.total
    assert set(seen) == {h.id for h in everything.hits}


def test_a_sentence_ranks_the_item_it_describes_first(ts: TypesenseEngine) -> None:
    q = "what actually transfers when offline reinforcement learning is used for recommendation"
    page = ts.search(SearchRequest(q=q))
    assert page.hits[0].title.startswith("Offline Reinforcement Learning for Recommendation")
    assert page.total > 10


def test_too_many_required_words_are_refused_clearly(ts: TypesenseEngine) -> None:
    words = [a + b + "qz" for a in "bcdfghjklm" for b in "aeiouy"]
    with pytest.raises(QueryError) as info:
        ts.search(SearchRequest(q=" ".join(words), match="all"))
    assert "too complex for the Typesense engine" in str(info.value)


def test_items_holding_every_word_rank_first(ts: TypesenseEngine) -> None:
    page = ts.search(SearchRequest(q="reinforcement offline", per_page=100))
    holds = ["reinforcement" in (h.title + h.snippet).lower() and "offline" in (h.title + h.snippet).lower()
             for h in page.hits]
    assert holds[0] and holds == sorted(holds, reverse=True)


def test_page_shapes_and_limits(ts: TypesenseEngine) -> None:
    page = ts.search(SearchRequest(q="learning", per_page=3, page=2))
    assert (page.page, page.per_page, len(page.hits)) == (2, 3, 3)
    hit = page.hits[0]
    assert isinstance(hit.score, float) and isinstance(hit.snippet, str)
    assert set(hit.highlights) == {"title", "summary"}
    assert ts.search(SearchRequest(q="learning", page=50)).hits == []
    with pytest.raises(QueryError) as info:
        ts.search(SearchRequest(page=101, per_page=100))
    assert info.value.param == "page"
    with pytest.raises(QueryError):
        ts.search(SearchRequest(sort="random"))


def test_highlights_escape_item_text(ts: TypesenseEngine) -> None:
    for q in ("quasar", "onerror", "script", "alert", "bold"):
        page = ts.search(SearchRequest(q=q, per_page=100))
        assert page.total >= 1, q
        for hit in page.hits:
            for html in hit.highlights.values():
                assert not re.search(r"<(?!/?mark>)", html), html
                assert ">" not in re.sub(r"</?mark>", "", html), html
    hit = next(h for h in ts.search(SearchRequest(q="quasar")).hits if h.id == "ts-xss")
    assert "<script>" in hit.title  # titles are plain text, documented as such
    assert hit.highlights["title"] == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <mark>quasar</mark>"
    assert "<mark>Quasar</mark> notes: &lt;img src=x onerror=alert(3)&gt;" in hit.highlights["summary"]


def test_highlights_mark_stemmed_forms(ts: TypesenseEngine) -> None:
    hit = next(h for h in ts.search(SearchRequest(q="quasar")).hits if h.id == "ts-plural")
    assert hit.highlights["title"] == "<mark>Quasars</mark> and their hosts"


def test_get_returns_the_same_items_as_whoosh(whoosh: SearchIndex, ts: TypesenseEngine,
                                              items: list[FeedItem]) -> None:
    for item in items:
        if item.id != "ts-undated":
            assert ts.get(item.id) == whoosh.get(item.id)
    assert ts.get("no-such-item") is None
    assert ts.get("../../collections") is None


def test_similar(ts: TypesenseEngine, items: list[FeedItem]) -> None:
    target = next(i for i in items if "Reinforcement" in i.title)
    hits = ts.similar(target.id, limit=5)
    assert hits is not None and 1 <= len(hits) <= 5
    assert target.id not in {h.id for h in hits}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any("reinforcement" in (h.title + h.snippet).lower() for h in hits[:3])
    assert ts.similar("no-such-item") is None


@pytest.mark.parametrize("text", ["reinf", "reinforcement lea", "graph ", "quasar", "gr", "edge", "e",
                                  "notes", "zzz", "  "])
def test_suggest_agrees_with_whoosh(whoosh: SearchIndex, ts: TypesenseEngine, text: str) -> None:
    w, t = whoosh.suggest(text, limit=5), ts.suggest(text, limit=5)
    assert t.sources == w.sources
    assert {s.id for s in t.titles} == {s.id for s in w.titles}
    dated = [s for s in t.titles if s.published is not None]
    assert [s.id for s in dated] == [s.id for s in w.titles if s.published is not None]
    assert t.titles == sorted(t.titles, key=lambda s: s.published or datetime.max.replace(tzinfo=UTC),
                              reverse=True)


def test_suggest_completes_a_prefix_to_every_word(make_engine: Callable[..., TypesenseEngine]) -> None:
    # Typesense alone expands a prefix to a few words (10 items of these 64): max_candidates lifts that.
    engine = make_engine()
    engine.upsert([FeedItem(id=f"pre{a}{b}", title=f"pre{a}{b} notes", link="", summary="x", source="S")
                   for a in "abcdefgh" for b in "abcdefgh"])
    assert len(engine.suggest("pre", limit=100).titles) == 64


def test_dates(whoosh: SearchIndex, ts: TypesenseEngine, items: list[FeedItem]) -> None:
    ids = [i.id for i in items if i.published is not None] + ["no-such-item"]
    assert ts.dates(ids) == whoosh.dates(ids)
    assert set(ts.dates(["ts-undated"])) == {"ts-undated"}


def test_sources_and_stats_agree(whoosh: SearchIndex, ts: TypesenseEngine) -> None:
    def comparable(rows: list[SourceCount]) -> list[tuple[str, int, datetime | None]]:
        # Undated items are dated when an index first saw them: their sources' newest dates differ.
        cutoff = datetime(2026, 11, 1, tzinfo=UTC)
        return [(r.name, r.count, r.newest if r.newest and r.newest < cutoff else None) for r in rows]

    for q in (None, "learning", "photometry"):
        (w_rows, w_total), (t_rows, t_total) = whoosh.sources(q), ts.sources(q)
        assert (comparable(t_rows), t_total) == (comparable(w_rows), w_total)
    stats = ts.stats()
    assert (stats.items, stats.sources) == (whoosh.stats().items, whoosh.stats().sources)
    assert stats.last_update is not None and ts.count() == whoosh.count()
    ts.check_health()  # raises when a node or the collection cannot answer


def test_the_engine_fits_the_protocol(ts: TypesenseEngine) -> None:
    engine: Engine = ts  # mypy checks the signatures here; isinstance only the names
    assert isinstance(engine, Engine)


# -- differences by design, pinned --------------------------------------------------------------


def test_phrases_match_literally_without_stemming(whoosh: SearchIndex, ts: TypesenseEngine) -> None:
    # Whoosh phrases match stems ("neural network" finds "neural networks"); Typesense's phrase
    # search sees the words as written.
    w, t = both(whoosh, ts, q='"neural network"')
    assert w.total > t.total
    w, t = both(whoosh, ts, q='"neural networks"')
    assert t.total == w.total >= 1


def test_no_typo_tolerance(whoosh: SearchIndex, ts: TypesenseEngine) -> None:
    # Typesense's typo tolerance is off, so a misspelt word finds nothing on either engine.
    w, t = both(whoosh, ts, q="galxy")
    assert t.total == w.total == 0
    assert t.did_you_mean == w.did_you_mean == "galaxy"


def test_long_queries_fit_the_multi_search_limit(ts: TypesenseEngine) -> None:
    # 60 unknown words: did_you_mean checks each, more than the server's 50 searches per request.
    words = [a + b + "qz" for a in "bcdfghjklm" for b in "aeiouy"]
    page = ts.search(SearchRequest(q=" ".join(words)))
    assert page.total == 0 and page.did_you_mean is None


def test_refused_constructs_name_the_construct_and_the_engine(whoosh: SearchIndex,
                                                             ts: TypesenseEngine) -> None:
    for q, construct in [("reinforcment~", "Fuzzy"), ('"deep learning" OR galaxy', "phrase"),
                         ('title:"graph neural" AND "language models"', "phrases on different fields")]:
        with pytest.raises(QueryError) as info:
            ts.search(SearchRequest(q=q))
        assert construct in str(info.value) and "Typesense" in str(info.value), q
    assert whoosh.search(SearchRequest(q="reinforcment~")).total > 0


def test_query_errors_are_the_whoosh_ones(whoosh: SearchIndex, ts: TypesenseEngine) -> None:
    for q in ['"unbalanced', "(open", "a*", "the"]:
        with pytest.raises(QueryError) as w:
            whoosh.search(SearchRequest(q=q))
        with pytest.raises(QueryError) as t:
            ts.search(SearchRequest(q=q))
        assert str(t.value) == str(w.value)


def test_ranking_differs_but_covers_the_same_items(whoosh: SearchIndex, ts: TypesenseEngine) -> None:
    w, t = both(whoosh, ts, q="reinforcement learning", per_page=100)
    assert {h.id for h in t.hits} == {h.id for h in w.hits}
    assert [h.id for h in t.hits] != [h.id for h in w.hits]


# -- writes ------------------------------------------------------------------------------------


def test_reingest_reports_unchanged_updated_added_and_deletes(make_engine: Callable[..., TypesenseEngine],
                                                              items: list[FeedItem]) -> None:
    engine = make_engine(import_batch=16)
    assert engine.upsert(items).added == len(items)
    again = engine.upsert(items)
    assert (again.added, again.updated, again.unchanged, again.committed_ids) == (0, 0, len(items), [])
    first_seen = engine.get("ts-undated")
    changed = [FeedItem(**{**items[0].__dict__, "title": "Retitled"}), *jsonl_items([{
        "id": "ts-new", "title": "A new item", "summary": "Fresh.", "link": "https://ts.example.org/new"}])]
    report = engine.upsert(changed)
    assert (report.added, report.updated, report.unchanged) == (1, 1, 0)
    assert sorted(report.committed_ids) == sorted([items[0].id, "ts-new"])
    assert engine.get(items[0].id).title == "Retitled"  # type: ignore[union-attr]
    assert engine.get("ts-undated") == first_seen
    assert engine.delete([items[0].id, "ts-new", "never-there"]) == 2
    assert engine.count() == len(items) - 1


def test_missing_collection_and_unreachable_nodes(make_engine: Callable[..., TypesenseEngine]) -> None:
    missing = make_engine()
    with pytest.raises(IndexMissingError):
        missing.search(SearchRequest())
    assert missing.get("x") is None and missing.delete(["x"]) == 0
    with pytest.raises(IndexMissingError):  # the nodes answer, but there is no collection to read
        missing.check_health()
    dead = TypesenseEngine([f"http://127.0.0.1:{free_port()}"], API_KEY, num_retries=0,
                           connection_timeout=0.5)
    try:
        with pytest.raises(EngineUnavailableError, match="health check"):
            dead.check_health()
        with pytest.raises(EngineUnavailableError):
            dead.search(SearchRequest())
    finally:
        dead.close()


def test_ids_with_awkward_characters(make_engine: Callable[..., TypesenseEngine]) -> None:
    # JSON Lines ids are restricted, but feed guids are hashed and FeedItem itself takes any string.
    engine = make_engine()
    odd = [FeedItem(id=i, title=f"Odd id {n}", link=f"https://x.example/{n}", summary="odd", source="Odd")
           for n, i in enumerate(["a/b?c#d", "with`tick", "spa ce", "x:y~z.1"])]
    assert engine.upsert(odd).added == 4
    assert engine.upsert(odd).unchanged == 4
    assert [engine.get(i.id).title for i in odd] == [i.title for i in odd]  # type: ignore[union-attr]
    assert engine.delete(i.id for i in odd) == 4


def test_writes_feed_the_alerts_and_recovery_reads_fingerprints(
        make_engine: Callable[..., TypesenseEngine], items: list[FeedItem], tmp_path: Path) -> None:
    store = AlertStore.beside(tmp_path)
    alert, _ = store.add("learning", "http://127.0.0.1:9/hook", allow_private=True)
    engine = make_engine(import_batch=16, watcher=AlertWatcher(tmp_path))
    engine.upsert(items)
    engine.upsert(items)  # unchanged: nothing more queued
    with store.connect() as conn:
        queued = [row[0] for row in conn.execute("SELECT item_id FROM alert_outbox")]
    matching = {i.id for i in match_items([alert], items)[alert.id]}
    assert matching and sorted(queued) == sorted(matching)
    assert engine.fingerprints([items[0].id, "never-there"]) == {items[0].id: items[0].fingerprint()}
    # A journal row of committed items is settled from what the collection holds, without repeats.
    Outbox(store).journal(items[:3])
    assert Outbox(store).recover(engine.fingerprints) == 0
