"""The process's engine objects: the search Engine, the feed Registry and the alerts, and the writes.

Creating them opens nothing: the engine opens its index (Whoosh) or its connections (Typesense) on
first use, and the Registry (which creates its SQLite file beside ``FEEDSIFT_INDEX_DIR``, whichever
engine holds the items) is opened by the first request that needs it. Under gunicorn with
``preload_app`` the app is built in the master, so each worker forks an unopened engine and opens its
own on its first request; no file handle or connection is ever shared between processes.

Every write the API makes goes through :func:`upsert_items`, :func:`delete_item` or :func:`poll_now`,
and so through the engine, which makes every worker's next request see the write (on Whoosh, through the
stamp each write moves as it lets go of the writer lock, checked with one ``stat`` per read; on Typesense,
every process once the node it asks has the write).
The engine is given an AlertWatcher, so every write also queues what the stored alerts match.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from flask import Flask, current_app

from index.alerts import AlertStore, AlertWatcher
from index.feeds.poll import PollOptions, PollResult, poll_feed
from index.feeds.registry import Feed, Registry
from index.model import FeedItem, WriteReport
from index.search.engine import Engine, open_engine
from index.settings import Settings

_KEY = "feedsift.engine"
_REGISTRY_KEY = "feedsift.registry"
_ALERTS_KEY = "feedsift.alerts"
_REGISTRY_LOCK = threading.Lock()
# Seconds an API write waits for another writer's lock: well inside gunicorn's 30 s worker timeout,
# so a busy index is a 503 the client can retry rather than a killed worker.
WRITE_LOCK_TIMEOUT = 10.0


def init_app(app: Flask, settings: Settings, engine: Engine | None = None) -> None:
    """Attach ``engine``, or an unopened one of the kind ``settings`` choose, to the app."""
    app.extensions[_KEY] = engine or open_engine(
        settings.engine, index_dir=settings.index_dir, nodes=settings.typesense_nodes,
        api_key=settings.typesense_api_key, reopen_interval=settings.reopen_interval,
        lock_timeout=WRITE_LOCK_TIMEOUT, watcher=AlertWatcher(settings.index_dir),
    )


def current_engine(app: Flask | None = None) -> Engine:
    """Return the app's Engine (the current app's when none is given)."""
    engine: Engine = (app or current_app).extensions[_KEY]
    return engine


def feed_registry() -> Registry:
    """Return the current app's feed registry, opening (and if need be creating) it on first use."""
    registry: Registry | None = current_app.extensions.get(_REGISTRY_KEY)
    if registry is None:
        with _REGISTRY_LOCK:
            registry = current_app.extensions.get(_REGISTRY_KEY)
            if registry is None:
                settings: Settings = current_app.config["FEEDSIFT_SETTINGS"]
                registry = Registry.beside(settings.index_dir)
                current_app.extensions[_REGISTRY_KEY] = registry
    return registry


def alert_store() -> AlertStore:
    """Return the current app's alerts (in the registry's database), opening them on first use."""
    store: AlertStore | None = current_app.extensions.get(_ALERTS_KEY)
    if store is None:
        with _REGISTRY_LOCK:
            store = current_app.extensions.get(_ALERTS_KEY)
            if store is None:
                settings: Settings = current_app.config["FEEDSIFT_SETTINGS"]
                store = AlertStore.beside(settings.index_dir)
                current_app.extensions[_ALERTS_KEY] = store
    return store


def upsert_items(items: Iterable[FeedItem]) -> WriteReport:
    """Add or update items in the index; this process's next request sees them."""
    return current_engine().upsert(items)


def delete_item(item_id: str) -> bool:
    """Delete one item from the index and return whether it was there; this process's next request agrees."""
    return current_engine().delete([item_id]) > 0


def poll_now(feed: Feed) -> PollResult:
    """Poll one feed now, whatever its schedule; this process's next request sees what it indexed."""
    settings: Settings = current_app.config["FEEDSIFT_SETTINGS"]
    options = PollOptions(timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes,
                          allow_private=settings.allow_private_feeds)
    return poll_feed(current_engine(), feed_registry(), feed, options=options)
