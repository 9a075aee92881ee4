"""The writes' side of alerts: a commit watcher that journals written items and queues their matches."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from index.alerts.outbox import Outbox, journal_lock
from index.alerts.store import AlertStore
from index.errors import AlertError, FeedsiftError
from index.feeds.registry import REGISTRY_FILE
from index.model import FeedItem

log = logging.getLogger(__name__)


class AlertWatcher:
    """Watches an engine's commits for the alerts stored beside ``index_dir`` (a CommitWatcher).

    With no alert stored, a commit costs one look at the database and nothing else: the written items
    are not even worked out. Otherwise they are journalled before the commit, and matched and queued
    after it; a process killed in between leaves the journal row for :meth:`Outbox.recover`.
    Safe to share between the threads of a process.
    """

    def __init__(self, index_dir: str | os.PathLike[str]) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._look: sqlite3.Connection | None = None
        self._pid = 0

    @contextmanager
    def committing(self, written: Callable[[], list[FeedItem]]) -> Iterator[None]:
        store = self._store()
        items = written() if store is not None else []
        if store is None or not items:
            yield
            return
        outbox = Outbox(store)
        with journal_lock(self.index_dir):
            entry, at = outbox.journal(items)
            yield  # the commit; if it raises, the row stays and recovery asks the engine what it holds
            try:
                outbox.settle(entry, items, at)
            except FeedsiftError as exc:
                log.warning("alerts: the matches of a write were not queued yet (%s); "
                            "the next `feedsift alerts deliver` queues them", exc)

    def _store(self) -> AlertStore | None:
        return AlertStore.beside(self.index_dir) if self._any_alert() else None

    def _any_alert(self) -> bool:
        """Tell whether an alert is stored, through one read-only connection kept for the purpose.

        Opening a connection for each commit cost about a millisecond; a query on an open one costs
        microseconds. A process forked from this one opens its own (a connection must not be shared).
        """
        path = self.index_dir / REGISTRY_FILE
        if not path.exists():
            return False  # no database, no alert; and a write must not create it
        with self._lock:
            if self._look is None or self._pid != os.getpid():
                try:
                    self._look = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0,
                                                 isolation_level=None, check_same_thread=False)
                except sqlite3.Error as exc:
                    raise AlertError(f"cannot read the alerts in {path}: {exc}") from None
                self._pid = os.getpid()
            try:
                return bool(self._look.execute("SELECT EXISTS (SELECT 1 FROM alerts)").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return False  # a registry made before alerts, or with none yet
                raise AlertError(f"cannot read the alerts in {path}: {exc}") from None
