"""The API description: ``GET /openapi.yaml`` (the file as written) and ``GET /openapi.json``."""

from __future__ import annotations

import json
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, current_app

from .config import OPENAPI_PATH

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
