"""The API contract on both engines: the same requests to an app over Whoosh and over Typesense.

Both apps hold the same items (every sample file plus a few edge cases). Where both engines give a
request the same meaning (browse, filters, phrases, words without inflected forms in the data) the
answers must match in shape, totals and facet counts; where they differ by design (README, "Engine
differences") the difference is pinned here. The Typesense app runs on the suite's real node.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from index.search.typesense.engine import TypesenseEngine
from index.search.whoosh.engine import WhooshEngine
from index.settings import Settings
from service import engine as service_engine
from service.app import create_app
from service.engine import current_engine
from tests.support.api import assert_problem, validate_response
from tests.support.indexes import SAMPLE_FILES, items_from, jsonl_items
from tests.support.typesense_nodes import API_KEY, Node, free_port

ENGINES = ("whoosh", "typesense")
TOKEN = "contract-engines-token-0123456789"
EXTRA: list[dict[str, Any]] = [
    {"id": "ct-xss", "title": "&lt;script&gt;alert(1)&lt;/script&gt; quasar survey",
     "summary": "Quasar notes &lt;img src=x onerror=alert(3)&gt; and 3 &lt; 4.",
     "link": "https://ct.example.org/xss", "source": "Edge Cases", "published": "2025-12-31T23:30:00Z",
     "authors": ["Mary Jane Doe"], "tags": ["Security", "data science"]},
    {"id": "ct-plural", "title": "Quasars and their hosts", "summary": "Many quasars in one survey field.",
     "link": "https://ct.example.org/plural", "source": "Edge Cases", "published": "2026-01-02T08:00:00Z"},
    {"id": "ct-undated", "title": "An undated note on photometry", "summary": "Photometry without a date.",
     "link": "https://ct.example.org/undated", "source": "edge cases lower"},
]
# Requests that mean the same on both engines: the whole answer but scores, order and highlights agrees.
SAME_MEANING = [
    {},
    {"q": "learning"},
    {"q": "reinforcement learning", "match": "all"},
    {"q": '"reinforcement learning"'},
    {"q": '"graph neural"'},
    {"q": "diffusion OR galaxy"},
    {"q": "learning -offline"},
    {"q": "(diffusion OR galaxy) AND model"},
    {"q": "source:gradient"},
    {"q": 'tag:"data science"'},
    {"q": "title:diffusion"},
    {"q": 'author:"jane doe"'},
    {"q": "transf*"},
    {"q": "quasar"},
    {"source": ["Gradient Notes"]},
    {"q": "learning", "source": ["gradient notes", "PAPER DIGEST WEEKLY"]},
    {"q": "model", "source": ["No Such Source"]},
    {"since": "2026-03-01"},
    {"q": "learning", "until": "2026-02-28", "sort": "newest"},
    {"q": "learning", "sort": "oldest", "page": 2, "per_page": 5},
]


def _app(kind: str, root: Path, node: Node | None) -> tuple[Flask, TypesenseEngine | None]:
    settings = Settings(index_dir=root, api_token=TOKEN, reopen_interval=3600.0)
    app = create_app(settings)
    if kind == "whoosh":
        return app, None
    assert node is not None
    # The app's own engine would use the production collection; each app here gets a fresh one.
    engine = TypesenseEngine([node.url], API_KEY, f"contract_{uuid.uuid4().hex[:12]}")
    current_engine(app).close()
    service_engine.init_app(app, settings, engine=engine)
    return app, engine


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, typesense_node: Node) -> Iterator[dict[str, Flask]]:
    """An app per engine over the same items, shared by this module: never write to them."""
    items = items_from(SAMPLE_FILES) + jsonl_items(EXTRA)
    made: dict[str, Flask] = {}
    engines: list[TypesenseEngine] = []
    first_seen: dict[str, int] = {}
    for kind in ENGINES:
        app, engine = _app(kind, tmp_path_factory.mktemp(kind) / "index", typesense_node)
        if engine is None:
            report = current_engine(app).upsert(items)
            whoosh = current_engine(app)
            assert isinstance(whoosh, WhooshEngine)
            first_seen = {item.id: seen for item, seen in whoosh.export()}
        else:
            # Undated items sort by when they were first seen: the same second on both engines.
            report = engine.upsert(items, first_seen=first_seen)
            engines.append(engine)
        assert report.added == len({item.id for item in items})
        made[kind] = app
    yield made
    for engine in engines:
        engine.drop_collection()
    for app in made.values():
        current_engine(app).close()


@pytest.fixture(params=ENGINES)
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def client(apps: dict[str, Flask], kind: str) -> FlaskClient:
    return apps[kind].test_client()


@pytest.fixture
def fresh(tmp_path: Path, typesense_node: Node, kind: str) -> Iterator[FlaskClient]:
    """A client of an app over an empty index of this test's own, on the engine of ``kind``."""
    app, engine = _app(kind, tmp_path / "index", typesense_node)
    yield app.test_client()
    if engine is not None:
        engine.drop_collection()
    current_engine(app).close()


