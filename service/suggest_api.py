"""Search-as-you-type: ``GET /v1/suggest?q=prefix`` answers title completions and matching source names."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, request

from index.errors import FeedsiftError
from service.engine import current_engine
from service.schemas import SuggestArgs, SuggestionsSchema, load_args

bp = Blueprint("suggest", __name__, url_prefix="/v1")


@bp.get("/suggest")
def suggest() -> dict[str, Any]:
    """Return titles completing the typed words (newest first) and sources matching them (largest first)."""
    args = load_args(SuggestArgs(), request.args)
    found = current_engine().suggest(args["q"], limit=args["limit"])
    body: dict[str, Any] = {"q": args["q"], **SuggestionsSchema().dump(found)}
    return body


def warm_up(app: Flask) -> None:
    """Read the index's titles for suggestions now, so no one's first keystroke waits for it.

    gunicorn calls this in a thread as each worker starts (gunicorn.conf.py); without an index yet it
    does nothing, and the first suggestion after the index appears reads the titles instead.
    """
    try:
        current_engine(app).suggest("a", limit=1)
    except FeedsiftError as exc:
        app.logger.info("suggestions not warmed up: %s", exc)
