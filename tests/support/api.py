"""Checking API responses: the problem shape every error shares, and the schemas openapi.yaml promises."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

from tests.support.paths import REPO

SPEC_URI = "urn:feedsift:openapi"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


@cache
def spec() -> dict[str, Any]:
    """Return the repository's openapi.yaml, parsed."""
    parsed: dict[str, Any] = yaml.safe_load((REPO / "openapi.yaml").read_text("utf-8"))
    return parsed


def assert_problem(response: TestResponse, status: int, problem_type: str, *,
                   param: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of this status and type for this request; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json(force=True)
    assert PROBLEM_KEYS <= body.keys() <= PROBLEM_KEYS | {"errors"}, body
    assert body["type"] == f"/problems/{problem_type}"
    assert body["status"] == status
    assert body["instance"] == response.request.path
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if param is not None:
        assert param in body["errors"], body
        assert all(isinstance(m, str) and m for m in body["errors"][param])
    return body


def _resolve(node: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Follow a local ``$ref`` (if any) and return the node and its JSON pointer."""
    ref = node.get("$ref")
    if ref is None:
        raise ValueError("only $ref nodes carry a pointer")
    pointer = ref.removeprefix("#")
    target: Any = spec()
    for part in pointer.strip("/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target, pointer


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def response_schema_pointer(path: str, method: str, status: int, media_type: str) -> str:
    """Return the JSON pointer (within the spec) of the schema documented for this response."""
    responses = spec()["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} does not document a {status}"
    pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
    response = responses[str(status)]
    if "$ref" in response:
        response, pointer = _resolve(response)
    assert media_type in response["content"], f"{method} {path} {status} does not document {media_type}"
    return f"{pointer}/content/{_escape(media_type)}/schema"


def validate_against(pointer: str, instance: Any) -> None:
    """Validate ``instance`` against the schema at ``pointer`` in the spec, with OpenAPI 3.1's dialect."""
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012)
    )
    validator = OAS31Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry,
                               format_checker=oas31_format_checker)
    validator.validate(instance)


def validate_response(response: TestResponse, path: str, operation: str = "GET") -> None:
    """Validate a JSON response against the schema the spec gives for its path, operation and status."""
    pointer = response_schema_pointer(path, operation, response.status_code, response.mimetype)
    validate_against(pointer, response.get_json(force=True))
