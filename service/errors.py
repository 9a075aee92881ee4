"""Error responses: the only place that builds one, as RFC 9457 ``application/problem+json``.

Every failure, including routing 404/405 and unexpected exceptions, leaves through :func:`problem`;
on the HTML pages for people (``/``, ``/items/...``, ``/docs``) it is rendered as a page instead.
Problem types are relative URIs (``/problems/<name>``) that the service itself answers with a short
explanation, so they never point at a domain we do not own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from index.errors import (
    DuplicateFeedError,
    EngineUnavailableError,
    FeedNotFoundError,
    IndexLockedError,
    IndexMissingError,
    IndexVersionError,
    IndexWriteError,
    InputError,
    QueryError,
    RegistryError,
)

MEDIA_TYPE = "application/problem+json"
# RFC 3986's characters allowed in a path segment, and the separator; everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# Blueprints whose routes are HTML pages for people: their problems are pages too (see page_problem).
PAGE_BLUEPRINTS = frozenset({"pages"})
# Where the pages' own paths live: a path under these that matches no route (a file name with a newline,
# which Flask's path converter does not take) is a 404 page too, as openapi.yaml documents.
PAGE_PREFIXES = ("/items/", "/docs/", "/static/")
# How long a client should wait before asking again when the index is unavailable; a rebuild of a
# sample-sized index takes seconds, a large one a minute or two.
RETRY_AFTER_SECONDS = 30
# How long a client should wait when another writer (the poll worker, a `feedsift add`) holds the index.
BUSY_RETRY_AFTER_SECONDS = 5
# How long a client should wait when the engine's servers do not answer: a Typesense cluster that lost
# its leader elects another in about 10 seconds.
ENGINE_RETRY_AFTER_SECONDS = 10


class BodyError(Exception):
    """A request body that cannot be used; answered as an ``invalid-body`` problem.

    ``errors`` maps what is at fault (``body``) to its messages, by line or element where there is one.
    """

    def __init__(self, detail: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors or {})


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its status, its title and what a client should do about it."""

    name: str
    status: int
    title: str
    explanation: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.name}"


PROBLEMS = {
    p.name: p
    for p in (
        ProblemType("invalid-parameters", 400, "Invalid parameters",
                    "One or more parameters (in the query string, or fields of a JSON body) are missing, "
                    "malformed, out of range or unknown. `errors` maps each parameter at fault to what is "
                    "wrong with it."),
        ProblemType("invalid-query", 400, "Invalid query",
                    "The search query `q` could not be understood (an unbalanced quote or parenthesis, a "
                    "prefix that is too short or too broad, only stop words, ...). `detail` says what "
                    "is wrong and where."),
        ProblemType("invalid-body", 400, "Invalid body",
                    "The request body cannot be used: it is empty, not UTF-8, not the JSON its "
                    "Content-Type announces, or (for `POST /v1/items`) it holds no usable item. `errors` "
                    "lists what is wrong, by line or element where there is one."),
        ProblemType("unauthorized", 401, "Unauthorized",
                    "This endpoint needs `Authorization: Bearer <token>` with the token the service was "
                    "configured with (`FEEDSIFT_API_TOKEN`); the request had none, or another one."),
        ProblemType("writes-disabled", 403, "Writes disabled",
                    "The write API is off because the service has no token configured. An operator "
                    "enables it by setting `FEEDSIFT_API_TOKEN` (at least 16 characters, such as the "
                    "output of `openssl rand -hex 32`) and restarting the service."),
        ProblemType("not-found", 404, "Not found",
                    "There is no resource at this path, or no item or feed with this id."),
        ProblemType("method-not-allowed", 405, "Method not allowed",
                    "The resource exists but does not answer this HTTP method; the `Allow` header "
                    "lists those it does."),
        ProblemType("conflict", 409, "Conflict",
                    "The resource already exists: a feed with this URL is registered. `Location` points "
                    "at it."),
        ProblemType("payload-too-large", 413, "Payload too large",
                    "The request body is larger than the service accepts (`FEEDSIFT_MAX_BODY_BYTES`, "
                    "1 MiB unless configured otherwise)."),
        ProblemType("unsupported-media-type", 415, "Unsupported media type",
                    "The request body's Content-Type is not one this endpoint reads; `detail` lists "
                    "those it does."),
        ProblemType("http-error", 400, "HTTP error",
                    "The request failed at the HTTP level; `status` and `detail` say how."),
        ProblemType("rate-limited", 429, "Too many requests",
                    "This client sent more requests than the service allows (`FEEDSIFT_RATE_LIMIT`, per "
                    "client address and per worker process). Retry after the time given in `Retry-After`."),
        ProblemType("internal-error", 500, "Internal server error",
                    "Something unexpected went wrong in the service. The cause has been logged; "
                    "nothing about it is returned. Retrying may help; if it keeps happening, report it "
                    "with the time of the request."),
        ProblemType("index-unavailable", 503, "Index unavailable",
                    "The search index is missing, unreadable or was built by an incompatible version of "
                    "feedsift. An operator needs to build it (`feedsift add` or `feedsift rebuild`); "
                    "retry after the time given in `Retry-After`."),
        ProblemType("index-busy", 503, "Index busy",
                    "Another writer (the poll worker, a `feedsift add` or `rebuild`) held the index for "
                    "longer than a request may wait. Nothing was written; retry after the time given in "
                    "`Retry-After`."),
        ProblemType("index-not-writable", 503, "Index not writable",
                    "The index's disk refused the write: it is full, or mounted read-only. Nothing of this "
                    "request was written, and everything written before is still served. An operator needs "
                    "to free space or make the index writable; retry after the time given in `Retry-After`."),
        ProblemType("engine-unavailable", 503, "Search engine unavailable",
                    "The search engine's servers (Typesense, with `FEEDSIFT_ENGINE=typesense`) could not "
                    "be reached or refused the request, for example while a cluster elects a new leader. "
                    "Nothing of this request was written; retry after the time given in `Retry-After`."),
        ProblemType("registry-unavailable", 503, "Feed registry unavailable",
                    "The feed registry (an SQLite file beside the index) could not be read or written. "
                    "The cause has been logged; retry after the time given in `Retry-After`."),
    )
}

