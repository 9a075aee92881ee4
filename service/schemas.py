"""Marshmallow schemas: ``<Endpoint>Args`` validate query strings in, ``<Thing>Schema`` shape JSON out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema
from werkzeug.datastructures import MultiDict

from index.alerts import MAX_ALERT_QUERY_CHARS
from index.model import MAX_WINDOW, SORTS, FacetCount, Hit, Page, SearchRequest, format_utc
from index.search.querylang import MAX_QUERY_CHARS

MAX_PER_PAGE = 100
# A query in a URL: longer questions (up to the engine's MAX_QUERY_CHARS) go in a POST /v1/search body.
MAX_GET_QUERY_CHARS = 1_000
# Each source is a term of the filter; a few dozen is any real use, thousands would be a cheap CPU attack.
MAX_SOURCES = 20
MAX_SIMILAR = 50
MAX_SUGGESTIONS = 20
# Suggestions complete what someone is typing; a longer text is a search, not a prefix.
MAX_SUGGEST_CHARS = 200
# A feed URL longer than this is not a feed URL anyone types or exports; source names are labels.
MAX_FEED_URL_CHARS = 2048
MAX_SOURCE_CHARS = 200


def web_link(link: str) -> str:
    """Return the link if it is an http(s) URL, else the empty string.

    A feed's ``javascript:`` or ``data:`` link must never reach a client that puts ``link`` in an href.
    """
    return link if link.lower().startswith(("http://", "https://")) else ""


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
        return format_utc(value)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        # RFC 3339 allows a lower-case "t" and "z", which fromisoformat does not take.
        text = value.strip().upper()
        try:
            if "T" not in text and " " not in text:
                day = date.fromisoformat(text)
                start = datetime.combine(day, time(0), tzinfo=UTC)
                return start + timedelta(days=1, microseconds=-1) if self.end_of_day else start
            stamp = datetime.fromisoformat(text)
            # An offset can carry a time at either end of the calendar past it (0001-01-01T00:00+01:00).
            return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        except (ValueError, OverflowError):
            raise self.make_error("invalid") from None


class ArgsSchema(Schema):
    """Base of every query-string schema: an unknown parameter is an error, not silently ignored."""

    class Meta:
        unknown = RAISE


class SearchArgs(ArgsSchema):
    """The parameters of ``GET /v1/search``."""

    q = fields.String(load_default="", validate=validate.Length(max=MAX_GET_QUERY_CHARS))
    source = fields.List(
        fields.String(validate=validate.Length(min=1, max=MAX_SOURCE_CHARS)), load_default=list,
        validate=validate.Length(max=MAX_SOURCES, error="Given more than {max} times; at most {max} sources "
                                 "can be combined in one search."),
    )
    since = UtcDateTime(load_default=None)
    until = UtcDateTime(end_of_day=True, load_default=None)
    sort = fields.String(load_default="relevance", validate=validate.OneOf(SORTS))
    match = fields.String(load_default="any", validate=validate.OneOf(("any", "all")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    collapse = fields.Boolean(load_default=True)

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
            collapse=data["collapse"],
        )


class SearchBody(SearchArgs):
    """The JSON body of ``POST /v1/search``: the GET's parameters, with ``q`` as long as the engine takes.

    For questions too long for a URL (a pasted abstract); ``source`` is a JSON array of names.
    """

    q = fields.String(load_default="", validate=validate.Length(max=MAX_QUERY_CHARS))
    # A member given as null is refused, as the spec's types say; one left out keeps its default.
    since = UtcDateTime(load_default=None, allow_none=False)
    until = UtcDateTime(end_of_day=True, load_default=None, allow_none=False)


class SourcesArgs(ArgsSchema):
    """The parameters of ``GET /v1/sources``."""

    q = fields.String(load_default="", validate=validate.Length(max=MAX_GET_QUERY_CHARS))


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
    return _load(schema, data, problems)


def load_body(schema: Schema, body: Mapping[str, Any]) -> Any:
    """Validate a JSON object with ``schema`` as :func:`load_args` does a query string.

    A member the schema does not declare is an error that lists the ones it does.
    """
    known = ", ".join(schema.fields) or "none"
    problems = {key: [f"Unknown member; this endpoint takes: {known}."]
                for key in body if key not in schema.fields}
    return _load(schema, {key: value for key, value in body.items() if key in schema.fields}, problems)


def _load(schema: Schema, data: dict[str, Any], problems: dict[str, list[str]]) -> Any:
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


class CopySchema(Schema):
    """Another copy of a hit's or item's work (the same paper or post from another feed, or a new version)."""

    id = fields.String()
    source = fields.String()
    link = fields.Function(lambda thing: web_link(thing.link))
    published = UtcDateTime()


class HitSchema(Schema):
    """One search result: ``title`` and ``snippet`` are plain text, ``highlights`` HTML with only <mark>.

    The shape of a hit, declared; :func:`dump_hit` writes the same dict without marshmallow's per-field
    dumping (tests/service/test_schemas.py holds the two equal).
    """

    id = fields.String()
    title = fields.String()
    link = fields.Function(lambda thing: web_link(thing.link))
    source = fields.String()
    published = UtcDateTime()
    first_seen = UtcDateTime()
    score = fields.Float()
    snippet = fields.String()
    highlights = fields.Nested(HighlightsSchema)
    also = fields.List(fields.Nested(CopySchema))


class FacetCountSchema(Schema):
    value = fields.String()
    count = fields.Integer()


class FacetsSchema(Schema):
    source = fields.List(fields.Nested(FacetCountSchema), attribute="source_facets")
    published = fields.List(fields.Nested(FacetCountSchema), attribute="month_facets")


class PageSchema(Schema):
    """A page of search results; ``took_ms`` is added by the endpoint, which alone knows the time taken.

    The shape of a page, declared; :func:`dump_page` writes the same dict directly (see :func:`dump_hit`).
    """

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    hits = fields.List(fields.Nested(HitSchema))
    facets = fields.Function(lambda page: _FACETS.dump(page))
    did_you_mean = fields.String(allow_none=True)


_FACETS: Schema = FacetsSchema()
_HIGHLIGHTED = tuple(HighlightsSchema._declared_fields)


def dump_hit(hit: Hit) -> dict[str, Any]:
    """Return what ``HitSchema().dump(hit)`` returns, built directly.

    Every search and similar-items response dumps a page of hits and every facet count; through
    marshmallow's per-field dumping that was ~1 ms of a search, more than the rest of the service layer.
    """
    return {
        "id": hit.id,
        "title": hit.title,
        "link": web_link(hit.link),
        "source": hit.source,
        "published": None if hit.published is None else format_utc(hit.published),
        "first_seen": None if hit.first_seen is None else format_utc(hit.first_seen),
        "score": float(hit.score),
        "snippet": hit.snippet,
        "highlights": {key: hit.highlights[key] for key in _HIGHLIGHTED if key in hit.highlights},
        "also": [
            {"id": c.id, "source": c.source, "link": web_link(c.link),
             "published": None if c.published is None else format_utc(c.published)}
            for c in hit.also
        ],
    }


def _dump_counts(counts: list[FacetCount]) -> list[dict[str, Any]]:
    return [{"value": c.value, "count": c.count} for c in counts]


def dump_page(page: Page) -> dict[str, Any]:
    """Return what ``PageSchema().dump(page)`` returns, built directly (see :func:`dump_hit`)."""
    return {
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "hits": [dump_hit(hit) for hit in page.hits],
        "facets": {"source": _dump_counts(page.source_facets), "published": _dump_counts(page.month_facets)},
        "did_you_mean": page.did_you_mean,
    }


class ItemSchema(Schema):
    """A whole item; every text field is plain text."""

    id = fields.String()
    title = fields.String()
    link = fields.Function(lambda thing: web_link(thing.link))
    source = fields.String()
    published = UtcDateTime()
    authors = fields.List(fields.String())
    tags = fields.List(fields.String())
    summary = fields.String()
    also = fields.List(fields.Nested(CopySchema))


class SourceSchema(Schema):
    name = fields.String()
    count = fields.Integer()
    newest = UtcDateTime()


class FeedArgs(SearchArgs):
    """The parameters of ``GET /v1/search.atom`` and ``/v1/search.json``: a search, newest first."""

    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class SuggestArgs(ArgsSchema):
    """The parameters of ``GET /v1/suggest``."""

    q = fields.String(required=True, validate=validate.Length(min=1, max=MAX_SUGGEST_CHARS))
    limit = fields.Integer(load_default=8, validate=validate.Range(min=1, max=MAX_SUGGESTIONS))


class BodySchema(Schema):
    """Base of every JSON body schema: an unknown field is an error, not silently ignored."""

    class Meta:
        unknown = RAISE


class AddFeedArgs(BodySchema):
    """The JSON body of ``POST /v1/feeds``."""

    url = fields.String(required=True, validate=validate.Length(min=1, max=MAX_FEED_URL_CHARS))
    source = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_SOURCE_CHARS))


class RegisteredFeedSchema(Schema):
    """A registered feed and its health, as ``/v1/feeds`` lists it."""

    id = fields.Integer()
    url = fields.String()
    source = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    enabled = fields.Boolean()
    last_status = fields.Integer(allow_none=True)
    last_polled = UtcDateTime()
    last_success = UtcDateTime()
    last_error = fields.String(allow_none=True)
    last_warning = fields.String(allow_none=True)
    consecutive_failures = fields.Integer()
    next_poll = UtcDateTime()
    item_count = fields.Integer()
    created = UtcDateTime()


class PollSchema(Schema):
    """What ``POST /v1/feeds/{feed_id}/poll`` did: the outcome, the index writes and the feed after it."""

    outcome = fields.String()
    status = fields.Integer(allow_none=True)
    added = fields.Function(lambda result: result.report.added if result.report else 0)
    updated = fields.Function(lambda result: result.report.updated if result.report else 0)
    unchanged = fields.Function(lambda result: result.report.unchanged if result.report else 0)
    warning = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    moved_to = fields.String(allow_none=True)
    feed = fields.Nested(RegisteredFeedSchema)



class TitleSuggestionSchema(Schema):
    """A title completion; ``title`` is plain text."""

    id = fields.String()
    title = fields.String()
    source = fields.String()
    published = UtcDateTime()


class SourceSuggestionSchema(Schema):
    name = fields.String()
    count = fields.Integer()


class SuggestionsSchema(Schema):
    titles = fields.List(fields.Nested(TitleSuggestionSchema))
    sources = fields.List(fields.Nested(SourceSuggestionSchema))


class JsonBoolean(fields.Boolean):
    """A JSON ``true`` or ``false`` only: marshmallow's Boolean also takes 0, 1, "yes" and "on"."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class AddAlertArgs(BodySchema):
    """The JSON body of ``POST /v1/alerts``."""

    q = fields.String(required=True, validate=validate.Length(min=1, max=MAX_ALERT_QUERY_CHARS))
    webhook = fields.String(required=True, validate=validate.Length(min=1, max=MAX_FEED_URL_CHARS))
    source = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_SOURCE_CHARS))
    match = fields.String(load_default="any", validate=validate.OneOf(("any", "all")))
    updates = JsonBoolean(load_default=False)


class AlertSchema(Schema):
    """An alert and the health of its deliveries; never its secret."""

    id = fields.Integer()
    q = fields.String()
    source = fields.String(allow_none=True)
    match = fields.String()
    updates = fields.Boolean()
    webhook = fields.String()
    created = UtcDateTime()
    updated = UtcDateTime()
    last_attempt = UtcDateTime()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    consecutive_failures = fields.Integer()
    pending = fields.Integer()


class AttemptSchema(Schema):
    """One POST of a delivery and its outcome (``delivered``, ``retry`` or ``failed``)."""

    delivery = fields.String()
    attempt = fields.Integer()
    at = UtcDateTime()
    status = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    outcome = fields.String()
    items = fields.Integer()
    next_attempt = UtcDateTime()
