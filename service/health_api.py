"""Health endpoints: ``GET /healthz`` (the process is up) and ``GET /readyz`` (the index is readable)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from service.engine import current_engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """Answer as long as the process can serve requests; touches nothing else."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> dict[str, Any]:
    """Answer when the engine's health check passes; a missing or unreadable index is a 503 problem."""
    engine = current_engine()
    engine.check_health()
    return {"status": "ready", "items": engine.count()}
