"""A structural lint of openapi.yaml beyond what the OpenAPI validator checks.

The validator accepts unknown keys in a schema (JSON Schema allows them), so a description written in
a YAML flow mapping and cut at a comma into a bogus key (``{description: The id, if any.}`` gives a key
``if any.``) passes it. Here every schema object holds only JSON Schema and OpenAPI keywords, every
parameter, operation and media type object only its own fields, and every operation says whether it
needs the token (``security: []`` when it does not).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from tests.support.api import spec

SCHEMA_KEYS = frozenset({
    "$ref", "$id", "$schema", "$comment", "$defs", "$anchor", "type", "title", "description", "default",
    "examples", "example", "deprecated", "readOnly", "writeOnly", "enum", "const", "format", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains", "minContains",
    "maxContains", "properties", "patternProperties", "additionalProperties", "propertyNames",
    "required", "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
    "unevaluatedProperties", "unevaluatedItems", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "contentMediaType", "contentEncoding", "contentSchema", "discriminator", "xml", "externalDocs",
})
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA = ("items", "not", "if", "then", "else", "contains", "propertyNames", "additionalProperties",
             "unevaluatedProperties", "unevaluatedItems", "contentSchema")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
OPERATION_KEYS = frozenset({"tags", "summary", "description", "externalDocs", "operationId", "parameters",
                            "requestBody", "responses", "callbacks", "deprecated", "security", "servers"})
PARAMETER_KEYS = frozenset({"name", "in", "description", "required", "deprecated", "allowEmptyValue",
                            "style", "explode", "allowReserved", "schema", "example", "examples", "content"})
MEDIA_TYPE_KEYS = frozenset({"schema", "example", "examples", "encoding"})
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def schemas_of(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every schema object in and under ``node`` (a schema), with where it is."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in SUBSCHEMA:
        if isinstance(node.get(key), dict):
            yield from schemas_of(node[key], f"{where}/{key}")
    for key in SUBSCHEMA_LISTS:
        for i, sub in enumerate(node.get(key) or []):
            yield from schemas_of(sub, f"{where}/{key}/{i}")
    for key in SUBSCHEMA_MAPS:
        for name, sub in (node.get(key) or {}).items():
            yield from schemas_of(sub, f"{where}/{key}/{name}")


def media_types(content: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for media_type, body in content.items():
        yield f"{where}/{media_type}", body


def all_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    doc = spec()
    components = doc.get("components", {})
    for name, schema in components.get("schemas", {}).items():
        yield from schemas_of(schema, f"#/components/schemas/{name}")
    for where, parameter in all_parameters():
        yield from schemas_of(parameter.get("schema"), f"{where}/schema")
    for where, body in all_media_types():
        yield from schemas_of(body.get("schema"), f"{where}/schema")
    for where, response in all_responses():
        for name, header in (response.get("headers") or {}).items():
            yield from schemas_of(header.get("schema"), f"{where}/headers/{name}/schema")


def all_operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def all_parameters() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, parameter in spec().get("components", {}).get("parameters", {}).items():
        yield f"#/components/parameters/{name}", parameter
    for where, operation in all_operations():
        for i, parameter in enumerate(operation.get("parameters") or []):
            if "$ref" not in parameter:
                yield f"{where}/parameters/{i}", parameter


def all_responses() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, response in spec().get("components", {}).get("responses", {}).items():
        yield f"#/components/responses/{name}", response
    for where, operation in all_operations():
        for status, response in operation.get("responses", {}).items():
            if "$ref" not in response:
                yield f"{where}/responses/{status}", response


def all_media_types() -> Iterator[tuple[str, dict[str, Any]]]:
    for where, response in all_responses():
        yield from media_types(response.get("content") or {}, f"{where}/content")
    for where, operation in all_operations():
        body = operation.get("requestBody") or {}
        yield from media_types(body.get("content") or {}, f"{where}/requestBody/content")


def test_every_schema_object_holds_only_schema_keywords() -> None:
    bogus = {where: sorted(set(schema) - SCHEMA_KEYS) for where, schema in all_schemas()
             if set(schema) - SCHEMA_KEYS}
    assert bogus == {}


def test_the_lint_finds_a_description_cut_at_a_comma() -> None:
    cut = yaml.safe_load("guid: {type: string, description: The feed's own id for the item, if any.}")
    found = [sorted(set(s) - SCHEMA_KEYS) for _, s in schemas_of(cut["guid"], "guid")]
    assert found == [["if any."]]


def test_operations_parameters_and_media_types_hold_only_their_fields() -> None:
    bogus: dict[str, list[str]] = {}
    for where, operation in all_operations():
        if set(operation) - OPERATION_KEYS:
            bogus[where] = sorted(set(operation) - OPERATION_KEYS)
    for where, parameter in all_parameters():
        if set(parameter) - PARAMETER_KEYS:
            bogus[where] = sorted(set(parameter) - PARAMETER_KEYS)
    for where, body in all_media_types():
        if set(body) - MEDIA_TYPE_KEYS:
            bogus[where] = sorted(set(body) - MEDIA_TYPE_KEYS)
    assert bogus == {}


def test_every_operation_says_whether_it_needs_the_token() -> None:
    undeclared = [where for where, operation in all_operations() if "security" not in operation]
    assert undeclared == []
    for where, operation in all_operations():
        assert operation["security"] in ([], [{"bearerAuth": []}]), where
        needs_token = operation["security"] != []
        documents_401 = "401" in operation["responses"]
        assert needs_token == documents_401, where
