"""Item endpoints: read (``GET /v1/items/{item_id}``, ``.../similar``) and write (``POST /v1/items``,
``DELETE /v1/items/{item_id}``, which need the API token)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import NotFound

from service.auth import requires_token
from service.bodies import MAX_REPORTED_ERRORS, item_batch
from service.engine import current_engine, delete_item, upsert_items
from service.errors import BodyError
from service.schemas import ItemSchema, NoArgs, SimilarArgs, dump_hit, load_args

bp = Blueprint("items", __name__, url_prefix="/v1/items")
# Made once: a marshmallow schema deep-copies its declared fields on every instantiation.
_NO_ARGS = NoArgs()
_SIMILAR_ARGS = SimilarArgs()
_ITEM = ItemSchema()


def _unknown(item_id: str) -> NotFound:
    return NotFound(f"There is no item with id {item_id!r}.")


@bp.get("/<item_id>")
def get_item(item_id: str) -> dict[str, Any]:
    """Return the whole item."""
    load_args(_NO_ARGS, request.args)
    item = current_engine().get(item_id)
    if item is None:
        raise _unknown(item_id)
    body: dict[str, Any] = _ITEM.dump(item)
    return body


@bp.get("/<item_id>/similar")
def similar_items(item_id: str) -> dict[str, Any]:
    """Return the items most like this one, never the item itself."""
    args = load_args(_SIMILAR_ARGS, request.args)
    hits = current_engine().similar(item_id, limit=args["limit"])
    if hits is None:
        raise _unknown(item_id)
    return {"id": item_id, "hits": [dump_hit(hit) for hit in hits]}


@bp.post("")
@requires_token
def add_items() -> dict[str, Any]:
    """Add or update the items of a JSON array or JSON Lines body; records that are not items are reported.

    A 200 reports what went in and what did not; a body with no usable item at all is a 400.
    """
    load_args(NoArgs(), request.args)
    batch = item_batch()
    if not batch.items:
        if not batch.failures:
            raise BodyError("The body holds no item.")
        raise BodyError("No record in the body is a usable item.", {"body": batch.messages()})
    report = upsert_items(batch.items)
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed": len(batch.failures),
        "ids": list(dict.fromkeys(item.id for item in batch.items)),
        "errors": [{batch.position: at, "error": why} for at, why in batch.failures[:MAX_REPORTED_ERRORS]],
    }


@bp.delete("/<item_id>")
@requires_token
def remove_item(item_id: str) -> Response:
    """Delete an item: it is gone from search, facets, sources and lookup from the next request on."""
    load_args(NoArgs(), request.args)
    if not delete_item(item_id):
        raise _unknown(item_id)
    return Response(status=204)
