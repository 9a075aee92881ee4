"""Tests for the write API (service/feeds_api.py, the writes of service/items_api.py, service/auth.py,
service/bodies.py): the token, items in and out of search, the feed registry, and body limits.

Every response is also checked against the schema openapi.yaml documents for it.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from index.feeds.registry import Registry
from index.settings import ConfigError, Settings
from service.auth import requires_token
from tests.support.api import assert_problem, validate_response
from tests.support.feedserver import FeedServer, rss_feed, serve_conditional

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Contains the real token, so a check that it is never echoed also catches a wrong one echoed whole.
WRONG_TOKEN = TOKEN + "-but-not-quite"

NEW_ITEMS = [
    {"id": "api-001", "title": "Quokka Population Survey on Rottnest Island",
     "summary": "<p>Counting quokkas with camera traps.</p>", "link": "https://wildlife.example.org/quokka",
     "source": "Island Field Notes", "published": "2026-04-01T08:00:00Z", "authors": ["R. Lee"],
     "tags": ["ecology"]},
    {"id": "api-002", "title": "Wombat Burrow Acoustics", "summary": "Burrows hum at 40 Hz.",
     "link": "https://wildlife.example.org/wombat", "source": "Island Field Notes"},
]

# (method, url, request options, the status with the right token on the built index); feed 1 does not
# exist there, so the feed-id endpoints answer 404 once past the token.
WRITE_ENDPOINTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/v1/items", {"json": NEW_ITEMS[:1]}, 200),
    ("DELETE", "/v1/items/extra-001", {}, 204),
    ("GET", "/v1/feeds", {}, 200),
    ("POST", "/v1/feeds", {"json": {"url": "https://example.org/feed.xml"}}, 201),
    ("GET", "/v1/feeds/1", {}, 404),
    ("DELETE", "/v1/feeds/7", {}, 404),
    ("POST", "/v1/feeds/7/poll", {}, 404),
]
SPEC_PATHS = {
    "/v1/items": "/v1/items", "/v1/items/extra-001": "/v1/items/{item_id}", "/v1/feeds": "/v1/feeds",
    "/v1/feeds/1": "/v1/feeds/{feed_id}", "/v1/feeds/7": "/v1/feeds/{feed_id}",
    "/v1/feeds/7/poll": "/v1/feeds/{feed_id}/poll",
}


@pytest.fixture
def write_app(built_index: Path, make_app: Callable[..., Flask]) -> Flask:
    """An app with a token over this test's own index.

    The reopen interval is long, so a write is only seen at once if the write path makes the process's
    SearchIndex look again, as it must.
    """
    return make_app(built_index, api_token=TOKEN, reopen_interval=3600.0, allow_private_feeds=True)


@pytest.fixture
def api(write_app: Flask) -> FlaskClient:
    return write_app.test_client()


def checked(response: TestResponse, path: str, method: str) -> TestResponse:
    """Validate a response against the spec (a 204 has no body to validate) and return it."""
    if response.status_code != 204:
        validate_response(response, path, method)
    return response


def search_ids(client: FlaskClient, q: str) -> list[str]:
    body = checked(client.get(f"/v1/search?q={q}"), "/v1/search", "GET").get_json()
    return [hit["id"] for hit in body["hits"]]


def source_facet(client: FlaskClient, name: str) -> int:
    facets = client.get("/v1/search").get_json()["facets"]["source"]
    return next((f["count"] for f in facets if f["value"] == name), 0)


def post_items(client: FlaskClient, body: str | bytes, content_type: str) -> TestResponse:
    return checked(client.post("/v1/items", data=body, content_type=content_type, headers=AUTH),
                   "/v1/items", "POST")


# --- the token ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "url", "options", "status"), WRITE_ENDPOINTS,
                         ids=[f"{m} {u}" for m, u, *_ in WRITE_ENDPOINTS])
def test_a_missing_token_is_a_401_with_a_bearer_challenge(api: FlaskClient, method: str, url: str,
                                                          options: dict[str, Any], status: int) -> None:
    response = checked(api.open(url, method=method, **options), SPEC_PATHS[url], method)
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer realm=feedsift"
    assert "Authorization: Bearer" in body["detail"]


@pytest.mark.parametrize(("method", "url", "options", "status"), WRITE_ENDPOINTS,
                         ids=[f"{m} {u}" for m, u, *_ in WRITE_ENDPOINTS])
@pytest.mark.parametrize("header", [f"Bearer {WRONG_TOKEN}", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}",
                                    f"bearer {TOKEN} extra", "Bearer", "Bearer \u00e9t\u00e9"])
def test_a_wrong_token_is_a_401(api: FlaskClient, method: str, url: str, options: dict[str, Any],
                                status: int, header: str) -> None:
    response = api.open(url, method=method, headers={"Authorization": header}, **options)
    assert_problem(checked(response, SPEC_PATHS[url], method), 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(("method", "url", "options", "status"), WRITE_ENDPOINTS,
                         ids=[f"{m} {u}" for m, u, *_ in WRITE_ENDPOINTS])
def test_the_right_token_is_let_through(api: FlaskClient, method: str, url: str, options: dict[str, Any],
                                        status: int) -> None:
    response = checked(api.open(url, method=method, headers=AUTH, **options), SPEC_PATHS[url], method)
    assert response.status_code == status, response.get_data(as_text=True)


def test_the_scheme_name_is_case_insensitive(api: FlaskClient) -> None:
    assert api.get("/v1/feeds", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


@pytest.mark.parametrize(("method", "url", "options", "status"), WRITE_ENDPOINTS,
                         ids=[f"{m} {u}" for m, u, *_ in WRITE_ENDPOINTS])
def test_without_a_configured_token_writes_are_off_and_say_how_to_turn_them_on(
        built_index: Path, make_app: Callable[..., Flask], method: str, url: str, options: dict[str, Any],
        status: int) -> None:
    client = make_app(built_index).test_client()
    for headers in ({}, AUTH):
        response = client.open(url, method=method, headers=headers, **options)
        checked(response, SPEC_PATHS[url], method)
        body = assert_problem(response, 403, "writes-disabled")
        assert "FEEDSIFT_API_TOKEN" in body["detail"]
    # Nothing was written.
    assert client.get("/v1/items/extra-001").status_code == 200
    assert client.get("/v1/items/api-001").status_code == 404


def test_reads_need_no_token(api: FlaskClient) -> None:
    for url in ("/v1/search?q=kappa", "/v1/sources", "/v1/items/extra-001", "/v1/items/extra-001/similar",
                "/healthz", "/readyz"):
        assert api.get(url).status_code == 200, url


def test_the_token_never_appears_in_responses_or_logs(write_app: Flask, feed_server: FeedServer,
                                                      caplog: pytest.LogCaptureFixture,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    feed_server.route("/feed.xml", serve_conditional(rss_feed(("g1", "Otter", "River otters"))))

    @requires_token
    def explode() -> Any:
        raise RuntimeError("a bug behind the token check")

    # An unexpected failure is logged in full: the one log line a request's headers could leak into.
    write_app.add_url_rule("/explode", "explode", explode, methods=["POST"])
    api = write_app.test_client()
    responses = []
    with caplog.at_level(logging.DEBUG):
        for headers in ({"Authorization": f"Bearer {WRONG_TOKEN}"}, AUTH):
            responses += [
                api.get("/v1/feeds", headers=headers),
                api.post("/v1/feeds", json={"url": feed_server.url("/feed.xml")}, headers=headers),
                api.post("/v1/feeds", json={"url": f"ftp://{TOKEN}.example"}, headers=headers),
                api.post("/v1/feeds/1/poll", headers=headers),
                api.post("/v1/items", data="{broken\n", content_type="application/x-ndjson", headers=headers),
                api.post("/v1/items", data="x" * (Settings().max_body_bytes + 1), headers=headers),
                api.delete("/v1/items/nope", headers=headers),
                api.get("/v1/nope", headers=headers),
                api.post("/explode", headers=headers),
            ]
    assert any(r.status_code == 200 for r in responses) and any(r.status_code == 401 for r in responses)
    for response in responses:
        text = response.get_data(as_text=True) + str(response.headers)
        # The bad URL is the client's own text, echoed in its 400; it names the token on purpose.
        if "ftp://" not in text:
            assert TOKEN not in text
    assert TOKEN not in caplog.text
    # Loggers with their own handlers (the per-request log line) write to stderr, not through caplog.
    captured = capsys.readouterr()
    assert TOKEN not in captured.out and TOKEN not in captured.err
    # The app did log, the failure in full: the check above is not vacuous.
    assert any(r.exc_info for r in caplog.records)


def test_the_token_is_kept_out_of_settings_repr_and_config_errors() -> None:
    assert TOKEN not in repr(Settings(api_token=TOKEN))
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FEEDSIFT_API_TOKEN": "short secret"})
    assert "short secret" not in str(caught.value) and "FEEDSIFT_API_TOKEN" in str(caught.value)


# --- items in -------------------------------------------------------------------------------------

def test_items_posted_as_a_json_array_are_searchable(api: FlaskClient) -> None:
    assert search_ids(api, "quokka") == []
    response = post_items(api, json.dumps(NEW_ITEMS), "application/json")
    assert response.status_code == 200
    assert response.get_json() == {"added": 2, "updated": 0, "unchanged": 0, "failed": 0,
                                   "ids": ["api-001", "api-002"], "errors": []}
    assert search_ids(api, "quokka") == ["api-001"]
    assert source_facet(api, "Island Field Notes") == 2
    item = checked(api.get("/v1/items/api-001"), "/v1/items/{item_id}", "GET").get_json()
    assert item == {"id": "api-001", "title": "Quokka Population Survey on Rottnest Island",
                    "link": "https://wildlife.example.org/quokka", "source": "Island Field Notes",
                    "published": "2026-04-01T08:00:00Z", "authors": ["R. Lee"], "tags": ["ecology"],
                    "summary": "Counting quokkas with camera traps.", "also": []}


def test_items_posted_as_json_lines_are_searchable(api: FlaskClient) -> None:
    for content_type in ("application/x-ndjson", "application/jsonl; charset=utf-8"):
        lines = "\r\n".join(json.dumps(item) for item in NEW_ITEMS) + "\n"
        response = post_items(api, lines.encode(), content_type)
        assert response.status_code == 200
    assert response.get_json()["unchanged"] == 2
    assert search_ids(api, "wombat") == ["api-002"]


def test_posting_again_updates_in_place_and_leaves_the_unchanged_alone(api: FlaskClient) -> None:
    post_items(api, json.dumps(NEW_ITEMS), "application/json")
    changed = [{**NEW_ITEMS[0], "title": "Quokka Census, Revised"}, NEW_ITEMS[1]]
    body = post_items(api, json.dumps(changed), "application/json").get_json()
    assert (body["added"], body["updated"], body["unchanged"]) == (0, 1, 1)
    assert api.get("/v1/items/api-001").get_json()["title"] == "Quokka Census, Revised"
    assert search_ids(api, "census") == ["api-001"]


def test_bad_lines_are_reported_by_line_number_and_the_rest_go_in(api: FlaskClient) -> None:
    lines = [
        json.dumps(NEW_ITEMS[0]),
        json.dumps({"summary": "no title"}),
        "",
        "{not json",
        json.dumps({"title": "bad id", "id": "a/b"}),
        json.dumps(NEW_ITEMS[1]),
        json.dumps({"title": "bad date", "published": "yesterday"}),
        "[1, 2]",
    ]
    body = post_items(api, "\n".join(lines), "application/x-ndjson").get_json()
    assert body == {
        "added": 2, "updated": 0, "unchanged": 0, "failed": 5, "ids": ["api-001", "api-002"],
        "errors": [
            {"line": 2, "error": "missing or empty 'title'"},
            {"line": 4,
             "error": "not valid JSON (Expecting property name enclosed in double quotes at column 2)"},
            {"line": 5, "error": "'id' may hold only letters, digits and . _ : ~ - (1 to 128 of them)"},
            {"line": 7, "error": "'published' is not an ISO 8601 or RFC 822 date"},
            {"line": 8, "error": "not a JSON object"},
        ],
    }
    assert search_ids(api, "quokka") == ["api-001"]


def test_bad_array_elements_are_reported_by_index(api: FlaskClient) -> None:
    body = post_items(api, json.dumps([{"title": ""}, NEW_ITEMS[0], "text", {"title": "t", "tags": [1]}]),
                      "application/json").get_json()
    assert body["added"] == 1 and body["failed"] == 3
    assert body["errors"] == [
        {"index": 0, "error": "missing or empty 'title'"},
        {"index": 2, "error": "not a JSON object"},
        {"index": 3, "error": "'tags' must be a string or a list of strings"},
    ]


def test_a_line_separator_inside_a_string_does_not_split_a_record(api: FlaskClient) -> None:
    record = {"id": "api-sep", "title": "Paragraph\u2028separator in a title"}
    body = post_items(api, json.dumps(record, ensure_ascii=False), "application/x-ndjson").get_json()
    assert body["added"] == 1 and body["failed"] == 0


def test_only_the_first_100_errors_are_listed(api: FlaskClient) -> None:
    lines = [json.dumps(NEW_ITEMS[0])] + ["{}"] * 150
    body = post_items(api, "\n".join(lines), "application/x-ndjson").get_json()
    assert body["failed"] == 150 and len(body["errors"]) == 100
    assert body["errors"][-1] == {"line": 101, "error": "missing or empty 'title'"}


def test_a_body_with_no_usable_item_is_a_400_listing_why(api: FlaskClient) -> None:
    response = post_items(api, '{"summary": "x"}\n\n"just a string"\n', "application/x-ndjson")
    body = assert_problem(response, 400, "invalid-body", param="body")
    assert body["errors"]["body"] == ["line 1: missing or empty 'title'", "line 3: not a JSON object"]
    assert body["detail"] == "No record in the body is a usable item."


@pytest.mark.parametrize(("data", "content_type", "detail"), [
    (b"", "application/json", "The body is empty."),
    (b"\n\n", "application/x-ndjson", "The body is empty."),
    (b"[]", "application/json", "The body holds no item."),
    (b"[{]", "application/json", "The body is not valid JSON: Expecting property name enclosed in double "
                                 "quotes at line 1, column 3."),
    (b'{"title": "one object"}', "application/json", "must be a JSON array"),
    (b"[" * 100_000, "application/json", "nested too deeply"),
    ('[{"title": "caf\u00e9"}]'.encode("latin-1"), "application/json", "not UTF-8"),
])
def test_an_unusable_body_is_a_400(api: FlaskClient, data: bytes, content_type: str, detail: str) -> None:
    body = assert_problem(post_items(api, data, content_type), 400, "invalid-body")
    assert detail in body["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_items_in_another_media_type_are_a_415(api: FlaskClient, content_type: str | None) -> None:
    response = api.post("/v1/items", data=json.dumps(NEW_ITEMS), content_type=content_type, headers=AUTH)
    body = assert_problem(checked(response, "/v1/items", "POST"), 415, "unsupported-media-type")
    assert "application/x-ndjson" in body["detail"]


def test_an_unknown_query_parameter_is_refused(api: FlaskClient) -> None:
    response = api.post("/v1/items?source=x", json=NEW_ITEMS, headers=AUTH)
    assert_problem(checked(response, "/v1/items", "POST"), 400, "invalid-parameters", param="source")


def test_a_body_over_the_limit_is_a_413(built_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(built_index, api_token=TOKEN, max_body_bytes=2048).test_client()
    small = json.dumps(NEW_ITEMS)
    assert len(small) < 2048
    response = client.post("/v1/items", data=small, content_type="application/json", headers=AUTH)
    assert response.status_code == 200
    big = json.dumps([{**NEW_ITEMS[0], "summary": "x" * 2048}])
    response = client.post("/v1/items", data=big, content_type="application/json", headers=AUTH)
    body = assert_problem(checked(response, "/v1/items", "POST"), 413, "payload-too-large")
    assert "2048" in body["detail"]
    # A chunked body announces no size; it is cut off as it is read. (gunicorn marks such a body as
    # terminated, which is what lets Werkzeug read it at all.)
    response = client.post("/v1/items", input_stream=io.BytesIO(big.encode()),
                           content_type="application/json", headers={**AUTH, "Transfer-Encoding": "chunked"},
                           environ_base={"wsgi.input_terminated": True})
    assert response.request.content_length is None
    assert_problem(response, 413, "payload-too-large")


# --- items out ------------------------------------------------------------------------------------

def test_a_deleted_item_is_gone_from_search_facets_and_lookup_at_once(api: FlaskClient) -> None:
    post_items(api, json.dumps(NEW_ITEMS), "application/json")
    # Open (and keep) a view that holds the item, so a stale view would show it.
    assert search_ids(api, "quokka") == ["api-001"]
    assert source_facet(api, "Island Field Notes") == 2
    total = api.get("/v1/search").get_json()["total"]

    response = checked(api.delete("/v1/items/api-001", headers=AUTH), "/v1/items/{item_id}", "DELETE")
    assert response.status_code == 204 and response.get_data() == b""

    assert search_ids(api, "quokka") == []
    assert api.get("/v1/search").get_json()["total"] == total - 1
    assert source_facet(api, "Island Field Notes") == 1
    sources = {row["name"]: row["count"] for row in api.get("/v1/sources").get_json()["sources"]}
    assert sources["Island Field Notes"] == 1
    assert_problem(api.get("/v1/items/api-001"), 404, "not-found")
    assert_problem(api.get("/v1/items/api-001/similar"), 404, "not-found")
    assert all(hit["id"] != "api-001"
               for hit in api.get("/v1/items/api-002/similar?limit=50").get_json()["hits"])


def test_deleting_a_sample_item_removes_its_source_when_it_was_the_last(api: FlaskClient) -> None:
    assert api.get("/v1/items/extra-001").status_code == 200
    assert api.delete("/v1/items/extra-001", headers=AUTH).status_code == 204
    assert "extra-001" not in search_ids(api, "kappa")


def test_deleting_an_unknown_item_is_a_404(api: FlaskClient) -> None:
    response = checked(api.delete("/v1/items/nope", headers=AUTH), "/v1/items/{item_id}", "DELETE")
    body = assert_problem(response, 404, "not-found")
    assert body["detail"] == "There is no item with id 'nope'."
    assert api.delete("/v1/items/extra-002", headers=AUTH).status_code == 204
    assert_problem(api.delete("/v1/items/extra-002", headers=AUTH), 404, "not-found")


def test_items_can_be_posted_before_any_index_exists(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(tmp_path / "fresh", api_token=TOKEN).test_client()
    assert client.get("/readyz").status_code == 503
    response = client.post("/v1/items", json=NEW_ITEMS, headers=AUTH)
    assert response.status_code == 200 and response.get_json()["added"] == 2
    assert client.get("/readyz").get_json() == {"status": "ready", "items": 2}


# --- feeds ----------------------------------------------------------------------------------------

def test_feed_add_list_poll_and_delete_round_trip(api: FlaskClient, feed_server: FeedServer) -> None:
    feed = rss_feed(("otter-1", "River Otters Return", "Otters are back in the Thames."),
                    ("otter-2", "Otter Diets", "Mostly fish."), title="Otter Watch")
    url = feed_server.route("/otters.xml", serve_conditional(feed, etag='"v1"'))

    added = checked(api.post("/v1/feeds", json={"url": url}, headers=AUTH), "/v1/feeds", "POST")
    assert added.status_code == 201
    created = added.get_json()
    assert added.headers["Location"] == f"/v1/feeds/{created['id']}"
    assert (created["url"], created["source"], created["enabled"], created["last_status"]) == (
        url, None, True, None)
    assert created["created"].endswith("Z") and created["next_poll"] is None

    listed = checked(api.get("/v1/feeds", headers=AUTH), "/v1/feeds", "GET").get_json()
    assert listed == {"feeds": [created], "total": 1}
    shown = checked(api.get(added.headers["Location"], headers=AUTH), "/v1/feeds/{feed_id}", "GET")
    assert shown.get_json() == created

    poll_url = f"/v1/feeds/{created['id']}/poll"
    first = checked(api.post(poll_url, headers=AUTH), "/v1/feeds/{feed_id}/poll", "POST").get_json()
    assert {k: first[k] for k in ("outcome", "status", "added", "updated", "unchanged", "error")} == {
        "outcome": "ok", "status": 200, "added": 2, "updated": 0, "unchanged": 0, "error": None}
    health = first["feed"]
    assert (health["title"], health["last_status"], health["item_count"], health["last_error"]) == (
        "Otter Watch", 200, 2, None)
    assert health["last_success"].endswith("Z") and health["next_poll"] > health["last_success"]
    # The poll's items are searchable on the very next request.
    assert len(search_ids(api, "otters")) == 2
    assert source_facet(api, "Otter Watch") == 2

    second = api.post(poll_url, headers=AUTH).get_json()
    assert (second["outcome"], second["status"], second["added"]) == ("not_modified", 304, 0)
    assert feed_server.requests_to("/otters.xml")[-1].headers["if-none-match"] == '"v1"'
    listed = api.get("/v1/feeds", headers=AUTH).get_json()["feeds"]
    assert listed[0]["last_status"] == 304

    removed = checked(api.delete(f"/v1/feeds/{created['id']}", headers=AUTH), "/v1/feeds/{feed_id}", "DELETE")
    assert removed.status_code == 204 and removed.get_data() == b""
    assert api.get("/v1/feeds", headers=AUTH).get_json() == {"feeds": [], "total": 0}
    for method, path in (("GET", "/v1/feeds/{feed_id}"), ("DELETE", "/v1/feeds/{feed_id}"),
                         ("POST", "/v1/feeds/{feed_id}/poll")):
        url_of = path.replace("{feed_id}", str(created["id"]))
        response = checked(api.open(url_of, method=method, headers=AUTH), path, method)
        body = assert_problem(response, 404, "not-found")
        assert body["detail"] == f"There is no feed with id {created['id']}."
    # The feed's items stay searchable after it is removed.
    assert len(search_ids(api, "otters")) == 2


def test_a_source_override_names_the_polled_items(api: FlaskClient, feed_server: FeedServer) -> None:
    url = feed_server.route("/f.xml", serve_conditional(rss_feed(("b-1", "Badger Setts", "Underground."))))
    created = api.post("/v1/feeds", json={"url": url, "source": "Badger Desk"}, headers=AUTH).get_json()
    assert created["source"] == "Badger Desk"
    api.post(f"/v1/feeds/{created['id']}/poll", headers=AUTH)
    assert source_facet(api, "Badger Desk") == 1


def test_a_failing_poll_is_a_200_with_the_error_recorded(api: FlaskClient, feed_server: FeedServer) -> None:
    url = feed_server.url("/missing.xml")
    created = api.post("/v1/feeds", json={"url": url}, headers=AUTH).get_json()
    response = checked(api.post(f"/v1/feeds/{created['id']}/poll", headers=AUTH),
                       "/v1/feeds/{feed_id}/poll", "POST")
    body = response.get_json()
    assert (body["outcome"], body["status"]) == ("error", 404)
    assert body["error"] and body["feed"]["last_error"] == body["error"]
    assert body["feed"]["consecutive_failures"] == 1


def test_private_addresses_are_refused_unless_allowed(built_index: Path, make_app: Callable[..., Flask],
                                                      feed_server: FeedServer) -> None:
    client = make_app(built_index, api_token=TOKEN).test_client()
    url = feed_server.route("/feed.xml", serve_conditional(rss_feed(("p-1", "Private", "Item."))))
    created = client.post("/v1/feeds", json={"url": url}, headers=AUTH).get_json()
    body = client.post(f"/v1/feeds/{created['id']}/poll", headers=AUTH).get_json()
    assert body["outcome"] == "error" and body["status"] is None
    assert "non-public address" in body["error"]
    assert feed_server.requests_to("/feed.xml") == []


def test_adding_a_registered_url_again_is_a_409_naming_the_feed(api: FlaskClient) -> None:
    first = api.post("/v1/feeds", json={"url": "https://Example.org/feed.xml#top"}, headers=AUTH)
    assert first.get_json()["url"] == "https://example.org/feed.xml"
    again = checked(api.post("/v1/feeds", json={"url": "https://example.org/feed.xml"}, headers=AUTH),
                    "/v1/feeds", "POST")
    body = assert_problem(again, 409, "conflict", param="url")
    assert again.headers["Location"] == first.headers["Location"]
    assert body["detail"] == f"That URL is already registered as feed {first.get_json()['id']}."


@pytest.mark.parametrize(("payload", "param"), [
    ({"url": "ftp://example.org/feed.xml"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": ""}, "url"),
    ({"url": 42}, "url"),
    ({}, "url"),
    ({"url": "https://example.org/feed.xml", "name": "x"}, "name"),
    ({"url": "https://example.org/feed.xml", "source": ["a"]}, "source"),
])
def test_a_bad_feed_is_a_400_naming_the_field(api: FlaskClient, payload: dict[str, Any], param: str) -> None:
    response = checked(api.post("/v1/feeds", json=payload, headers=AUTH), "/v1/feeds", "POST")
    assert_problem(response, 400, "invalid-parameters", param=param)
    assert api.get("/v1/feeds", headers=AUTH).get_json()["total"] == 0


@pytest.mark.parametrize(("data", "content_type", "status", "problem_type"), [
    ("[1]", "application/json", 400, "invalid-body"),
    ("{", "application/json", 400, "invalid-body"),
    ("", "application/json", 400, "invalid-body"),
    ('{"url": "https://example.org/feed.xml"}', "text/plain", 415, "unsupported-media-type"),
])
def test_a_feed_body_that_is_not_a_json_object_is_refused(api: FlaskClient, data: str, content_type: str,
                                                          status: int, problem_type: str) -> None:
    response = api.post("/v1/feeds", data=data, content_type=content_type, headers=AUTH)
    assert_problem(checked(response, "/v1/feeds", "POST"), status, problem_type)


def test_feed_ids_that_cannot_exist_are_404s(api: FlaskClient) -> None:
    for url in ("/v1/feeds/0", "/v1/feeds/99999999999999999999999", "/v1/feeds/abc", "/v1/feeds/-1"):
        assert_problem(api.get(url, headers=AUTH), 404, "not-found")
        assert_problem(api.delete(url, headers=AUTH), 404, "not-found")


def test_a_feed_removed_while_it_is_polled_is_a_404(api: FlaskClient, feed_server: FeedServer,
                                                    built_index: Path) -> None:
    # The feed server removes the feed from the registry (another process's DELETE, as it would be)
    # while the poll is fetching it, so recording the outcome finds no feed.
    feed = rss_feed(("gone-1", "Vanishing Feed Item", "Polled as it was removed."))
    created: dict[str, Any] = {}

    def remove_then_serve(handler: Any, stopping: Any) -> None:
        Registry.beside(built_index).remove(created["id"])
        serve_conditional(feed)(handler, stopping)

    url = feed_server.route("/vanishing.xml", remove_then_serve)
    created.update(api.post("/v1/feeds", json={"url": url}, headers=AUTH).get_json())
    response = checked(api.post(f"/v1/feeds/{created['id']}/poll", headers=AUTH),
                       "/v1/feeds/{feed_id}/poll", "POST")
    body = assert_problem(response, 404, "not-found")
    assert body["detail"] == f"There is no feed with id {created['id']}."
    assert len(search_ids(api, "vanishing")) == 1  # what the poll indexed stays
