"""The application factory: ``create_app()`` builds the Flask app gunicorn serves."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(settings: Any = None) -> Flask:
    """Return the feedsift Flask app."""
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
