"""Every request-size limit answers a clear 4xx problem that names the limit, and the limit itself passes.

Query length (1,000 characters in a GET, 10,000 in a POST /v1/search body), terms a query's prefix
and fuzzy terms may expand to (1,000 together), fuzzy words (4, each at most 24 characters), phrase
words (12), fuzzy distance, per_page (100), paging depth (page * per_page <= 10,000), repeated
``source`` (20, each at most 200 characters), and the body size (FEEDSIFT_MAX_BODY_BYTES).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from index.model import FeedItem
from index.search.expansion import (
    MAX_EXPANSIONS,
    MAX_FUZZY_CHARS,
    MAX_FUZZY_TERMS,
    MAX_PHRASE_WORDS,
    MAX_PHRASES,
)
from service.schemas import MAX_GET_QUERY_CHARS, MAX_PER_PAGE, MAX_SOURCES
from tests.support.api import assert_problem, validate_response
from tests.support.indexes import build_index

TOKEN = "limits-token-0123456789abcdef"


def test_a_query_at_the_length_limit_runs_and_one_over_is_refused(client: FlaskClient) -> None:
    assert client.get("/v1/search", query_string={"q": "learning " * 111}).status_code == 200
    assert client.get("/v1/search", query_string={"q": "a" * MAX_GET_QUERY_CHARS}).status_code in (200, 400)
    response = client.get("/v1/search", query_string={"q": "learning " * 112})
    body = assert_problem(response, 400, "invalid-parameters", param="q")
    assert "1000" in body["detail"]
    assert_problem(client.get("/v1/sources", query_string={"q": "x" * 1001}), 400, "invalid-parameters",
                   param="q")


def test_a_prefix_or_fuzzy_term_that_expands_too_far_is_refused(tmp_path: Path,
                                                                make_app: Callable[..., Flask]) -> None:
    root = tmp_path / "index"
    words = [f"zq{n:04d}" for n in range(MAX_EXPANSIONS + 100)]
    build_index(root, [FeedItem(id=f"w{n}", title=word, link=f"https://example.org/{n}", source="s",
                                summary=word) for n, word in enumerate(words)])
    client = make_app(root).test_client()
    body = assert_problem(client.get("/v1/search?q=zq*"), 400, "invalid-query", param="q")
    assert f"more than {MAX_EXPANSIONS}" in body["detail"]
    assert client.get("/v1/search?q=zq00*").status_code == 200  # 100 words: fine
    assert_problem(client.get("/v1/search?q=zq0001~3"), 400, "invalid-query", param="q")


def test_a_querys_expansions_share_one_budget(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    root = tmp_path / "index"
    words = [f"zq{n:04d}" for n in range(MAX_EXPANSIONS + 100)]
    build_index(root, [FeedItem(id=f"w{n}", title=word, link=f"https://example.org/{n}", source="s",
                                summary=word) for n, word in enumerate(words)])
    client = make_app(root).test_client()
    assert client.get("/v1/search?q=zq0*").status_code == 200  # exactly the budget: 1,000 words
    body = assert_problem(client.get("/v1/search?q=zq0* zq10*"), 400, "invalid-query", param="q")
    assert "with the query's other prefix and fuzzy terms" in body["detail"]
    fuzzy = " ".join(f"zq{n:04d}~1" for n in range(MAX_FUZZY_TERMS))
    assert client.get("/v1/search", query_string={"q": fuzzy}).status_code == 200
    body = assert_problem(client.get("/v1/search", query_string={"q": fuzzy + " zq0999~1"}), 400,
                          "invalid-query", param="q")
    assert f"at most {MAX_FUZZY_TERMS} fuzzy words" in body["detail"]
    long_word = "z" * (MAX_FUZZY_CHARS + 1)
    body = assert_problem(client.get("/v1/search", query_string={"q": long_word + "~1"}), 400,
                          "invalid-query", param="q")
    assert f"at most {MAX_FUZZY_CHARS} characters" in body["detail"]


def test_phrases_are_bounded_in_words_and_number(client: FlaskClient) -> None:
    words = ["reinforcement", "learning"] * MAX_PHRASE_WORDS
    at_limit = '"' + " ".join(words[:MAX_PHRASE_WORDS]) + '"'
    assert client.get("/v1/search", query_string={"q": at_limit}).status_code == 200
    over = '"' + " ".join(words[:MAX_PHRASE_WORDS + 1]) + '"'
    body = assert_problem(client.get("/v1/search", query_string={"q": over}), 400, "invalid-query", param="q")
    assert f"at most {MAX_PHRASE_WORDS} words" in body["detail"]
    phrases = " ".join(f'"learning round{n}"' for n in range(MAX_PHRASES))  # distinct: repeats are one
    assert client.get("/v1/search", query_string={"q": phrases}).status_code == 200
    body = assert_problem(client.get("/v1/search", query_string={"q": phrases + ' "deep learning"'}), 400,
                          "invalid-query", param="q")
    assert f"at most {MAX_PHRASES} phrases" in body["detail"]


def test_per_page_and_deep_paging_are_bounded(client: FlaskClient) -> None:
    assert client.get(f"/v1/search?per_page={MAX_PER_PAGE}").status_code == 200
    assert_problem(client.get(f"/v1/search?per_page={MAX_PER_PAGE + 1}"), 400, "invalid-parameters",
                   param="per_page")
    assert client.get("/v1/search?per_page=100&page=100").status_code == 200
    body = assert_problem(client.get("/v1/search?per_page=100&page=101"), 400, "invalid-parameters",
                          param="page")
    assert "10000" in body["detail"]
    assert_problem(client.get(f"/v1/search?page={10**30}"), 400, "invalid-parameters", param="page")


def test_repeated_sources_are_capped(client: FlaskClient) -> None:
    at_limit = [("source", f"source {n}") for n in range(MAX_SOURCES)]
    response = client.get("/v1/search", query_string=at_limit)
    assert response.status_code == 200
    response = client.get("/v1/search", query_string=[*at_limit, ("source", "one more")])
    body = assert_problem(response, 400, "invalid-parameters", param="source")
    assert f"at most {MAX_SOURCES}" in body["detail"]
    validate_response(response, "/v1/search")
    assert_problem(client.get("/v1/search", query_string={"source": "s" * 201}), 400, "invalid-parameters",
                   param="source")
    # The feeds and the page take the same parameters and the same limit.
    too_many = [*at_limit, ("source", "one more")]
    assert_problem(client.get("/v1/search.atom", query_string=too_many), 400, "invalid-parameters")
    assert client.get("/", query_string=too_many).status_code == 400


def test_a_body_over_the_limit_is_a_413(built_index: Path, make_app: Callable[..., Flask]) -> None:
    # A chunked body, which declares no length, is covered in test_write_api.py.
    client = make_app(built_index, api_token=TOKEN, max_body_bytes=1000).test_client()
    body = b'[{"title": "' + b"x" * 1000 + b'"}]'
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    response = client.post("/v1/items", data=body, headers=headers)
    detail = assert_problem(response, 413, "payload-too-large")["detail"]
    assert "1000 bytes" in detail
    fits = client.post("/v1/items", data=b'[{"title": "fits"}]', headers=headers)
    assert fits.status_code == 200
