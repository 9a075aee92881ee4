"""Tests for service/items_api.py: whole items and similar items."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.api import assert_problem


def test_item_is_returned_whole(client: FlaskClient) -> None:
    response = client.get("/v1/items/extra-001")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "id": "extra-001",
        "title": "Notes on Evaluating LLM-as-a-Judge Agreement With Human Raters",
        "link": "https://notes.example.com/llm-judge-agreement",
        "source": "Eval Lab Notes",
        "published": "2026-02-04T10:00:00Z",
        "authors": ["Ines Carvalho", "Peter Novak"],
        "tags": ["evaluation", "llm"],
        "summary": "We measured Cohen's kappa between three judge models and a panel of human annotators "
                   "on 1,200 summarisation pairs. Agreement was high for factuality but weak for style.",
        "also": [],
    }


def test_item_dates_are_converted_to_utc(client: FlaskClient) -> None:
    # extra-002 was published at 08:30 +01:00.
    assert client.get("/v1/items/extra-002").get_json()["published"] == "2026-03-11T07:30:00Z"


def test_every_hit_can_be_looked_up(client: FlaskClient) -> None:
    for hit in client.get("/v1/search?per_page=100").get_json()["hits"]:
        item = client.get(f"/v1/items/{hit['id']}").get_json()
        assert (item["title"], item["link"], item["source"], item["published"]) == (
            hit["title"], hit["link"], hit["source"], hit["published"])


def test_unknown_item_is_a_404_problem(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/items/nope"), 404, "not-found")
    assert body["detail"] == "There is no item with id 'nope'."


def test_similar_items_never_include_the_item_itself(client: FlaskClient) -> None:
    response = client.get("/v1/items/extra-004/similar")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == "extra-004"
    ids = [hit["id"] for hit in body["hits"]]
    assert ids and "extra-004" not in ids
    assert len(ids) == len(set(ids)) <= 10
    assert list(body["hits"][0]) == ["id", "title", "link", "source", "published", "first_seen", "score",
                                     "snippet", "highlights", "also"]
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_similar_items_honour_the_limit(client: FlaskClient) -> None:
    assert len(client.get("/v1/items/extra-004/similar?limit=2").get_json()["hits"]) == 2


def test_similar_to_an_unknown_item_is_a_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/v1/items/nope/similar"), 404, "not-found")
