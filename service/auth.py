"""Bearer-token access to the write API: ``@requires_token`` on every endpoint that writes or shows feeds.

The token is ``FEEDSIFT_API_TOKEN``. It is compared in constant time and never logged or echoed: the
problems this module raises say what was wrong with the request, never what it sent.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from index.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

REALM = "feedsift"


def requires_token(view: Callable[P, R]) -> Callable[P, R]:
    """Let the request through only with ``Authorization: Bearer <FEEDSIFT_API_TOKEN>``.

    With no token configured the endpoint is off (403, saying how to turn it on); a missing,
    malformed or wrong token is a 401 with ``WWW-Authenticate: Bearer``.
    """

    @wraps(view)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        check_token()
        return view(*args, **kwargs)

    return checked


def check_token() -> None:
    """Raise the 403 or 401 that ``requires_token`` answers with, or return when the request may go on."""
    settings: Settings = current_app.config["FEEDSIFT_SETTINGS"]
    expected = settings.api_token
    if not expected:
        raise Forbidden(
            "The write API is disabled: this service has no API token. Set FEEDSIFT_API_TOKEN "
            "(at least 16 characters, such as the output of `openssl rand -hex 32`) and restart it."
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized(
            "This endpoint needs an API token: send `Authorization: Bearer <token>`.",
            www_authenticate=WWWAuthenticate("Bearer", {"realm": REALM}),
        )
    # Bytes, because compare_digest refuses str with non-ASCII characters, which a client may send.
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise Unauthorized(
            "The API token is not the one this service was configured with.",
            www_authenticate=WWWAuthenticate(
                "Bearer", {"realm": REALM, "error": "invalid_token",
                           "error_description": "The token is not valid."}),
        )
