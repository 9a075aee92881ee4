"""The API description: ``GET /openapi.yaml`` (the file as written) and ``GET /openapi.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, current_app

# The spec is kept once, at the repository root; service/openapi.yaml is a symlink to it so that an
# installed package (package-data takes service/*.yaml, following the link) carries the same file.
OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"


bp = Blueprint("spec", __name__)
_KEY = "feedsift.openapi"


def load_spec(app: Flask) -> None:
    """Read the spec once, at start-up, so a missing or broken file stops the start, not a request."""
    text = OPENAPI_PATH.read_text("utf-8")
    parsed: dict[str, Any] = yaml.safe_load(text)
    app.extensions[_KEY] = (text, json.dumps(parsed, ensure_ascii=False, indent=2))


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    """Return the OpenAPI document as written."""
    text, _ = current_app.extensions[_KEY]
    return current_app.response_class(text, mimetype="application/yaml")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """Return the OpenAPI document as JSON."""
    _, as_json = current_app.extensions[_KEY]
    return current_app.response_class(as_json, mimetype="application/json")
