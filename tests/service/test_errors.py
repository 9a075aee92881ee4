"""Tests for service/errors.py: every path that can fail answers one RFC 9457 problem shape."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from index.errors import InputError
from index.search.whoosh.store import IndexStore, read_meta, write_meta
from index.settings import Settings
from service.errors import PROBLEMS
from tests.support.api import assert_problem, spec

LONG_QUERY = "word " * 201

# (method, path and query string, status, problem type, the parameter named in `errors` or None)
ERROR_PATHS: list[tuple[str, str, int, str, str | None]] = [
    ("GET", "/nope", 404, "not-found", None),
    ("GET", "/v1/search/", 404, "not-found", None),
    ("GET", "/v1/items/nope", 404, "not-found", None),
    ("GET", "/v1/items/nope/similar", 404, "not-found", None),
    ("GET", "/problems/nope", 404, "not-found", None),
    ("PUT", "/v1/search", 405, "method-not-allowed", None),
    ("POST", "/v1/search", 415, "unsupported-media-type", None),
    ("DELETE", "/v1/items/extra-001/similar", 405, "method-not-allowed", None),
    ("DELETE", "/v1/items/extra-001", 403, "writes-disabled", None),
    ("POST", "/v1/items", 403, "writes-disabled", None),
    ("GET", "/v1/feeds", 403, "writes-disabled", None),
    ("POST", "/v1/feeds", 403, "writes-disabled", None),
    ("GET", "/v1/feeds/1", 403, "writes-disabled", None),
    ("DELETE", "/v1/feeds/1", 403, "writes-disabled", None),
    ("POST", "/v1/feeds/1/poll", 403, "writes-disabled", None),
    ("GET", "/v1/feeds/one", 404, "not-found", None),
    ("PUT", "/healthz", 405, "method-not-allowed", None),
    ("GET", '/v1/search?q="unbalanced', 400, "invalid-query", "q"),
    ("GET", "/v1/search?q=(open", 400, "invalid-query", "q"),
    ("GET", "/v1/search?q=close)", 400, "invalid-query", "q"),
    ("GET", "/v1/search?q=a*", 400, "invalid-query", "q"),
    ("GET", "/v1/search?q=the+and+of", 400, "invalid-query", "q"),
    ("GET", "/v1/search?q=te*st+fuzzy~5", 400, "invalid-query", "q"),
    ("GET", f"/v1/search?q={LONG_QUERY}", 400, "invalid-parameters", "q"),
    ("GET", "/v1/search?per_page=101", 400, "invalid-parameters", "per_page"),
    ("GET", "/v1/search?per_page=0", 400, "invalid-parameters", "per_page"),
    ("GET", "/v1/search?page=0", 400, "invalid-parameters", "page"),
    ("GET", "/v1/search?page=two", 400, "invalid-parameters", "page"),
    ("GET", "/v1/search?page=1.5", 400, "invalid-parameters", "page"),
    ("GET", "/v1/search?page=101&per_page=100", 400, "invalid-parameters", "page"),
    ("GET", "/v1/search?page=1&page=2", 400, "invalid-parameters", "page"),
    ("GET", "/v1/search?since=yesterday", 400, "invalid-parameters", "since"),
    ("GET", "/v1/search?until=2026-02-30", 400, "invalid-parameters", "until"),
    ("GET", "/v1/search?since=2026-03-02&until=2026-03-01", 400, "invalid-parameters", "until"),
    ("GET", "/v1/search?sort=best", 400, "invalid-parameters", "sort"),
    ("GET", "/v1/search?match=most", 400, "invalid-parameters", "match"),
    ("GET", "/v1/search?source=", 400, "invalid-parameters", "source"),
    ("GET", "/v1/search?qq=learning", 400, "invalid-parameters", "qq"),
    ("GET", '/v1/sources?q="x', 400, "invalid-query", "q"),
    ("GET", "/v1/sources?source=x", 400, "invalid-parameters", "source"),
    ("GET", "/v1/items/extra-001?full=1", 400, "invalid-parameters", "full"),
    ("GET", "/v1/items/extra-001/similar?limit=0", 400, "invalid-parameters", "limit"),
    ("GET", "/v1/items/extra-001/similar?limit=51", 400, "invalid-parameters", "limit"),
]


@pytest.mark.parametrize(("method", "url", "status", "problem_type", "param"), ERROR_PATHS,
                         ids=[f"{m} {u[:50]}" for m, u, *_ in ERROR_PATHS])
def test_error_paths_answer_the_problem_shape(client: FlaskClient, method: str, url: str, status: int,
                                              problem_type: str, param: str | None) -> None:
    body = assert_problem(client.open(url, method=method), status, problem_type, param=param)
    if param is None:
        assert "errors" not in body
    # The type URI is answered by the service itself.
    assert client.get(body["type"]).status_code == 200


def test_invalid_parameters_are_all_reported_at_once(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/search?per_page=500&sort=best&colour=red"), 400,
                          "invalid-parameters")
    assert set(body["errors"]) == {"per_page", "sort", "colour"}
    assert all(name in body["detail"] for name in body["errors"])


def test_unknown_parameter_lists_the_known_ones(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/search?limit=5"), 400, "invalid-parameters", param="limit")
    assert "per_page" in body["errors"]["limit"][0]


def test_too_deep_paging_says_why(client: FlaskClient) -> None:
    response = client.get("/v1/search?page=500&per_page=100")
    body = assert_problem(response, 400, "invalid-parameters", param="page")
    assert "10000" in body["detail"]


def test_unbalanced_quote_says_where(client: FlaskClient) -> None:
    body = assert_problem(client.get('/v1/search?q=deep+"learning'), 400, "invalid-query", param="q")
    assert "position 6" in body["detail"]


def test_method_not_allowed_keeps_the_allow_header(client: FlaskClient) -> None:
    response = client.put("/v1/search")
    assert_problem(response, 405, "method-not-allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_oversized_body_is_a_413_problem(client: FlaskClient) -> None:
    response = client.get("/v1/search", data=b"x" * (Settings().max_body_bytes + 1))
    assert_problem(response, 413, "payload-too-large")


def test_missing_index_is_a_503_problem_that_names_no_path(tmp_path: Path,
                                                           make_app: Callable[..., Flask]) -> None:
    client = make_app(tmp_path / "nothing-here").test_client()
    for url in ("/v1/search", "/v1/sources", "/v1/items/x", "/v1/items/x/similar", "/readyz"):
        response = client.get(url)
        body = assert_problem(response, 503, "index-unavailable")
        assert response.headers["Retry-After"] == "30"
        assert "nothing-here" not in body["detail"]


def test_index_of_another_schema_version_is_a_503_problem(built_index: Path,
                                                          make_app: Callable[..., Flask]) -> None:
    live = IndexStore(built_index).current_path()
    write_meta(live, {**read_meta(live), "schema_version": 999})
    body = assert_problem(make_app(built_index).test_client().get("/v1/search"), 503, "index-unavailable")
    assert "rebuilt" in body["detail"]


def test_unexpected_error_is_logged_and_echoes_nothing(tmp_path: Path, make_app: Callable[..., Flask],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(tmp_path)

    def explode() -> Any:
        raise RuntimeError("secret-cause-4711 at /srv/private")

    app.add_url_rule("/explode", "explode", explode)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/explode")
    body = assert_problem(response, 500, "internal-error")
    assert "secret" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert body["detail"] == "An unexpected error occurred; it has been logged."
    logged = [r for r in caplog.records if r.exc_info and "secret-cause-4711" in str(r.exc_info[1])]
    assert logged and "/explode" in logged[0].getMessage()


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_problem_type_is_explained(client: FlaskClient, name: str) -> None:
    response = client.get(f"/problems/{name}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["type"] == f"/problems/{name}"
    assert body["status"] == PROBLEMS[name].status
    assert body["explanation"]


def test_the_spec_lists_every_problem_type() -> None:
    parameter = spec()["paths"]["/problems/{name}"]["get"]["parameters"][0]
    assert sorted(parameter["schema"]["enum"]) == sorted(PROBLEMS)


def test_an_input_error_is_a_400_problem_saying_what_is_wrong(tmp_path: Path,
                                                             make_app: Callable[..., Flask]) -> None:
    # No endpoint lets an InputError through today; a route of the test's own raises one, so a future
    # endpoint that does is a 400 saying why rather than a 500.
    app = make_app(tmp_path)

    def unreadable() -> Any:
        raise InputError("upload.opml: not an OPML file (no <opml> root with a <body>)")

    app.add_url_rule("/unreadable", "unreadable", unreadable)
    body = assert_problem(app.test_client().get("/unreadable"), 400, "invalid-body", param="body")
    assert body["detail"] == ("The input could not be read: upload.opml: not an OPML file (no <opml> root "
                              "with a <body>)")


@pytest.mark.parametrize(("q", "detail"), [
    ("NOT NOT reward", "NOT at position 1 is followed by NOT: put the word, phrase or group to leave out "
                       "right after NOT."),
    ("NOT AND source:", "NOT at position 1 is followed by AND: put the word, phrase or group to leave out "
                        "right after NOT."),
    ("learning AND (NOT OR x)", "NOT at position 15 is followed by OR: put the word, phrase or group to "
                                "leave out right after NOT."),
    ("-( -y )", "'-( -' at position 1: a group that is excluded or required cannot start with another '-' "
                "or '+'."),
    ("-reward", "The query only says what to leave out: it needs at least one word to look for. To browse "
                "every item, leave q out; for every item without a word, write NOT word."),
    ("learning~99", "Fuzzy distance 99 is over the limit of 2: 'learning~99'."),
    ("learning~10", "Fuzzy distance 10 is over the limit of 2: 'learning~10'."),
    ("title:learning~3/1", "Fuzzy distance 3 is over the limit of 2: 'title:learning~3'."),
    ("the of and", "The query has no searchable words (only stop words or punctuation)."),
    # Sentences are read leniently (unpaired quotes as punctuation), but not these.
    ('what does "reinforcement learning~9 mean for small robots', "Fuzzy distance 9 is over the limit of 2: "
                                                                  "'learning~9'."),
    ("papers about robots NOT NOT about reward shaping",
     "NOT at position 21 is followed by NOT: put the word, phrase or group to leave out right after NOT."),
])
def test_a_query_the_parser_cannot_take_says_what_is_wrong(client: FlaskClient, q: str, detail: str) -> None:
    body = assert_problem(client.get("/v1/search", query_string={"q": q}), 400, "invalid-query", param="q")
    assert body["detail"] == detail


@pytest.mark.parametrize("q", ["learning~2", "learning~", '"reinforcement learning"~3', "NOT reinforcement",
                               "learning -model", "x AND NOT (NOT y)"])
def test_what_the_query_checks_leave_alone_still_searches(client: FlaskClient, q: str) -> None:
    assert client.get("/v1/search", query_string={"q": q}).status_code == 200
