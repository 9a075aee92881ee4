"""The Prometheus scrape endpoint: ``GET /metrics`` in the text exposition format."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from index.settings import Settings
from service import metrics
from service.engine import current_engine

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Return every worker's request counters and latency histograms, and the index and feed gauges."""
    settings: Settings = current_app.config["FEEDSIFT_SETTINGS"]
    body = metrics.render(current_engine(), settings.index_dir)
    return current_app.response_class(body, content_type=metrics.CONTENT_TYPE)
