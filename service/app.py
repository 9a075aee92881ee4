"""The application factory: ``create_app()`` builds the Flask app gunicorn serves."""

from __future__ import annotations

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from index.settings import Settings
from service import (
    alerts_api,
    cors,
    engine,
    errors,
    feeds_api,
    health_api,
    items_api,
    metrics_api,
    observability,
    pages_api,
    ratelimit,
    search_api,
    search_feeds_api,
    spec_api,
    suggest_api,
)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with keys in the order openapi.yaml documents and text as UTF-8, not ``\\u`` escapes."""

    sort_keys = False
    ensure_ascii = False


def create_app(settings: Settings | None = None) -> Flask:
    """Return the feedsift Flask app; with no ``settings`` they are read from ``FEEDSIFT_*`` variables.

    Nothing here opens the index (see :mod:`service.engine`), so the app can be built in a gunicorn
    master and forked, and it starts even before the first index has been built.
    """
    settings = Settings.from_env() if settings is None else settings
    app = Flask(__name__, static_folder=None)
    app.config["FEEDSIFT_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = JSONProvider(app)

    observability.init_app(app)
    errors.init_app(app)
    engine.init_app(app, settings)
    spec_api.load_spec(app)
    for module in (search_api, items_api, feeds_api, health_api, spec_api):
        app.register_blueprint(module.bp)
    for module in (search_feeds_api, suggest_api, metrics_api, pages_api, alerts_api):
        app.register_blueprint(module.bp)
    cors.init_app(app, settings)
    ratelimit.init_app(app, settings)

    app.before_request(_refuse_large_bodies)
    app.after_request(_harden)
    return app


def _refuse_large_bodies() -> None:
    # Werkzeug only enforces MAX_CONTENT_LENGTH when a handler reads the body; a declared size over it is
    # refused here, before the token check and on endpoints that never read a body. A chunked body, which
    # declares none, is refused by service.bodies as it is read.
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"The request body is over the limit of {limit} bytes.")


def _harden(response: Response) -> Response:
    # Highlights carry HTML fragments; a browser must never sniff a JSON response into a page.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
