"""Item endpoints: ``GET /v1/items/{item_id}`` and ``GET /v1/items/{item_id}/similar``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from werkzeug.exceptions import NotFound

from .engine import search_index
from .schemas import HitSchema, ItemSchema, NoArgs, SimilarArgs, load_args

bp = Blueprint("items", __name__, url_prefix="/v1/items")


def _unknown(item_id: str) -> NotFound:
    return NotFound(f"There is no item with id {item_id!r}.")


@bp.get("/<item_id>")
def get_item(item_id: str) -> dict[str, Any]:
    """Return the whole item."""
    load_args(NoArgs(), request.args)
    item = search_index().get(item_id)
    if item is None:
        raise _unknown(item_id)
    body: dict[str, Any] = ItemSchema().dump(item)
    return body


@bp.get("/<item_id>/similar")
def similar_items(item_id: str) -> dict[str, Any]:
    """Return the items most like this one, never the item itself."""
    args = load_args(SimilarArgs(), request.args)
    hits = search_index().similar(item_id, limit=args["limit"])
    if hits is None:
        raise _unknown(item_id)
    return {"id": item_id, "hits": HitSchema(many=True).dump(hits)}