_BY_STATUS = {
    401: "unauthorized", 403: "writes-disabled", 404: "not-found", 405: "method-not-allowed",
    409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type", 429: "rate-limited",
    500: "internal-error",
}


def problem(
    name: str,
    detail: str,
    *,
    status: int | None = None,
    title: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return the problem+json response for the problem type ``name`` at the current request's path.

    On the HTML pages for people (the ``pages`` blueprint) the same problem is an HTML page instead.
    """
    kind = PROBLEMS[name]
    if request.blueprint in PAGE_BLUEPRINTS or (
            name == "not-found" and request.url_rule is None and request.path.startswith(PAGE_PREFIXES)):
        return page_problem(name, detail, status=status, headers=headers)
    body: dict[str, Any] = {
        "type": kind.uri,
        "title": title or kind.title,
        "status": status or kind.status,
        "detail": detail,
        "instance": instance(),
    }
    if errors:
        body["errors"] = {param: list(messages) for param, messages in errors.items()}
    response = _json(body, status=body["status"], mimetype=MEDIA_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def instance() -> str:
    """Return the request's path as a URI reference: what it decodes to may hold spaces or controls."""
    return quote(request.path, safe=_PATH_SAFE)


def page_problem(
    name: str,
    detail: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    template: str = "problem.html",
    **context: Any,
) -> Response:
    """Return an HTML page telling a person about the problem ``name``, rendered from ``template``.

    The search page passes itself as ``template`` so that a bad query is shown above the search box
    that can fix it; every other page problem uses the plain ``problem.html``.
    """
    kind = PROBLEMS[name]
    code = status or kind.status
    shown = {"type": kind.uri, "title": kind.title, "status": code, "detail": detail}
    html = render_template(template, problem=shown, **context)
    response = current_app.response_class(html, status=code, mimetype="text/html")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _json(body: dict[str, Any], *, status: int, mimetype: str) -> Response:
    # The app's JSON provider keeps the documented key order; compact, as Flask's own responses are.
    text = current_app.json.dumps(body, separators=(",", ":"))
    return current_app.response_class(text, status=status, mimetype=mimetype)


def validation_messages(messages: Any) -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into ``{param: [message, ...]}``.

    A repeatable parameter reports per-value errors keyed by index; they are listed under its name.
    """
    flat: dict[str, list[str]] = {}

    def collect(key: str, value: Any) -> None:
        if isinstance(value, str):
            flat.setdefault(key, []).append(value)
        elif isinstance(value, Mapping):
            for sub in value.values():
                collect(key, sub)
        else:
            for sub in value:
                collect(key, sub)

    if isinstance(messages, Mapping):
        for key, value in messages.items():
            collect(str(key), value)
    else:
        collect("_request", messages)
    return flat


def _describe(errors: dict[str, list[str]]) -> str:
    return " ".join(f"{param}: {' '.join(messages)}" for param, messages in errors.items())


def _on_validation_error(exc: ValidationError) -> Response:
    errors = validation_messages(exc.messages)
    return problem("invalid-parameters", _describe(errors), errors=errors)


def _on_query_error(exc: QueryError) -> Response:
    message = str(exc)
    name = "invalid-query" if exc.param == "q" else "invalid-parameters"
    return problem(name, message, errors={exc.param: [message]})


def _on_index_error(exc: IndexMissingError | IndexVersionError) -> Response:
    # The engine's message names filesystem paths: useful to the operator, none of the client's business.
    current_app.logger.warning("index unavailable: %s", exc)
    if isinstance(exc, IndexVersionError):
        detail = "The search index was built by an incompatible version of feedsift and must be rebuilt."
    else:
        detail = "The search index is not available yet: it has not been built, or cannot be read."
    return problem("index-unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _on_body_error(exc: BodyError) -> Response:
    return problem("invalid-body", exc.detail, errors=exc.errors)


def _on_index_locked(exc: IndexLockedError) -> Response:
    current_app.logger.warning("index busy: %s", exc)
    return problem("index-busy", "Another writer is using the index; nothing was written. Try again shortly.",
                   headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)})


def _on_index_write_error(exc: IndexWriteError) -> Response:
    # The message names the index directory and the OS error: for the operator's log only.
    current_app.logger.error("index not writable: %s", exc)
    return problem("index-not-writable",
                   "The index cannot be written right now (its disk is full or read-only); nothing was "
                   "written and everything written before is still served. Try again later.",
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _on_engine_unavailable(exc: EngineUnavailableError) -> Response:
    # The message names the engine's nodes: for the operator's log only.
    current_app.logger.error("search engine unavailable: %s", exc)
    return problem("engine-unavailable",
                   "The search engine cannot be reached right now; nothing was written. Try again shortly.",
                   headers={"Retry-After": str(ENGINE_RETRY_AFTER_SECONDS)})


def _on_duplicate_feed(exc: DuplicateFeedError) -> Response:
    message = f"That URL is already registered as feed {exc.feed_id}."
    return problem("conflict", message, errors={"url": [message]},
                   headers={"Location": url_for("feeds.get_feed", feed_id=exc.feed_id)})


def _on_feed_not_found(exc: FeedNotFoundError) -> Response:
    # Raised past the endpoint's own lookup when the feed is removed while a request works on it.
    return problem("not-found", "There is no such feed: it was removed while this request was handled.")


def _on_input_error(exc: InputError) -> Response:
    # What the client sent could not be read as an input (a feed, OPML, JSON Lines): say what is wrong.
    message = str(exc)
    return problem("invalid-body", f"The input could not be read: {message}", errors={"body": [message]})


def _on_registry_error(exc: RegistryError) -> Response:
    # The message names the database file: for the operator's log, not for the client.
    current_app.logger.error("feed registry unavailable: %s", exc)
    return problem("registry-unavailable", "The feed registry cannot be used right now.",
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _on_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    name = _BY_STATUS.get(status, "http-error")
    if isinstance(exc, NotFound) and exc.description == NotFound.description:
        detail = f"There is nothing at {request.path}."
    elif isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        allowed = ", ".join(m for m in exc.valid_methods if m not in ("HEAD", "OPTIONS"))
        detail = f"{request.method} is not allowed on {request.path}; it answers {allowed}."
    elif name == "internal-error":
        detail = "An unexpected error occurred; it has been logged."
    elif name == "rate-limited":
        # Flask-Limiter's description is the limit broken, such as "100 per 1 minute".
        detail = f"Too many requests: this service answers {exc.description} per client. Retry later."
    else:
        detail = exc.description or exc.name
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    title = exc.name if name == "http-error" else None
    return problem(name, detail, status=status, title=title, headers=headers)


def _on_unexpected(exc: Exception) -> Response:
    current_app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return problem("internal-error", "An unexpected error occurred; it has been logged.")


def show_problem_type(name: str) -> Response:
    """Answer a problem type URI with its short explanation."""
    kind = PROBLEMS.get(name)
    if kind is None:
        raise NotFound(f"There is no problem type named {name!r}.")
    body = {"type": kind.uri, "title": kind.title, "status": kind.status, "explanation": kind.explanation}
    return _json(body, status=200, mimetype="application/json")


def init_app(app: Flask) -> None:
    """Register the error handlers and the ``/problems/<name>`` route on the app."""
    app.register_error_handler(ValidationError, _on_validation_error)
    app.register_error_handler(QueryError, _on_query_error)
    app.register_error_handler(IndexMissingError, _on_index_error)
    app.register_error_handler(IndexVersionError, _on_index_error)
    app.register_error_handler(BodyError, _on_body_error)
    app.register_error_handler(IndexLockedError, _on_index_locked)
    app.register_error_handler(IndexWriteError, _on_index_write_error)
    app.register_error_handler(EngineUnavailableError, _on_engine_unavailable)
    app.register_error_handler(DuplicateFeedError, _on_duplicate_feed)
    app.register_error_handler(FeedNotFoundError, _on_feed_not_found)
    app.register_error_handler(RegistryError, _on_registry_error)
    app.register_error_handler(InputError, _on_input_error)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(Exception, _on_unexpected)
    app.add_url_rule("/problems/<name>", "problem_type", show_problem_type, methods=["GET"])