def both(apps: dict[str, Flask], path: str, **params: Any) -> dict[str, TestResponse]:
    return {kind: app.test_client().get(path, query_string=params) for kind, app in apps.items()}


def shape(value: Any) -> Any:
    """Return the shape of a JSON value: keys and types, with a list's items merged into one shape."""
    if isinstance(value, dict):
        return {key: shape(v) for key, v in sorted(value.items())}
    if isinstance(value, list):
        shapes = {repr(shape(v)) for v in value}
        return ["list", sorted(shapes)[:1]] if len(shapes) <= 1 else ["list", "mixed"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return type(value).__name__


def without_ranking(body: dict[str, Any]) -> dict[str, Any]:
    """Return a search answer without what ranking decides (scores, order, highlights), nor its time.

    ``did_you_mean`` is left out too: both engines offer one on the same condition, but the nearest
    word is each engine's own (pinned in test_no_typo_tolerance_on_either).
    """
    hits = sorted((h["id"], h["title"], h["link"], h["source"], h["published"], h["snippet"])
                  for h in body["hits"])
    return {**body, "hits": hits, "took_ms": None, "did_you_mean": None}


# -- the same answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("params", SAME_MEANING, ids=lambda p: repr(p) if p else "browse")
def test_same_meaning_same_answer(apps: dict[str, Flask], params: dict[str, Any]) -> None:
    per_page = {"per_page": 100} if "per_page" not in params else {}
    answers = both(apps, "/v1/search", **params, **per_page)
    bodies = {}
    for kind, response in answers.items():
        assert response.status_code == 200, (kind, response.get_json())
        validate_response(response, "/v1/search")
        bodies[kind] = response.get_json()
    whoosh, typesense = bodies["whoosh"], bodies["typesense"]
    assert whoosh["total"] == typesense["total"]
    assert whoosh["facets"] == typesense["facets"]
    if params.get("sort") in ("newest", "oldest") or not params.get("q"):
        # Date order is the same on both engines; the order of items with the same date is each
        # engine's own.
        assert [h["published"] for h in whoosh["hits"]] == [h["published"] for h in typesense["hits"]]
    assert without_ranking(whoosh) == without_ranking(typesense)
    assert shape({**whoosh, "did_you_mean": None}) == shape({**typesense, "did_you_mean": None})


def test_pages_cover_the_same_items(apps: dict[str, Flask]) -> None:
    seen: dict[str, list[str]] = {}
    for kind, app in apps.items():
        client = app.test_client()
        ids: list[str] = []
        page, total = 1, 1
        while len(ids) < total:
            body = client.get("/v1/search", query_string={"q": "learning model", "page": page,
                                                          "per_page": 7}).get_json()
            ids += [h["id"] for h in body["hits"]]
            page, total = page + 1, body["total"]
            assert body["hits"] and page < 50
        seen[kind] = ids
    assert len(set(seen["typesense"])) == len(seen["typesense"])
    assert sorted(seen["whoosh"]) == sorted(seen["typesense"])


def test_items_similar_and_sources_agree(apps: dict[str, Flask]) -> None:
    listing = both(apps, "/v1/search", per_page=100)["whoosh"].get_json()
    for hit in listing["hits"][:25]:
        items = both(apps, f"/v1/items/{hit['id']}")
        assert items["whoosh"].get_json() == items["typesense"].get_json()
        validate_response(items["typesense"], "/v1/items/{item_id}")
    for response in both(apps, f"/v1/items/{listing['hits'][0]['id']}/similar", limit=5).values():
        assert response.status_code == 200
        validate_response(response, "/v1/items/{item_id}/similar")
        assert listing["hits"][0]["id"] not in [h["id"] for h in response.get_json()["hits"]]
    for q in ("", "learning"):
        sources = both(apps, "/v1/sources", q=q)
        assert sources["whoosh"].get_json() == sources["typesense"].get_json()


def test_suggestions_and_readiness_agree(apps: dict[str, Flask]) -> None:
    for text in ("rein", "gradient", "qua"):
        answers = both(apps, "/v1/suggest", q=text)
        assert answers["whoosh"].get_json() == answers["typesense"].get_json(), text
    ready = both(apps, "/readyz")
    assert ready["whoosh"].get_json() == ready["typesense"].get_json()
    assert ready["typesense"].get_json()["items"] > 0


# -- the same errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "problem", "param"), [
    ({"q": '"unbalanced'}, "invalid-query", "q"),
    ({"q": "(open"}, "invalid-query", "q"),
    ({"q": "a*"}, "invalid-query", "q"),
    ({"q": "the"}, "invalid-query", "q"),
    ({"per_page": 0}, "invalid-parameters", "per_page"),
    ({"sort": "best"}, "invalid-parameters", "sort"),
    ({"page": 10_000, "per_page": 100}, "invalid-parameters", "page"),
])
def test_same_errors(apps: dict[str, Flask], params: dict[str, Any], problem: str, param: str) -> None:
    answers = both(apps, "/v1/search", **params)
    bodies = [assert_problem(response, 400, problem, param=param) for response in answers.values()]
    assert bodies[0] == bodies[1]


