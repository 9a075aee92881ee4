"""Marshmallow schemas: ``<Endpoint>Args`` validate query strings in, ``<Thing>Schema`` shape JSON out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema
from werkzeug.datastructures import MultiDict

from index.query import MAX_QUERY_CHARS
from index.searcher import MAX_WINDOW, SORTS, SearchRequest

MAX_PER_PAGE = 100
MAX_SIMILAR = 50


class UtcDateTime(fields.Field[datetime]):
    """A timestamp in: an ISO 8601 date or date-time; out: ISO 8601 UTC ending in ``Z``.

    A date-time without an offset is read as UTC. A bare date means the start of that day, or its end
    when ``end_of_day`` is set, so ``until=2026-03-01`` includes everything published on 1 March.
    """

    default_error_messages = {
        "invalid": "Not an ISO 8601 date (2026-03-01) or date-time (2026-03-01T09:30:00Z).",
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        stamp: datetime = value.astimezone(UTC)
        return stamp.replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        try:
            if "T" not in text.upper() and " " not in text:
                day = date.fromisoformat(text)
                start = datetime.combine(day, time(0), tzinfo=UTC)
                return start + timedelta(days=1, microseconds=-1) if self.end_of_day else start
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise self.make_error("invalid") from None
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


class ArgsSchema(Schema):
    """Base of every query-string schema: an unknown parameter is an error, not silently ignored."""

    class Meta:
        unknown = RAISE


class SearchArgs(ArgsSchema):
    """The parameters of ``GET /v1/search``."""

    q = fields.String(load_default="", validate=validate.Length(max=MAX_QUERY_CHARS))
    source = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    since = UtcDateTime(load_default=None)
    until = UtcDateTime(end_of_day=True, load_default=None)
    sort = fields.String(load_default="relevance", validate=validate.OneOf(SORTS))
    match = fields.String(load_default="any", validate=validate.OneOf(("any", "all")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_PER_PAGE))

    @validates_schema
    def _check_window(self, data: dict[str, Any], **kwargs: Any) -> None:
        page, per_page = data.get("page"), data.get("per_page")
        if page is not None and per_page is not None and page * per_page > MAX_WINDOW:
            raise ValidationError(
                f"page * per_page is {page * per_page}; results are only served up to item {MAX_WINDOW}. "
                "Narrow the query (a filter, a date range) instead of paging this deep.",
                field_name="page",
            )
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until < since:
            raise ValidationError("until is before since.", field_name="until")

    @post_load
    def _to_request(self, data: dict[str, Any], **kwargs: Any) -> SearchRequest:
        return SearchRequest(
            q=data["q"],
            sources=tuple(data["source"]),
            since=data["since"],
            until=data["until"],
            sort=data["sort"],
            match=data["match"],
            page=data["page"],
            per_page=data["per_page"],
        )


class SourcesArgs(ArgsSchema):
    """The parameters of ``GET /v1/sources``."""

    q = fields.String(load_default="", validate=validate.Length(max=MAX_QUERY_CHARS))


class SimilarArgs(ArgsSchema):
    """The parameters of ``GET /v1/items/{item_id}/similar``."""

    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_SIMILAR))


class NoArgs(ArgsSchema):
    """For endpoints that take no query parameters at all."""


def load_args(schema: Schema, args: MultiDict[str, str]) -> Any:
    """Validate a query string with ``schema``, reporting every bad parameter at once.

    Only list fields may be given more than once; a parameter the schema does not declare is an error
    that lists the ones it does.
    """
    data: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    known = ", ".join(schema.fields) or "none"
    for key in args:
        values = args.getlist(key)
        declared = schema.fields.get(key)
        if declared is None:
            problems[key] = [f"Unknown parameter; this endpoint takes: {known}."]
        elif isinstance(declared, fields.List):
            data[key] = values
        elif len(values) > 1:
            problems[key] = ["Given more than once; this parameter takes one value."]
        else:
            data[key] = values[0]
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_request": exc.messages}
        raise ValidationError({**problems, **messages}) from None
    if problems:
        raise ValidationError(problems)
    return loaded


class HighlightsSchema(Schema):
    title = fields.String()
    summary = fields.String()


class HitSchema(Schema):
    """One search result: ``title`` and ``snippet`` are plain text, ``highlights`` HTML with only <mark>."""

    id = fields.String()
    title = fields.String()
    link = fields.String()
    source = fields.String()
    published = UtcDateTime()
    score = fields.Float()
    snippet = fields.String()
    highlights = fields.Nested(HighlightsSchema)


class FacetCountSchema(Schema):
    value = fields.String()
    count = fields.Integer()


class FacetsSchema(Schema):
    source = fields.List(fields.Nested(FacetCountSchema), attribute="source_facets")
    published = fields.List(fields.Nested(FacetCountSchema), attribute="month_facets")


class PageSchema(Schema):
    """A page of search results; ``took_ms`` is added by the endpoint, which alone knows the time taken."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    hits = fields.List(fields.Nested(HitSchema))
    facets = fields.Function(lambda page: FacetsSchema().dump(page))
    did_you_mean = fields.String(allow_none=True)


class ItemSchema(Schema):
    """A whole item; every text field is plain text."""

    id = fields.String()
    title = fields.String()
    link = fields.String()
    source = fields.String()
    published = UtcDateTime()
    authors = fields.List(fields.String())
    tags = fields.List(fields.String())
    summary = fields.String()


class SourceSchema(Schema):
    name = fields.String()
    count = fields.Integer()
    newest = UtcDateTime()
