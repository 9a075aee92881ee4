"""JSON Lines bulk import: one item object per line, bad lines reported with their number and skipped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from index.ingest.normalise import html_to_text, make_item, parse_date
from index.model import FeedItem, ParsedInput

# Ids given by the caller become URL path segments (/v1/items/{id}), so they must be path-safe.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:~-]{1,128}$")
# The keys a record may carry (README, openapi.yaml's ItemRecord); any other is ignored, and reported.
KNOWN_KEYS = frozenset({"id", "guid", "title", "summary", "link", "source", "published", "authors", "tags"})
# How many unknown keys a warning names before it says how many more there were.
_NAMED_KEYS = 10


def looks_like_jsonl(text: str) -> bool:
    """Return True when the first non-blank line is a JSON object."""
    for line in text.splitlines():
        if line.strip():
            return line.lstrip().startswith("{")
    return False


def parse_jsonl(text: str, *, source: str | None = None) -> ParsedInput:
    """Parse JSON Lines: each object needs ``title``; ``summary``, ``link``, ``id``, ``guid``,
    ``source``, ``published``, ``authors`` and ``tags`` are optional. ``source`` overrides every line's
    source. Keys besides these are ignored, and named once in a warning with the first line of each."""
    result = ParsedInput()
    unknown: dict[str, int] = {}
    for number, outcome in parse_lines(text, source=source, unknown=unknown):
        if isinstance(outcome, str):
            result.errors.append(f"line {number}: {outcome}")
        else:
            result.items.append(outcome)
    if unknown:
        result.warnings.append(unknown_keys_warning(unknown))
    return result


def unknown_keys_warning(unknown: dict[str, int]) -> str:
    """Return the one warning for the keys no item field has, given each one's first line."""
    named = [f"'{key}' (line {line})" for key, line in list(unknown.items())[:_NAMED_KEYS]]
    more = len(unknown) - len(named)
    listed = ", ".join(named) + (f" and {more} more" if more else "")
    return f"ignored keys that are not item fields: {listed}; the fields are {', '.join(sorted(KNOWN_KEYS))}"


def parse_lines(text: str, *, source: str | None = None,
                unknown: dict[str, int] | None = None) -> Iterator[tuple[int, FeedItem | str]]:
    """Yield (line number, the item or why the line is not one) for every non-blank line of JSON Lines.

    Lines end at ``\n`` only (a ``\r`` before it is dropped): ``str.splitlines`` would also split at
    U+2028 and other separators that JSON allows unescaped inside strings, cutting a valid record apart.
    ``unknown`` collects each key that is not an item field, with the first line that has it.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if unknown is not None and isinstance(record, dict):
            for key in record.keys() - KNOWN_KEYS:
                unknown.setdefault(str(key), number)
        yield number, parse_record(record, source=source)


def parse_record(record: Any, *, source: str | None = None) -> FeedItem | str:
    """Return the item a decoded JSON value describes, or why it cannot be one.

    The value is one JSON Lines line or one element of a JSON array; ``source`` overrides its own.
    """
    problem = _check(record)
    if problem:
        return problem
    return make_item(
        title=record["title"],
        link=record.get("link"),
        summary_html=record.get("summary") or "",
        source=source or record.get("source"),
        published=record.get("published"),
        guid=record.get("guid"),
        item_id=str(record["id"]) if record.get("id") is not None else None,
        authors=_strings(record.get("authors")),
        tags=_tags(record.get("tags")),
    )


def item_record_problem(record: Any) -> str | None:
    """Return why a decoded JSON value cannot be an item, or None when it can."""
    return _check(record)


def _check(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        return "missing or empty 'title'"
    if not html_to_text(title):
        return "'title' has no text once its HTML is removed"
    for key in ("summary", "link", "source", "published", "guid"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"'{key}' must be a string"
    for key in ("authors", "tags"):
        value = record.get(key)
        if value is not None and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            return f"'{key}' must be a string or a list of strings"
    if record.get("id") is not None:
        item_id = record["id"]
        if isinstance(item_id, bool) or not isinstance(item_id, str | int):
            return "'id' must be a string or an integer"
        if not _SAFE_ID.match(str(item_id)):
            return "'id' may hold only letters, digits and . _ : ~ - (1 to 128 of them)"
    if record.get("published"):
        if parse_date(record["published"]) is None:
            return "'published' is not an ISO 8601 or RFC 822 date"
    return None


def _tags(value: Any) -> list[str]:
    # Tags are often written as one comma-separated string ("x, y"); a comma is never part of a tag
    # (the index keeps an item's tags comma-separated, and turned "x,y" into the one tag "x y").
    return [tag.strip() for text in _strings(value) for tag in text.split(",") if tag.strip()]


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)]
