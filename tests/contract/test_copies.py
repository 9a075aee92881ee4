"""Copies of one work collapse into one hit, the same on both engines (inputs: tests/support/copies.py).

16 copies of 9 works arrive through the product's own parsers, one input at a time, so the long-title
rule is seen both within one write (the lab post and its repost) and across writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from index.ingest.load import parse_body
from service.engine import current_engine
from tests.contract.test_engines import ENGINES, TOKEN, _app
from tests.support.api import validate_response
from tests.support.copies import (
    ARXIV_SOURCE,
    COPIES,
    DAILY_SOURCE,
    PAPERS,
    WORKS,
    arxiv_feed,
    arxiv_item,
    write_inputs,
)
from tests.support.indexes import items_from
from tests.support.typesense_nodes import Node

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAPER = "2601.00101"  # three copies: arXiv, Daily Papers, a mention by its DOI


@pytest.fixture(params=ENGINES)
def app(request: pytest.FixtureRequest, tmp_path: Path, typesense_node: Node) -> Iterator[Flask]:
    """An app on the engine of the parameter, holding the 16 copies."""
    made, engine = _app(request.param, tmp_path / "index", typesense_node)
    inputs = write_inputs(tmp_path / "inputs")
    for path in inputs.paths:
        current_engine(made).upsert(items_from([path]))
    yield made
    if engine is not None:
        engine.drop_collection()
    current_engine(made).close()


def search(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/search", query_string={"per_page": 100, **params})
    assert response.status_code == 200, response.get_json()
    validate_response(response, "/v1/search")
    body: dict[str, Any] = response.get_json()
    return body


def facet(body: dict[str, Any], name: str) -> dict[str, int]:
    return {f["value"]: f["count"] for f in body["facets"][name]}


def work_of(body: dict[str, Any], item_id: str) -> set[str]:
    """Return the ids of every copy of the work of ``item_id``, from a collapsed answer."""
    for hit in body["hits"]:
        ids = {hit["id"], *(copy["id"] for copy in hit["also"])}
        if item_id in ids:
            return ids
    raise AssertionError(f"{item_id} is in no hit")


def test_copies_collapse_into_works(app: Flask) -> None:
    client = app.test_client()
    collapsed = search(client)
    assert collapsed["total"] == WORKS == len(collapsed["hits"])
    every = search(client, collapse="false")
    assert every["total"] == COPIES == len(every["hits"])
    posted = client.post("/v1/search", json={"collapse": False, "per_page": 100}).get_json()
    assert posted["total"] == COPIES and client.post("/v1/search", json={}).get_json()["total"] == WORKS
    # Each copy is in exactly one hit: as the hit or in its ``also``.
    shown = [i for hit in collapsed["hits"] for i in (hit["id"], *(c["id"] for c in hit["also"]))]
    assert sorted(shown) == sorted(hit["id"] for hit in every["hits"])
    assert sorted(len(hit["also"]) for hit in collapsed["hits"]) == [0, 0, 0, 1, 1, 1, 1, 1, 2]
    for hit in collapsed["hits"]:
        assert all(set(copy) == {"id", "source", "link", "published"} for copy in hit["also"])
    # Facets count works: the arXiv listing holds 6 works, each once however many copies it has.
    assert facet(collapsed, "source")[ARXIV_SOURCE] == 6
    assert facet(collapsed, "source")[DAILY_SOURCE] == 4
    assert sum(facet(collapsed, "published").values()) == WORKS
    assert sum(facet(every, "published").values()) == COPIES
    # Paging counts works too.
    pages = [search(client, per_page=4, page=n) for n in (1, 2, 3)]
    assert [len(p["hits"]) for p in pages] == [4, 4, 1] and {p["total"] for p in pages} == {WORKS}
    assert len({hit["id"] for p in pages for hit in p["hits"]}) == WORKS


def test_a_title_search_finds_the_work_once(app: Flask) -> None:
    client = app.test_client()
    body = search(client, q=PAPERS[PAPER], match="all")
    assert body["total"] == 1
    assert len(body["hits"][0]["also"]) == 2
    assert search(client, q=PAPERS[PAPER], match="all", collapse="false")["total"] == 3


def test_date_sorts_lead_with_the_newest_copy(app: Flask) -> None:
    client = app.test_client()
    for sort in ("newest", "oldest"):
        body = search(client, sort=sort)
        lead = next(hit for hit in body["hits"] if hit["title"] == PAPERS[PAPER])
        # The mention by DOI (7 January) is newer than the listing (5th) and the daily pick (6th).
        assert lead["source"] == "Paper Mentions", sort
        assert [c["source"] for c in lead["also"]] == [DAILY_SOURCE, ARXIV_SOURCE]
    # Oldest first places a work by its oldest copy: the lab post (2 January) comes first, shown by
    # its repost (5 January).
    first = search(client, sort="oldest")["hits"][0]
    assert (first["source"], [c["source"] for c in first["also"]]) == ("Medium", ["Lab Blog"])


def test_a_new_version_is_the_same_work(app: Flask) -> None:
    client = app.test_client()
    parsed = parse_body(arxiv_feed([arxiv_item("2601.00102", 2, day=9)]).encode(), name="v2.rss")
    assert current_engine(app).upsert(parsed.items).added == 1
    collapsed = search(client)
    assert collapsed["total"] == WORKS
    assert search(client, collapse="false")["total"] == COPIES + 1
    lead = next(hit for hit in collapsed["hits"] if hit["link"].endswith("2601.00102v2"))
    assert len(lead["also"]) == 2
    assert facet(collapsed, "source")[ARXIV_SOURCE] == 6


def test_items_carry_their_copies_and_similar_skips_them(app: Flask) -> None:
    client = app.test_client()
    copies = work_of(search(client), next(h["id"] for h in search(client, collapse="false")["hits"]
                                          if h["link"] == f"https://doi.org/10.48550/arXiv.{PAPER}"))
    assert len(copies) == 3
    for item_id in copies:
        response = client.get(f"/v1/items/{item_id}")
        validate_response(response, "/v1/items/{item_id}")
        assert {c["id"] for c in response.get_json()["also"]} == copies - {item_id}
        similar = client.get(f"/v1/items/{item_id}/similar", query_string={"limit": 20})
        validate_response(similar, "/v1/items/{item_id}/similar")
        assert not copies & {h["id"] for h in similar.get_json()["hits"]}
    stats = current_engine(app).stats()
    assert (stats.items, stats.works) == (COPIES, WORKS)


def test_deleting_a_copy_leaves_the_others(app: Flask) -> None:
    client = app.test_client()
    copies = work_of(search(client), next(h["id"] for h in search(client, collapse="false")["hits"]
                                          if h["source"] == "Medium"))
    assert len(copies) == 2
    gone = sorted(copies)[0]
    assert client.delete(f"/v1/items/{gone}", headers=AUTH).status_code == 204
    body = search(client)
    assert body["total"] == WORKS
    assert work_of(body, (copies - {gone}).pop()) == copies - {gone}
    stats = current_engine(app).stats()
    assert (stats.items, stats.works) == (COPIES - 1, WORKS)
