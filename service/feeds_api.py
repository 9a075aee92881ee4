"""Feed registry endpoints: list, add, show and remove feeds, and poll one now. All need the API token.

Reading the registry needs the token too: feed URLs often carry credentials (a user and password, or a
private feed's secret query parameter), and a feed's last error can repeat them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from index.errors import FeedNotFoundError, FeedURLError
from index.feeds.registry import Feed
from service.auth import requires_token
from service.bodies import json_object
from service.engine import feed_registry, poll_now
from service.schemas import AddFeedArgs, NoArgs, PollSchema, RegisteredFeedSchema, load_args

bp = Blueprint("feeds", __name__, url_prefix="/v1/feeds")

# SQLite's largest integer; a bigger id in a path cannot name a feed (and would overflow the driver).
_MAX_ID = 2**63 - 1


@bp.get("")
@requires_token
def list_feeds() -> dict[str, Any]:
    """List every registered feed with its health, oldest first."""
    load_args(NoArgs(), request.args)
    feeds = feed_registry().list()
    return {"feeds": RegisteredFeedSchema(many=True).dump(feeds), "total": len(feeds)}


@bp.post("")
@requires_token
def add_feed() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register a feed, due for polling at once; a URL already registered is a 409."""
    load_args(NoArgs(), request.args)
    args = AddFeedArgs().load(json_object())
    try:
        feed = feed_registry().add(args["url"], args["source"])
    except FeedURLError as exc:
        raise ValidationError({"url": [str(exc)]}) from None
    location = url_for("feeds.get_feed", feed_id=feed.id)
    return RegisteredFeedSchema().dump(feed), 201, {"Location": location}


@bp.get("/<int:feed_id>")
@requires_token
def get_feed(feed_id: int) -> dict[str, Any]:
    """Return one feed with its health."""
    load_args(NoArgs(), request.args)
    body: dict[str, Any] = RegisteredFeedSchema().dump(_find(feed_id))
    return body


@bp.delete("/<int:feed_id>")
@requires_token
def remove_feed(feed_id: int) -> Response:
    """Unregister a feed; the items it brought stay searchable."""
    load_args(NoArgs(), request.args)
    if feed_id > _MAX_ID:
        raise _unknown(feed_id)
    try:
        feed_registry().remove(feed_id)
    except FeedNotFoundError:
        raise _unknown(feed_id) from None
    return Response(status=204)


@bp.post("/<int:feed_id>/poll")
@requires_token
def poll_feed(feed_id: int) -> dict[str, Any]:
    """Poll one feed now, whatever its schedule, and return what happened and the feed after it."""
    load_args(NoArgs(), request.args)
    try:
        result = poll_now(_find(feed_id))
    except FeedNotFoundError:
        raise _unknown(feed_id) from None  # removed while it was being polled
    body: dict[str, Any] = PollSchema().dump(result)
    return body


def _find(feed_id: int) -> Feed:
    if feed_id > _MAX_ID:
        raise _unknown(feed_id)
    try:
        return feed_registry().get(feed_id)
    except FeedNotFoundError:
        raise _unknown(feed_id) from None


def _unknown(feed_id: int) -> NotFound:
    return NotFound(f"There is no feed with id {feed_id}.")
