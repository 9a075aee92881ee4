"""Request bodies in: the media types the write API reads, UTF-8 text, a JSON object, and batches of items.

Items are made by the engine's own JSON Lines record parser (:func:`index.ingest.jsonl.parse_record`), so an
item posted to the API is exactly the item ``feedsift add file.jsonl`` would index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from index.ingest.jsonl import parse_lines, parse_record
from index.model import FeedItem
from service.errors import BodyError

JSON = "application/json"
# application/x-ndjson is what most clients send; application/jsonl is the newer name.
JSON_LINES = ("application/x-ndjson", "application/jsonl")
# A batch whose every record is broken would otherwise answer with one message per record.
MAX_REPORTED_ERRORS = 100


@dataclass
class ItemBatch:
    """The items of a ``POST /v1/items`` body and the records that could not be items.

    ``position`` says how ``failures`` count: ``line`` (JSON Lines, from 1) or ``index`` (a JSON array,
    from 0). ``failures`` holds every refused record's position and reason.
    """

    position: str
    items: list[FeedItem] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)

    def messages(self) -> list[str]:
        """Return the first :data:`MAX_REPORTED_ERRORS` failures as ``line 3: reason`` messages."""
        return [f"{self.position} {at}: {why}" for at, why in self.failures[:MAX_REPORTED_ERRORS]]


def json_object() -> dict[str, Any]:
    """Return the body as a JSON object; anything else is a 415 or an ``invalid-body`` problem."""
    if request.mimetype != JSON:
        raise UnsupportedMediaType(f"Send the body as {JSON}.")
    value = _decode_json(_text())
    if not isinstance(value, dict):
        raise BodyError("The body must be a JSON object, such as {\"url\": \"https://example.org/feed.xml\"}.")
    return value


def item_batch() -> ItemBatch:
    """Return the items of a JSON array or JSON Lines body, with every record that is not an item."""
    if request.mimetype == JSON:
        values = _decode_json(_text())
        if not isinstance(values, list):
            raise BodyError(
                f"A {JSON} body must be a JSON array of items ([{{\"title\": ...}}]); for one object per "
                f"line, send Content-Type {JSON_LINES[0]}."
            )
        return _collect("index", ((at, parse_record(value)) for at, value in enumerate(values)))
    if request.mimetype in JSON_LINES:
        return _collect("line", parse_lines(_text()))
    raise UnsupportedMediaType(f"Send items as {JSON} (an array) or as JSON Lines ({', '.join(JSON_LINES)}).")


def _collect(position: str, outcomes: Iterable[tuple[int, FeedItem | str]]) -> ItemBatch:
    batch = ItemBatch(position)
    for at, outcome in outcomes:
        if isinstance(outcome, str):
            batch.failures.append((at, outcome))
        else:
            batch.items.append(outcome)
    return batch


def _text() -> str:
    data = request.get_data(cache=False)
    limit = request.max_content_length
    # A declared size over the limit was refused before the handler ran. A chunked body declares none,
    # and Werkzeug then stops reading at the limit without a word, which would index a truncated body.
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge(f"The request body is over the limit of {limit} bytes.")
    if not data.strip():
        raise BodyError("The body is empty.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError(f"The body is not UTF-8 (byte {exc.start} cannot be decoded).") from None


def _decode_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        detail = f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        raise BodyError(detail) from None
    except RecursionError:
        raise BodyError("The body is not usable JSON: it is nested too deeply.") from None
