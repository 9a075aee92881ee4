"""The process's one SearchIndex, attached to the app by create_app and fetched by the blueprints.

Creating it opens nothing: the engine opens the index on first use. Under gunicorn with
``preload_app`` the app is built in the master, so each worker forks an unopened SearchIndex and
opens its own searcher on its first request; no file handle is ever shared between processes.
"""

from __future__ import annotations

from flask import Flask, current_app

from index.searcher import SearchIndex

from .config import Settings

_KEY = "feedsift.index"


def init_app(app: Flask, settings: Settings) -> None:
    """Attach an unopened SearchIndex over ``settings.index_dir`` to the app."""
    app.extensions[_KEY] = SearchIndex(settings.index_dir, check_interval=settings.reopen_interval)


def search_index(app: Flask | None = None) -> SearchIndex:
    """Return the app's SearchIndex (the current app's when none is given)."""
    index: SearchIndex = (app or current_app).extensions[_KEY]
    return index
