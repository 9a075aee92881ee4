"""Search endpoints: ``GET /v1/search`` (ranked, filtered, faceted, paged), the same as ``POST /v1/search``
with a JSON body for questions too long for a URL, and ``GET /v1/sources``."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, request

from index.model import SearchRequest
from service.bodies import json_object
from service.engine import current_engine
from service.schemas import (
    SearchArgs,
    SearchBody,
    SourcesArgs,
    SourceSchema,
    dump_page,
    load_args,
    load_body,
)

bp = Blueprint("search", __name__, url_prefix="/v1")
# Made once: a marshmallow schema deep-copies its declared fields on every instantiation.
_SEARCH_ARGS = SearchArgs()
_SEARCH_BODY = SearchBody()


@bp.get("/search")
def search() -> dict[str, Any]:
    """Search items: exact total, facets over the whole match set, highlights for the page's hits."""
    started = time.perf_counter()
    return _answer(load_args(_SEARCH_ARGS, request.args), started)


@bp.post("/search")
def search_by_body() -> dict[str, Any]:
    """Search as the GET does, with the parameters in a JSON object and ``q`` up to 10,000 characters."""
    started = time.perf_counter()
    return _answer(load_body(_SEARCH_BODY, json_object()), started)


def _answer(req: SearchRequest, started: float) -> dict[str, Any]:
    body = dump_page(current_engine().search(req))
    body["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return body


@bp.get("/sources")
def sources() -> dict[str, Any]:
    """List sources with their item counts, largest first, over the whole index or a query's matches."""
    args = load_args(SourcesArgs(), request.args)
    rows, total = current_engine().sources(args["q"] or None)
    return {"sources": SourceSchema(many=True).dump(rows), "total": total}
