"""The stored alerts, in tables of the feed registry's SQLite database beside the index.

    INDEX_DIR/feeds.sqlite3   alerts, alert_journal, alert_seen, alert_outbox, alert_items,
                              alert_deliveries, alert_attempts, alert_counts (beside the registry's
                              own ``feeds``)

Like the registry, every operation opens its own short-lived connection and writes inside ``BEGIN
IMMEDIATE``, so the API's workers, the poll worker and the command line share the file. The tables are
the registry schema's neighbours, not part of it: they are created on first use and the registry's
``user_version`` is left alone.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.alerts.match import check_query
from index.errors import AlertError, AlertNotFoundError, FeedURLError, FetchError, QueryError, WebhookURLError
from index.feeds.fetch import vet_url
from index.feeds.registry import DEFAULT_BUSY_TIMEOUT, REGISTRY_FILE, validate_feed_url

MATCHES = ("any", "all")
# An alert's query runs against every write: the length of a search in a URL, not of a pasted page.
MAX_ALERT_QUERY_CHARS = 1_000
MAX_WEBHOOK_CHARS = 2048
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_COLUMNS = ("id, q, source, match, updates, webhook, created, updated, last_attempt, last_status, "
            "last_error, consecutive_failures")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    q                    TEXT NOT NULL,
    source               TEXT,
    match                TEXT NOT NULL DEFAULT 'any',
    updates              INTEGER NOT NULL DEFAULT 0,
    webhook              TEXT NOT NULL,
    secret               TEXT NOT NULL,
    created              TEXT NOT NULL,
    updated              TEXT NOT NULL,
    last_attempt         TEXT,
    last_status          INTEGER,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS alert_journal (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    written TEXT NOT NULL,
    items   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_seen (
    alert_id    INTEGER NOT NULL,
    item_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (alert_id, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id    INTEGER NOT NULL,
    item_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    queued      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_outbox_alert ON alert_outbox (alert_id, id);
CREATE INDEX IF NOT EXISTS alert_outbox_item ON alert_outbox (item_id, fingerprint);
CREATE TABLE IF NOT EXISTS alert_items (
    item_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    item        TEXT NOT NULL,
    PRIMARY KEY (item_id, fingerprint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id            TEXT PRIMARY KEY,
    alert_id      INTEGER NOT NULL,
    body          BLOB NOT NULL,
    items         INTEGER NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created       TEXT NOT NULL,
    first_attempt TEXT,
    next_attempt  TEXT NOT NULL,
    lease         TEXT
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (state, next_attempt);
CREATE TABLE IF NOT EXISTS alert_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    alert_id    INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    status      INTEGER,
    error       TEXT,
    outcome     TEXT NOT NULL,
    items       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_attempts_alert ON alert_attempts (alert_id, id);
CREATE TABLE IF NOT EXISTS alert_counts (
    outcome TEXT PRIMARY KEY,
    n       INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Alert:
    """A stored query whose new matches go to a webhook, and the health of its deliveries.

    ``match`` is ``any`` or ``all`` as in a search; ``updates`` sends an item again when its fields
    change; ``pending`` counts the items queued or in a delivery not yet made. The secret is not
    here: it is read only to sign, and shown only once, by :meth:`AlertStore.add`.
    """

    id: int
    q: str
    source: str | None
    match: str
    updates: bool
    webhook: str
    created: datetime
    updated: datetime
    last_attempt: datetime | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    pending: int = 0


def validate_webhook(url: str, *, allow_private: bool) -> str:
    """Return the webhook URL as stored, or raise WebhookURLError saying why it is refused.

    The feed fetcher's guard decides: http(s) with a host, resolving only to public addresses unless
    ``allow_private``. A name that does not resolve now is taken (DNS may be down, or the receiver not
    up yet); every delivery checks again, since a name may move.
    """
    if len(url) > MAX_WEBHOOK_CHARS:
        raise WebhookURLError(f"the webhook URL is over {MAX_WEBHOOK_CHARS} characters")
    try:
        clean = validate_feed_url(url)
        vet_url(clean, allow_private=allow_private)
    except FetchError as exc:
        if exc.reason == "network":
            return clean
        hint = " (set FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS=1 to allow them)" if exc.reason == "address" else ""
        raise WebhookURLError(f"webhook refused: {exc}{hint}") from None
    except FeedURLError as exc:
        raise WebhookURLError(str(exc).replace("feeds can be polled", "webhooks can be called")) from None
    return clean


class AlertStore:
    """The alerts and their outbox in one SQLite file; safe to use from several processes and threads."""

    _ready: set[Path] = set()

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        if self.path not in AlertStore._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
            AlertStore._ready.add(self.path)

    @classmethod
    def beside(cls, index_dir: str | os.PathLike[str]) -> AlertStore:
        """Open (creating if needed) the alert tables of the index at ``index_dir``."""
        return cls(Path(index_dir) / REGISTRY_FILE)

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Yield a fresh connection; with ``write`` the block is one immediate transaction."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise AlertError(f"cannot open the alerts database {self.path}: {exc}") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if write:
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if write:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise AlertError(f"alerts database {self.path}: {exc}") from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def any(self) -> bool:
        """Return whether any alert is stored: the one question a write with no alerts pays for."""
        with self.connect() as conn:
            return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM alerts)").fetchone()[0])

    def add(self, q: str, webhook: str, *, source: str | None = None, match: str = "any",
            updates: bool = False, allow_private: bool = False) -> tuple[Alert, str]:
        """Store an alert and return it with its secret, which is never shown again.

        Raises QueryError for a query the search would refuse, WebhookURLError for a webhook the guard
        refuses, and AlertError for an unknown ``match``.
        """
        if match not in MATCHES:
            raise AlertError(f"match must be one of {', '.join(MATCHES)}")
        if not q.strip():
            raise QueryError("An alert needs a query.")
        if len(q) > MAX_ALERT_QUERY_CHARS:
            raise QueryError(f"An alert's query may be at most {MAX_ALERT_QUERY_CHARS} characters long.")
        check_query(q, match_all=match == "all")
        clean = validate_webhook(webhook, allow_private=allow_private)
        secret = secrets.token_hex(32)
        now = stamp(utcnow())
        with self.connect(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO alerts (q, source, match, updates, webhook, secret, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (q, (source or "").strip() or None, match, int(updates), clean, secret, now, now),
            )
            assert cursor.lastrowid is not None
            return self._find(conn, cursor.lastrowid), secret

    def list(self) -> list[Alert]:
        """Return every alert, oldest first, with its pending count."""
        with self.connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM alerts ORDER BY id").fetchall()
            return [_alert(row, _pending(conn, row["id"])) for row in rows]

    def get(self, alert_id: int) -> Alert:
        """Return one alert; raise AlertNotFoundError."""
        with self.connect() as conn:
            return self._find(conn, alert_id)

    def remove(self, alert_id: int) -> Alert:
        """Delete an alert with everything queued for it and its delivery history; return it as it was."""
        with self.connect(write=True) as conn:
            alert = self._find(conn, alert_id)
            for table in ("alert_seen", "alert_outbox", "alert_deliveries", "alert_attempts"):
                conn.execute(f"DELETE FROM {table} WHERE alert_id = ?", (alert_id,))
            conn.execute("DELETE FROM alerts WHERE id = ?", (alert_id,))
            conn.execute("DELETE FROM alert_items WHERE NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE "
                         "o.item_id = alert_items.item_id AND o.fingerprint = alert_items.fingerprint)")
            return alert

    def _find(self, conn: sqlite3.Connection, alert_id: int) -> Alert:
        if not 0 < alert_id < 2**63:
            raise AlertNotFoundError(f"no alert {alert_id}")
        row = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise AlertNotFoundError(f"no alert {alert_id}")
        return _alert(row, _pending(conn, alert_id))


def read_counts(index_dir: str | os.PathLike[str]) -> tuple[dict[str, int], int] | None:
    """Return delivery attempts by outcome and the pending outbox size, opening the database read-only.

    None when there is no database or no alert tables yet. Made for metrics scrapes, which must never
    write: a read-only connection cannot create the file or the tables.
    """
    path = Path(index_dir) / REGISTRY_FILE
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    try:
        counts = {row[0]: row[1] for row in conn.execute("SELECT outcome, n FROM alert_counts")}
        pending = conn.execute(
            "SELECT (SELECT COUNT(*) FROM alert_outbox) + "
            "(SELECT COALESCE(SUM(items), 0) FROM alert_deliveries WHERE state = 'pending')"
        ).fetchone()[0]
        return counts, int(pending)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _pending(conn: sqlite3.Connection, alert_id: int) -> int:
    row = conn.execute(
        "SELECT (SELECT COUNT(*) FROM alert_outbox WHERE alert_id = ?) + (SELECT COALESCE(SUM(items), 0) "
        "FROM alert_deliveries WHERE alert_id = ? AND state = 'pending')", (alert_id, alert_id),
    ).fetchone()
    return int(row[0])


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(value: datetime) -> str:
    """Return the fixed-width UTC text a timestamp is stored as, so comparing strings compares times."""
    return value.astimezone(UTC).strftime(_STAMP)


def parse_stamp(value: str | None) -> datetime | None:
    return datetime.strptime(value, _STAMP).replace(tzinfo=UTC) if value else None


def _alert(row: sqlite3.Row, pending: int) -> Alert:
    created, updated = parse_stamp(row["created"]), parse_stamp(row["updated"])
    assert created is not None and updated is not None
    values: dict[str, Any] = dict(row)
    values.update(created=created, updated=updated, updates=bool(row["updates"]),
                  last_attempt=parse_stamp(row["last_attempt"]), pending=pending)
    return Alert(**values)
