"""The contract: openapi.yaml is valid, matches the app's routes, and real responses match its schemas."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate

from tests.support.api import response_schema_pointer, spec, validate_against, validate_response
from tests.support.paths import REPO

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def test_the_spec_is_valid_openapi_3_1() -> None:
    assert spec()["openapi"].startswith("3.1.")
    validate(spec())


def _flask_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - IGNORED_METHODS:
            operations.add((path, method.lower()))
    return operations


def _spec_operations() -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {(path, method) for path, item in spec()["paths"].items() for method in item if method in methods}


def test_every_route_is_documented_and_every_documented_path_exists(sample_app: Flask) -> None:
    assert _flask_operations(sample_app) == _spec_operations()


def test_every_operation_documents_errors_with_the_problem_schema() -> None:
    for path, method in _spec_operations():
        operation = spec()["paths"][path][method]
        assert operation.get("description") or operation.get("summary"), (path, method)
        assert "500" in operation["responses"], (path, method)
        # Writes answer 201 or 204, never a page.
        html_page = "text/html" in operation["responses"].get("200", {}).get("content", {})
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            assert response["$ref"].startswith("#/components/responses/"), (path, method, status)
            # Only an HTML page may answer an error with a page; 405 is decided before any page is chosen.
            is_page = response["$ref"].startswith("#/components/responses/Page")
            if response["$ref"].endswith("/RequestLineTooLong"):
                continue
            assert not is_page or (html_page or path.startswith(("/docs/", "/static/"))), (path, status)
    for name, response in spec()["components"]["responses"].items():
        if name == "RequestLineTooLong":
            # gunicorn refuses an over-long request line itself, before the app, with an HTML page.
            assert set(response["content"]) == {"text/html"}, name
            continue
        if name.startswith("Page"):
            # The HTML pages for people show their problems as pages (service.errors.page_problem).
            assert set(response["content"]) == {"text/html"}, name
            continue
        assert set(response["content"]) == {"application/problem+json"}, name
        assert response["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"}, name


def test_every_parameter_has_a_description_and_an_example() -> None:
    parameters = list(spec()["components"]["parameters"].values())
    for item in spec()["paths"].values():
        for operation in item.values():
            parameters += [p for p in operation.get("parameters", []) if "$ref" not in p]
    for parameter in parameters:
        assert parameter.get("description"), parameter["name"]
        assert "example" in parameter or "examples" in parameter, parameter["name"]


def test_every_success_response_has_an_example() -> None:
    for path, method in _spec_operations():
        for status, response in spec()["paths"][path][method]["responses"].items():
            if "$ref" in response:
                continue
            assert response.get("description"), (path, status)
            # A 204 has no content, and so nothing to show.
            for media in response.get("content", {}).values():
                assert "example" in media or "examples" in media, (path, status)


def test_openapi_yaml_is_served_as_written(client: FlaskClient) -> None:
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.get_data() == (REPO / "openapi.yaml").read_bytes()


def test_openapi_json_is_the_same_document(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == yaml.safe_load((REPO / "openapi.yaml").read_text("utf-8"))


# (request, spec path): one or more real responses for every documented status that a request can reach.
RESPONSES = [
    ("/v1/search?q=reinforcement+learning", "/v1/search"),
    ("/v1/search?q=reinforcement+learning&source=Gradient+Notes&since=2025-01-01&sort=newest", "/v1/search"),
    ("/v1/search", "/v1/search"),
    ("/v1/search?q=learning&page=40", "/v1/search"),
    ("/v1/search?q=telescoep", "/v1/search"),
    ('/v1/search?q="unbalanced', "/v1/search"),
    ("/v1/search?per_page=101&x=1", "/v1/search"),
    ("/v1/sources", "/v1/sources"),
    ("/v1/sources?q=diffusion", "/v1/sources"),
    ("/v1/sources?q=(", "/v1/sources"),
    ("/v1/items/extra-001", "/v1/items/{item_id}"),
    ("/v1/items/extra-003", "/v1/items/{item_id}"),
    ("/v1/items/nope", "/v1/items/{item_id}"),
    ("/v1/items/extra-001?x=1", "/v1/items/{item_id}"),
    ("/v1/items/extra-001/similar", "/v1/items/{item_id}/similar"),
    ("/v1/items/nope/similar", "/v1/items/{item_id}/similar"),
    ("/v1/items/extra-001/similar?limit=99", "/v1/items/{item_id}/similar"),
    ("/healthz", "/healthz"),
    ("/readyz", "/readyz"),
    ("/openapi.json", "/openapi.json"),
    ("/problems/invalid-query", "/problems/{name}"),
    ("/problems/nope", "/problems/{name}"),
]


@pytest.mark.parametrize(("url", "path"), RESPONSES, ids=[u for u, _ in RESPONSES])
def test_real_responses_match_the_spec(client: FlaskClient, url: str, path: str) -> None:
    validate_response(client.get(url), path)


# JSON bodies of POST /v1/search: one or more real responses for each status it documents.
SEARCH_BODIES = [
    {"q": "reinforcement learning " * 100, "source": ["Gradient Notes"], "since": "2025-01-01",
     "per_page": 20},
    {},
    {"q": "x" * 10_001},
    {"q": "learning", "page": 0, "colour": "red"},
    {"q": '"unbalanced'},
]


@pytest.mark.parametrize("body", SEARCH_BODIES, ids=[str(n) for n in range(len(SEARCH_BODIES))])
def test_real_post_search_responses_match_the_spec(client: FlaskClient, body: dict[str, object]) -> None:
    validate_response(client.post("/v1/search", json=body), "/v1/search", "POST")


def test_the_post_search_example_is_a_valid_body() -> None:
    operation = spec()["paths"]["/v1/search"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["question"]["value"]
    validate_against("/components/schemas/SearchBody", example)
    assert len(example["q"]) >= 300  # a question, not keywords


@pytest.mark.parametrize("path", sorted({p for p, m in _spec_operations()}))
def test_405_responses_match_the_spec(client: FlaskClient, path: str) -> None:
    url = path.replace("{item_id}", "extra-001").replace("{name}", "not-found").replace("{feed_id}", "1") \
        .replace("{alert_id}", "1")
    # No path answers PUT; a 405 is documented under each operation the path does have.
    response = client.put(url)
    for method in sorted(m for p, m in _spec_operations() if p == path):
        validate_response(response, path, method)


def test_503_responses_match_the_spec(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(tmp_path / "missing").test_client()
    for url, path in [("/v1/search", "/v1/search"), ("/v1/sources", "/v1/sources"),
                      ("/v1/items/x", "/v1/items/{item_id}"),
                      ("/v1/items/x/similar", "/v1/items/{item_id}/similar"), ("/readyz", "/readyz")]:
        validate_response(client.get(url), path)


def test_spec_examples_match_their_schemas() -> None:
    for path, method in _spec_operations():
        for status, response in spec()["paths"][path][method]["responses"].items():
            for media_type, media in response.get("content", {}).items():
                examples = [media["example"]] if "example" in media else [
                    e["value"] for e in media.get("examples", {}).values()]
                for example in examples:
                    _validate_example(path, method, int(status), media_type, example)


def _validate_example(path: str, method: str, status: int, media_type: str, example: object) -> None:
    validate_against(response_schema_pointer(path, method, status, media_type), example)


def test_the_schema_check_is_not_vacuous(client: FlaskClient) -> None:
    body = client.get("/v1/search?q=learning").get_json()
    body["hits"][0]["highlights"]["extra"] = "<b>"
    pointer = response_schema_pointer("/v1/search", "GET", 200, "application/json")
    with pytest.raises(ValidationError):
        validate_against(pointer, body)
    body = client.get("/v1/items/extra-001").get_json()
    body["published"] = "2026-02-04 10:00"
    with pytest.raises(ValidationError):
        validate_against(response_schema_pointer("/v1/items/{item_id}", "GET", 200, "application/json"), body)
