"""The process's engine objects: one SearchIndex and one feed Registry, and the writes that go through them.

Creating them opens nothing: the SearchIndex opens the index on first use, and the Registry (which
creates its SQLite file) is opened by the first request that needs it. Under gunicorn with
``preload_app`` the app is built in the master, so each worker forks an unopened SearchIndex and
opens its own searcher on its first request; no file handle is ever shared between processes.

Every write the API makes goes through :func:`upsert_items`, :func:`delete_item` or :func:`poll_now`,
which tell the process's SearchIndex to look for the change on its next request: a client that writes
and then reads from the same worker sees its write at once (other workers within the reopen interval).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from flask import Flask, current_app

from index.model import FeedItem
from index.poll import PollOptions, PollResult, poll_feed
from index.registry import Feed, Registry
from index.searcher import SearchIndex
from index.writer import WriteReport, delete_items, write_items

from .config import Settings

_KEY = "feedsift.index"
_REGISTRY_KEY = "feedsift.registry"
_REGISTRY_LOCK = threading.Lock()
# Seconds an API write waits for another writer's lock: well inside gunicorn's 30 s worker timeout,
# so a busy index is a 503 the client can retry rather than a killed worker.
WRITE_LOCK_TIMEOUT = 10.0


def init_app(app: Flask, settings: Settings) -> None:
    """Attach an unopened SearchIndex over ``settings.index_dir`` to the app."""
    app.extensions[_KEY] = SearchIndex(settings.index_dir, check_interval=settings.reopen_interval)


def search_index(app: Flask | None = None) -> SearchIndex:
    """Return the app's SearchIndex (the current app's when none is given)."""
    index: SearchIndex = (app or current_app).extensions[_KEY]
    return index


def feed_registry() -> Registry:
    """Return the current app's feed registry, opening (and if need be creating) it on first use."""
    registry: Registry | None = current_app.extensions.get(_REGISTRY_KEY)
    if registry is None:
        with _REGISTRY_LOCK:
            registry = current_app.extensions.get(_REGISTRY_KEY)
            if registry is None:
                registry = Registry.beside(search_index().store.root)
                current_app.extensions[_REGISTRY_KEY] = registry
    return registry


def upsert_items(items: Iterable[FeedItem]) -> WriteReport:
    """Add or update items in the index; this process's next request sees them."""
    index = search_index()
    try:
        return write_items(index.store, items, lock_timeout=WRITE_LOCK_TIMEOUT)
    finally:
        index.invalidate()


def delete_item(item_id: str) -> bool:
    """Delete one item from the index and return whether it was there; this process's next request agrees."""
    index = search_index()
    try:
        return delete_items(index.store, [item_id], lock_timeout=WRITE_LOCK_TIMEOUT) > 0
    finally:
        index.invalidate()


def poll_now(feed: Feed) -> PollResult:
    """Poll one feed now, whatever its schedule; this process's next request sees what it indexed."""
    settings: Settings = current_app.config["FEEDSIFT_SETTINGS"]
    options = PollOptions(timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes,
                          allow_private=settings.allow_private_feeds)
    index = search_index()
    try:
        return poll_feed(index.store, feed_registry(), feed, options=options)
    finally:
        index.invalidate()
