"""The writes' side of alerts: a commit watcher that journals written items and queues their matches."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from index.alerts.outbox import Outbox, journal_lock
from index.alerts.store import AlertStore
from index.errors import FeedsiftError
from index.feeds.registry import REGISTRY_FILE
from index.model import FeedItem

log = logging.getLogger(__name__)


class AlertWatcher:
    """Watches an engine's commits for the alerts stored beside ``index_dir`` (an index.writer.CommitWatcher).

    With no alert stored, a commit costs one look at the database and nothing else: the written items
    are not even worked out. Otherwise they are journalled before the commit, and matched and queued
    after it; a process killed in between leaves the journal row for :meth:`Outbox.recover`.
    """

    def __init__(self, index_dir: str | os.PathLike[str]) -> None:
        self.index_dir = Path(index_dir)

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
        # Without the registry's database there can be no alert, and a write must not create it.
        if not (self.index_dir / REGISTRY_FILE).exists():
            return None
        store = AlertStore.beside(self.index_dir)
        return store if store.any() else None