def test_unknown_items_are_the_same_404(apps: dict[str, Flask]) -> None:
    for path in ("/v1/items/no-such-item", "/v1/items/no-such-item/similar"):
        bodies = [assert_problem(r, 404, "not-found") for r in both(apps, path).values()]
        assert bodies[0] == bodies[1]


# -- the documented differences -----------------------------------------------------------------


@pytest.mark.parametrize(("q", "construct"), [
    ("reinforcment~", "Fuzzy"),
    ('"deep learning" OR galaxy', "phrase"),
    ('title:"graph neural" AND "language models"', "phrases on different fields"),
])
def test_typesense_refuses_what_it_cannot_answer_exactly(apps: dict[str, Flask], q: str,
                                                         construct: str) -> None:
    answers = both(apps, "/v1/search", q=q)
    assert answers["whoosh"].status_code == 200
    body = assert_problem(answers["typesense"], 400, "invalid-query", param="q")
    assert construct in body["detail"] and "Typesense" in body["detail"]


def test_phrases_match_literally_on_typesense(apps: dict[str, Flask]) -> None:
    # Whoosh phrases match stems ("neural network" finds "neural networks"); Typesense's do not.
    totals = {k: r.get_json()["total"] for k, r in both(apps, "/v1/search", q='"neural network"').items()}
    assert totals["whoosh"] > totals["typesense"]
    totals = {k: r.get_json()["total"] for k, r in both(apps, "/v1/search", q='"neural networks"').items()}
    assert totals["whoosh"] == totals["typesense"] >= 1


def test_no_typo_tolerance_on_either(apps: dict[str, Flask]) -> None:
    for response in both(apps, "/v1/search", q="galxy").values():
        body = response.get_json()
        assert (body["total"], body["did_you_mean"]) == (0, "galaxy")


def test_ranking_differs_but_scores_stay_numbers(apps: dict[str, Flask]) -> None:
    answers = {k: r.get_json() for k, r in both(apps, "/v1/search", q="learning", per_page=100).items()}
    assert {h["id"] for h in answers["whoosh"]["hits"]} == {h["id"] for h in answers["typesense"]["hits"]}
    for body in answers.values():
        assert all(isinstance(h["score"], float | int) and h["score"] >= 0 for h in body["hits"])


def test_highlights_are_escaped_on_both(apps: dict[str, Flask]) -> None:
    for kind, response in both(apps, "/v1/search", q="quasar", per_page=100).items():
        hit = next(h for h in response.get_json()["hits"] if h["id"] == "ct-xss")
        title = hit["highlights"]["title"]
        assert "<script>" not in title and "&lt;script&gt;" in title, kind
        assert "<mark>" in title, kind


# -- writes, on each engine ---------------------------------------------------------------------


def test_writes_are_read_back(fresh: FlaskClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    record = {"id": "w-1", "title": "Written through the API", "link": "https://w.example.org/1",
              "summary": "One item about quasars.", "source": "Writes", "published": "2026-01-05T10:00:00Z"}
    response = fresh.post("/v1/items", json=[record], headers=auth)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["added"] == 1
    again = fresh.post("/v1/items", json=[record], headers=auth).get_json()
    assert (again["added"], again["unchanged"]) == (0, 1)
    assert fresh.get("/v1/items/w-1").get_json()["title"] == "Written through the API"
    assert fresh.get("/v1/search", query_string={"q": "quasar"}).get_json()["total"] == 1
    assert fresh.delete("/v1/items/w-1", headers=auth).status_code == 204
    assert_problem(fresh.get("/v1/items/w-1"), 404, "not-found")
    assert_problem(fresh.delete("/v1/items/w-1", headers=auth), 404, "not-found")


def test_an_unreachable_engine_is_a_503(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path, engine="typesense", typesense_api_key="secret-key-4711",
                        typesense_nodes=(f"http://127.0.0.1:{free_port()}",))
    app = create_app(settings)
    try:
        for path in ("/v1/search", "/readyz"):
            response = app.test_client().get(path)
            body = assert_problem(response, 503, "engine-unavailable")
            validate_response(response, path)
            assert response.headers["Retry-After"] == "10"
            assert "127.0.0.1" not in body["detail"] and "secret" not in response.get_data(as_text=True)
    finally:
        current_engine(app).close()
