"""Tests for index/search/whoosh/suggest.py and service/suggest_api.py: completions while typing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.support.api import assert_problem, validate_response
from tests.support.indexes import build_index, jsonl_items


def suggest(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/suggest", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    validate_response(response, "/v1/suggest")
    body: dict[str, Any] = response.get_json()
    return body


def record(n: int, title: str, source: str = "Notes", day: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": f"s-{n}", "title": title, "summary": "Text.", "link": f"https://example.org/{n}",
            "source": source, "published": f"2026-03-{day:02d}T00:00:00Z", **extra}


RECORDS = [
    record(1, "Reinforcement Learning for Robots", day=1),
    record(2, "Offline Reinforcement Learning, Revisited", day=5),
    record(3, "Reinforced Concrete Bridges", source="Civil Weekly", day=3),
    record(4, "Learning Rate Schedules", day=4),
    record(5, "Régularisation et apprentissage", source="Revue Française", day=2),
]


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index", jsonl_items(RECORDS))
    return tmp_path / "index"


def titles(index: SearchIndex, text: str, limit: int = 8) -> list[str]:
    return [t.id for t in index.suggest(text, limit=limit).titles]


def test_the_last_word_is_a_prefix_and_the_others_whole_words(index_dir: Path) -> None:
    index = SearchIndex(index_dir)
    try:
        assert titles(index, "reinf") == ["s-2", "s-3", "s-1"]  # newest first
        assert titles(index, "REINFORCEMENT lea") == ["s-2", "s-1"]
        assert titles(index, "reinforcement learning") == ["s-2", "s-1"]
        assert titles(index, "reinf ") == []  # a space ends the word: "reinf" is not a whole word
        assert titles(index, "learning reinf") == ["s-2", "s-1"]  # in any order
        assert titles(index, "régul") == ["s-5"]
        assert titles(index, "zebra") == []
        assert titles(index, "   ") == []
        assert titles(index, "l", limit=2) == ["s-2", "s-4"]
    finally:
        index.close()


def test_sources_match_on_any_word_largest_first(index_dir: Path) -> None:
    index = SearchIndex(index_dir)
    try:
        found = index.suggest("w").sources
        assert [(s.name, s.count) for s in found] == [("Civil Weekly", 1)]
        assert [s.name for s in index.suggest("fran").sources] == ["Revue Française"]
        assert [s.name for s in index.suggest("no").sources] == ["Notes"]
        assert index.suggest("civil weekly").sources[0].name == "Civil Weekly"
        assert index.suggest("notes x").sources == []
    finally:
        index.close()


def test_new_updated_and_deleted_items_are_seen_after_a_commit(index_dir: Path) -> None:
    index = SearchIndex(index_dir, check_interval=0)
    try:
        assert titles(index, "reinforced") == ["s-3"]
        write_items(IndexStore(index_dir), jsonl_items([
            record(3, "Prestressed Concrete Bridges", source="Civil Weekly", day=3),
            record(6, "Reinforced Earth Walls", source="Civil Weekly", day=9),
        ]))
        assert titles(index, "reinforced") == ["s-6"]  # the old title of s-3 is gone
        assert titles(index, "prestr") == ["s-3"]
    finally:
        index.close()


def test_the_endpoint_answers_titles_and_sources(tmp_path: Path, index_dir: Path,
                                                 make_app: Callable[..., Flask]) -> None:
    client = make_app(index_dir).test_client()
    body = suggest(client, q="Reinforcement Lea", limit=1)
    assert body == {"q": "Reinforcement Lea", "titles": [{
        "id": "s-2", "title": "Offline Reinforcement Learning, Revisited", "source": "Notes",
        "published": "2026-03-05T00:00:00Z"}], "sources": []}
    body = suggest(client, q="civ")
    assert body["sources"] == [{"name": "Civil Weekly", "count": 1}]


def test_titles_are_plain_text(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "index", jsonl_items([record(1, "Quoll &lt;script&gt; watching")]))
    body = suggest(make_app(tmp_path / "index").test_client(), q="quo")
    assert body["titles"][0]["title"] == "Quoll <script> watching"


def test_the_samples(client: FlaskClient) -> None:
    body = suggest(client, q="reinforcement lea")
    assert body["titles"] and all("reinforcement learning" in t["title"].lower() for t in body["titles"])
    assert [s["name"] for s in suggest(client, q="gradient")["sources"]] == ["Gradient Notes"]


@pytest.mark.parametrize(("query", "param"), [
    ("", "q"), ("q=", "q"), ("q=ab&limit=0", "limit"), ("q=ab&limit=21", "limit"), ("q=ab&x=1", "x"),
    ("q=" + "a" * 201, "q"), ("q=a&q=b", "q"),
])
def test_bad_parameters_are_problems(client: FlaskClient, query: str, param: str) -> None:
    response = client.get(f"/v1/suggest?{query}")
    assert_problem(response, 400, "invalid-parameters", param=param)
    validate_response(response, "/v1/suggest")


def test_a_missing_index_is_a_503_problem(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    response = make_app(tmp_path / "missing").test_client().get("/v1/suggest?q=ab")
    assert_problem(response, 503, "index-unavailable")
    validate_response(response, "/v1/suggest")


def test_warm_up_reads_the_titles_and_never_fails(tmp_path: Path, index_dir: Path,
                                                  make_app: Callable[..., Flask]) -> None:
    from index.search.whoosh import suggest as engine_suggest
    from service.suggest_api import warm_up

    warm_up(make_app(tmp_path / "missing"))  # no index yet: nothing to read, nothing raised
    engine_suggest._CACHE.clear()
    warm_up(make_app(index_dir))
    assert any(key[0].startswith(str(index_dir)) for key in engine_suggest._CACHE)
