"""Cross-origin access for browsers: off unless ``FEEDSIFT_CORS_ORIGINS`` names the origins allowed.

A read (GET) needs only ``Access-Control-Allow-Origin``. Browsers send a preflight (OPTIONS with
``Access-Control-Request-Method``) before a write (POST, DELETE), a JSON body or a header such as
``Authorization`` or ``X-Request-ID``; it is answered with 204 and the methods and headers allowed, so a
browser app on a configured origin can use the write API with its token. No cookies are involved (the
token is a header the page sets), so credentials are never allowed and ``*`` stays usable.
"""

from __future__ import annotations

from flask import Flask, Response, request

from index.settings import Settings
from service.observability import REQUEST_ID_HEADER

ALLOWED_METHODS = "GET, HEAD, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = f"Accept, Authorization, Content-Type, {REQUEST_ID_HEADER}"
# Location names a feed just registered; the others say when to retry and which request it was.
EXPOSED_HEADERS = f"{REQUEST_ID_HEADER}, Retry-After, Location"
# How long a browser may cache a preflight answer (seconds).
PREFLIGHT_MAX_AGE = "600"


def init_app(app: Flask, settings: Settings) -> None:
    """Answer CORS requests from the configured origins; with none configured, add nothing."""
    origins = frozenset(settings.cors_origins)
    if not origins:
        return
    any_origin = "*" in origins

    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        if request.url_rule is None:
            return None  # an unknown path is a 404 problem, preflight or not
        return app.response_class(status=204)

    def add_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is None or not (any_origin or origin in origins):
            return response
        response.headers["Access-Control-Allow-Origin"] = "*" if any_origin else origin
        if not any_origin:
            response.vary.add("Origin")
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    app.before_request(preflight)
    app.after_request(add_headers)
