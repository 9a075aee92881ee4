"""Optional rate limiting per client address (``FEEDSIFT_RATE_LIMIT``), off unless configured.

Flask-Limiter counts in memory, so each gunicorn worker keeps its own counts: with two workers a client
may get up to twice the limit, in exchange for no shared store to run. A client over the limit gets a
429 ``rate-limited`` problem (built in :mod:`service.errors`) with ``Retry-After``. Health checks and
``/metrics`` are never limited, so probes and scrapes keep working whatever clients do.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from index.settings import Settings

# Probes and scrapes come from the platform, often from one address, and must never be refused.
EXEMPT_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "metrics.scrape"})


def _exempt() -> bool:
    return request.endpoint in EXEMPT_ENDPOINTS


def init_app(app: Flask, settings: Settings) -> None:
    """Limit every request per client address to ``settings.rate_limit``; with none set, add nothing."""
    if not settings.rate_limit:
        return
    # The key is the connecting address: behind a reverse proxy that is the proxy's, so limit there instead
    # (or have the proxy pass the client's address to gunicorn) rather than limit every client as one.
    # Application limits count every path together; default limits would count each route apart.
    # Flask-Limiter's own headers are off: they would overwrite the Retry-After of a 503 as well.
    limiter = Limiter(
        get_remote_address,
        app=app,
        application_limits=[settings.rate_limit],
        application_limits_exempt_when=_exempt,
        storage_uri="memory://",
        strategy="fixed-window",
        headers_enabled=False,
    )

    def retry_after(response: Response) -> Response:
        limit = limiter.current_limit
        if response.status_code == 429 and limit is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(limit.reset_at - time.time())))
        return response

    app.after_request(retry_after)
