"""Search endpoints: ``GET /v1/search`` (ranked, filtered, faceted, paged) and ``GET /v1/sources``."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, request

from service.engine import current_engine
from service.schemas import PageSchema, SearchArgs, SourcesArgs, SourceSchema, load_args

bp = Blueprint("search", __name__, url_prefix="/v1")
# Made once: a marshmallow schema deep-copies its declared fields on every instantiation.
_SEARCH_ARGS = SearchArgs()
_PAGE = PageSchema()


@bp.get("/search")
def search() -> dict[str, Any]:
    """Search items: exact total, facets over the whole match set, highlights for the page's hits."""
    started = time.perf_counter()
    req = load_args(_SEARCH_ARGS, request.args)
    page = current_engine().search(req)
    body: dict[str, Any] = _PAGE.dump(page)
    body["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return body


@bp.get("/sources")
def sources() -> dict[str, Any]:
    """List sources with their item counts, largest first, over the whole index or a query's matches."""
    args = load_args(SourcesArgs(), request.args)
    rows, total = current_engine().sources(args["q"] or None)
    return {"sources": SourceSchema(many=True).dump(rows), "total": total}
