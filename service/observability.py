"""Per-request observability: a request id, one JSON log line and the request metrics for every request."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, g, request

from service import metrics

REQUEST_ID_HEADER = "X-Request-ID"
LOGGER_NAME = "feedsift.requests"
# An incoming id is kept when it looks like an id (a UUID, a proxy's or load balancer's token), so a
# request can be followed through the proxy's logs and ours; anything else is replaced, never echoed.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


class _StderrHandler(logging.Handler):
    """A handler that writes each line to whatever ``sys.stderr`` is at the time, and flushes it.

    A StreamHandler keeps the stream it was created with; this one follows a replaced ``sys.stderr``
    (pytest's capture, a redirection), as logging's own last resort does.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream: TextIO = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


class JSONFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def request_logger() -> logging.Logger:
    """Return the request logger, giving it its JSON handler the first time."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JSONFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # Its own line, once: the root logger (if anything configured it) would print it again as text.
        logger.propagate = False
    return logger


def _start() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    started = g.get("started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    metrics.observe_request(rule, request.method, response.status_code, seconds)
    request_logger().info("request", extra={"fields": {
        "request_id": request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 2),
    }})
    return response


def init_app(app: Flask) -> None:
    """Give every request an id, a JSON log line and its metrics; call before other request hooks."""
    request_logger()
    # Registered first, so it runs before any hook that may refuse the request.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
