"""Error responses: the only place that builds one, as RFC 9457 ``application/problem+json``.

Every failure, including routing 404/405 and unexpected exceptions, leaves through :func:`problem`.
Problem types are relative URIs (``/problems/<name>``) that the service itself answers with a short
explanation, so they never point at a domain we do not own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from index.errors import IndexMissingError, IndexVersionError, QueryError

MEDIA_TYPE = "application/problem+json"
# How long a client should wait before asking again when the index is unavailable; a rebuild of a
# sample-sized index takes seconds, a large one a minute or two.
RETRY_AFTER_SECONDS = 30


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
                    "One or more query parameters are missing, malformed, out of range or unknown. "
                    "`errors` maps each parameter at fault to what is wrong with it."),
        ProblemType("invalid-query", 400, "Invalid query",
                    "The search query `q` could not be understood (an unbalanced quote or parenthesis, a "
                    "prefix that is too short or too broad, only stop words, ...). `detail` says what "
                    "is wrong and where."),
        ProblemType("not-found", 404, "Not found",
                    "There is no resource at this path, or no item with this id."),
        ProblemType("method-not-allowed", 405, "Method not allowed",
                    "The resource exists but does not answer this HTTP method; the `Allow` header "
                    "lists those it does."),
        ProblemType("payload-too-large", 413, "Payload too large",
                    "The request body is larger than the service accepts."),
        ProblemType("http-error", 400, "HTTP error",
                    "The request failed at the HTTP level; `status` and `detail` say how."),
        ProblemType("internal-error", 500, "Internal server error",
                    "Something unexpected went wrong in the service. The cause has been logged; "
                    "nothing about it is returned. Retrying may help; if it keeps happening, report it "
                    "with the time of the request."),
        ProblemType("index-unavailable", 503, "Index unavailable",
                    "The search index is missing, unreadable or was built by an incompatible version of "
                    "feedsift. An operator needs to build it (`feedsift add` or `feedsift rebuild`); "
                    "retry after the time given in `Retry-After`."),
    )
}

_BY_STATUS = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large", 500: "internal-error"}


def problem(
    name: str,
    detail: str,
    *,
    status: int | None = None,
    title: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return the problem+json response for the problem type ``name`` at the current request's path."""
    kind = PROBLEMS[name]
    body: dict[str, Any] = {
        "type": kind.uri,
        "title": title or kind.title,
        "status": status or kind.status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = {param: list(messages) for param, messages in errors.items()}
    response = _json(body, status=body["status"], mimetype=MEDIA_TYPE)
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
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(Exception, _on_unexpected)
    app.add_url_rule("/problems/<name>", "problem_type", show_problem_type, methods=["GET"])
