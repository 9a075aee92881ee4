"""The way from a write to a webhook: the journal of writes in flight, the outbox of matches, the deliveries.

    journal     before the engine commits, the items it is about to add or change (one row per commit)
    settle      after the commit, in one SQLite transaction: match the items, queue each (alert, item)
                pair not queued before in the outbox (each item's body once, in alert_items), delete
                the journal row
    recover     a journal row left by a process that died between the two: the items the engine holds
                with the journalled fingerprint were committed and are settled; the others were not
    claim       up to 100 queued items of one alert become a delivery (an id and a fixed body), or a
                pending delivery whose retry is due is taken again, under a lease
    record      the attempt's outcome: delivered, retry (after 1 min, 5 min, 30 min, 2 h, 6 h, 12 h)
                or failed (no retry left within 24 h of the first attempt)

``alert_seen`` holds every pair ever queued, so settling the same items twice (a recovery racing
the writer's own settle) queues them once. ``INDEX_DIR/alerts.lock`` (flock) is held by a writer from
its journal row to its settle, and by a recovery, so a recovery never judges a write still in flight.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from index.alerts.match import match_items
from index.alerts.store import AlertStore, parse_stamp, stamp
from index.errors import FeedsiftError, IndexMissingError
from index.model import FeedItem

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=6), timedelta(hours=12))
GIVE_UP_AFTER = timedelta(hours=24)
MAX_ITEMS = 100
# How long a sender holds a delivery it claimed: longer than one POST can take (10 s for each of
# connect, headers and answer), so another sender never posts it at the same time.
LEASE = timedelta(minutes=2)
# Delivered and failed deliveries (and their attempts) are kept this long for GET .../deliveries.
KEEP = timedelta(days=7)
LOCK_FILE = "alerts.lock"
OUTCOMES = ("delivered", "retry", "failed")
# An item's body, once no queued pair needs it.
_DROP_BODY = ("DELETE FROM alert_items WHERE item_id = ? AND fingerprint = ? AND NOT EXISTS (SELECT 1 "
              "FROM alert_outbox o WHERE o.item_id = alert_items.item_id "
              "AND o.fingerprint = alert_items.fingerprint)")
_SEE = "INSERT OR IGNORE INTO alert_seen VALUES (?, ?, ?)"
_SEE_UPDATE = ("INSERT INTO alert_seen VALUES (?, ?, ?) ON CONFLICT (alert_id, item_id) "
               "DO UPDATE SET fingerprint = excluded.fingerprint WHERE fingerprint != excluded.fingerprint")


@dataclass(frozen=True)
class Delivery:
    """A delivery claimed for sending: the body is fixed when it is made, so a retry sends the same bytes."""

    id: str
    alert_id: int
    webhook: str
    secret: str
    body: bytes
    items: int
    attempts: int


@dataclass(frozen=True)
class Attempt:
    """One POST of a delivery and what came of it (``status`` None: no HTTP answer, see ``error``)."""

    delivery: str
    alert_id: int
    attempt: int
    at: datetime
    status: int | None
    error: str | None
    outcome: str
    items: int
    next_attempt: datetime | None


@dataclass(frozen=True)
class _Watch:
    id: int
    q: str
    source: str | None
    match: str
    updates: bool


@contextlib.contextmanager
def journal_lock(index_dir: str | os.PathLike[str], *, wait: bool = True) -> Iterator[bool]:
    """Hold the journal lock (yielding True), or with ``wait`` false yield False at once if it is taken."""
    fd = os.open(Path(index_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class Outbox:
    """The journal, outbox and deliveries of one alert store."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store

    # --- from a write to the outbox -------------------------------------------------------------

    def journal(self, items: Sequence[FeedItem]) -> tuple[int, datetime]:
        """Record items a commit is about to write; return the row's id and time (before the commit)."""
        now = datetime.now(UTC)
        with self.store.connect(write=True) as conn:
            cursor = conn.execute("INSERT INTO alert_journal (written, items) VALUES (?, ?)",
                                  (stamp(now), json.dumps([_stored(item) for item in items])))
            assert cursor.lastrowid is not None
            return cursor.lastrowid, now

    def settle(self, entry: int | None, items: Sequence[FeedItem], written: datetime) -> int:
        """Queue the matches of committed ``items`` for the alerts made before ``written``, and drop the
        journal row, in one transaction; return how many (alert, item) pairs were queued."""
        watches = self._watches(written)
        matched = match_items(watches, items) if watches and items else {}
        fingerprints = {item.id: item.fingerprint() for item in items} if matched else {}
        rows: list[tuple[int, str, str, str]] = []
        needed: dict[str, FeedItem] = {}
        now = stamp(datetime.now(UTC))
        with self.store.connect(write=True) as conn:
            live = {row[0] for row in conn.execute("SELECT id FROM alerts")}
            for watch in watches:
                if watch.id not in live:
                    continue  # removed while its matches were worked out
                for item in matched.get(watch.id, ()):
                    key = (watch.id, item.id, fingerprints[item.id])
                    # A pair counts as new when it was never queued, or (asked for updates) queued with
                    # another fingerprint; the statement's row count says which.
                    if conn.execute(_SEE_UPDATE if watch.updates else _SEE, key).rowcount != 1:
                        continue
                    if watch.updates:  # a changed item still waiting goes once, as it is now
                        conn.execute("DELETE FROM alert_outbox WHERE alert_id = ? AND item_id = ?", key[:2])
                    rows.append((*key, now))
                    needed[item.id] = item
            conn.executemany("INSERT INTO alert_outbox (alert_id, item_id, fingerprint, queued) "
                             "VALUES (?, ?, ?, ?)", rows)
            # Each item's body is stored once, however many alerts it goes to.
            conn.executemany("INSERT OR IGNORE INTO alert_items VALUES (?, ?, ?)",
                             [(i.id, fingerprints[i.id], json.dumps(item_json(i))) for i in needed.values()])
            if entry is not None:
                conn.execute("DELETE FROM alert_journal WHERE id = ?", (entry,))
        return len(rows)

    def recover(self, fingerprints: Callable[[list[str]], dict[str, str]]) -> int:
        """Settle the journal rows of writes that died between their commit and their settle.

        ``fingerprints`` tells what the engine holds. Skipped (returning 0) while a writer holds the
        journal lock: its row is in flight, not abandoned. A row the engine cannot be asked about now
        is left for the next call.
        """
        queued = 0
        with journal_lock(self.store.path.parent, wait=False) as held:
            if not held:
                return 0
            with self.store.connect() as conn:
                rows = conn.execute("SELECT id, written, items FROM alert_journal ORDER BY id").fetchall()
            for row in rows:
                items = [_item(data) for data in json.loads(row["items"])]
                try:
                    stored = fingerprints([item.id for item in items])
                except IndexMissingError:
                    stored = {}  # no index: the commit never happened
                except FeedsiftError:
                    continue
                committed = [item for item in items if stored.get(item.id) == item.fingerprint()]
                written = parse_stamp(row["written"])
                assert written is not None
                queued += self.settle(row["id"], committed, written)
        return queued

    def _watches(self, written: datetime) -> list[_Watch]:
        with self.store.connect() as conn:
            rows = conn.execute(
                "SELECT id, q, source, match, updates FROM alerts WHERE created <= ? ORDER BY id",
                (stamp(written),),
            ).fetchall()
        return [_Watch(row["id"], row["q"], row["source"], row["match"], bool(row["updates"]))
                for row in rows]

    # --- from the outbox to a webhook --------------------------------------------------------------

    def claim(self, now: datetime, *, force: bool = False, skip: Sequence[str] = ()) -> Delivery | None:
        """Take the next delivery to send: a pending one that is due (any pending one with ``force``), else
        a new one of up to MAX_ITEMS queued items of an alert with none pending; None when there is none.

        ``skip`` names deliveries not to take again (those already tried in this run).
        """
        lease = stamp(now + LEASE)
        marks = ",".join("?" * len(skip))
        with self.store.connect(write=True) as conn:
            row = conn.execute(
                "SELECT d.id, d.alert_id, d.body, d.items, d.attempts, a.webhook, a.secret "
                "FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id "
                "WHERE d.state = 'pending' AND (d.lease IS NULL OR d.lease <= ?) "
                f"AND (? OR d.next_attempt <= ?) AND d.id NOT IN ({marks}) ORDER BY d.next_attempt LIMIT 1",
                (stamp(now), int(force), stamp(now), *skip),
            ).fetchone()
            if row is not None:
                conn.execute("UPDATE alert_deliveries SET lease = ? WHERE id = ?", (lease, row["id"]))
                return Delivery(row["id"], row["alert_id"], row["webhook"], row["secret"], row["body"],
                                row["items"], row["attempts"])
            alert = conn.execute(
                "SELECT id, q, webhook, secret FROM alerts a WHERE EXISTS (SELECT 1 FROM alert_outbox o "
                "WHERE o.alert_id = a.id) AND NOT EXISTS (SELECT 1 FROM alert_deliveries d "
                "WHERE d.alert_id = a.id AND d.state = 'pending') ORDER BY id LIMIT 1"
            ).fetchone()
            if alert is None:
                return None
            queued = conn.execute(
                "SELECT o.id, o.item_id, o.fingerprint, i.item FROM alert_outbox o JOIN alert_items i "
                "USING (item_id, fingerprint) WHERE o.alert_id = ? ORDER BY o.id LIMIT ?",
                (alert["id"], MAX_ITEMS),
            ).fetchall()
            delivery = uuid.uuid4().hex
            body = json.dumps({"alert": {"id": alert["id"], "q": alert["q"]}, "delivery": delivery,
                               "items": [json.loads(q["item"]) for q in queued]},
                              ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            conn.execute(
                "INSERT INTO alert_deliveries (id, alert_id, body, items, state, created, next_attempt, "
                "lease) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                (delivery, alert["id"], body, len(queued), stamp(now), stamp(now), lease),
            )
            conn.executemany("DELETE FROM alert_outbox WHERE id = ?", [(q["id"],) for q in queued])
            conn.executemany(_DROP_BODY, [(q["item_id"], q["fingerprint"]) for q in queued])
            return Delivery(delivery, alert["id"], alert["webhook"], alert["secret"], body, len(queued), 0)

    def record(self, delivery: Delivery, *, now: datetime, status: int | None, error: str | None) -> str:
        """Record one attempt and return its outcome: ``delivered``, ``retry`` or ``failed``."""
        ok = status is not None and 200 <= status < 300
        with self.store.connect(write=True) as conn:
            row = conn.execute("SELECT attempts, first_attempt FROM alert_deliveries WHERE id = ?",
                               (delivery.id,)).fetchone()
            attempts = (row["attempts"] if row else delivery.attempts) + 1
            first = (parse_stamp(row["first_attempt"]) if row else None) or now
            next_attempt: datetime | None = None
            if ok:
                outcome = "delivered"
            else:
                delay = RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else None
                give_up = delay is None or now + delay - first > GIVE_UP_AFTER
                outcome = "failed" if give_up else "retry"
                next_attempt = None if delay is None or give_up else now + delay
            state = "pending" if outcome == "retry" else outcome
            conn.execute(
                "UPDATE alert_deliveries SET attempts = ?, first_attempt = ?, state = ?, next_attempt = ?, "
                "lease = NULL WHERE id = ?",
                (attempts, stamp(first), state, stamp(next_attempt or now), delivery.id),
            )
            conn.execute(
                "INSERT INTO alert_attempts (delivery_id, alert_id, attempt, at, status, error, outcome, "
                "items) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (delivery.id, delivery.alert_id, attempts, stamp(now), status, error, outcome,
                 delivery.items),
            )
            conn.execute(
                "UPDATE alerts SET last_attempt = ?, last_status = ?, last_error = ?, consecutive_failures = "
                "CASE WHEN ? THEN 0 ELSE consecutive_failures + 1 END WHERE id = ?",
                (stamp(now), status, error, int(ok), delivery.alert_id),
            )
            conn.execute(
                "INSERT INTO alert_counts VALUES (?, 1) ON CONFLICT (outcome) DO UPDATE SET n = n + 1",
                (outcome,))
            old = stamp(now - KEEP)
            conn.execute("DELETE FROM alert_deliveries WHERE state != 'pending' AND created < ?", (old,))
            conn.execute("DELETE FROM alert_attempts WHERE at < ?", (old,))
        return outcome

    def attempts(self, alert_id: int, limit: int = 50) -> list[Attempt]:
        """Return an alert's most recent attempts, newest first."""
        with self.store.connect() as conn:
            rows = conn.execute(
                "SELECT t.*, d.state, d.next_attempt FROM alert_attempts t LEFT JOIN alert_deliveries d "
                "ON d.id = t.delivery_id WHERE t.alert_id = ? ORDER BY t.id DESC LIMIT ?", (alert_id, limit),
            ).fetchall()
        return [
            Attempt(delivery=row["delivery_id"], alert_id=row["alert_id"], attempt=row["attempt"],
                    at=_when(row["at"]), status=row["status"], error=row["error"], outcome=row["outcome"],
                    items=row["items"],
                    next_attempt=parse_stamp(row["next_attempt"]) if row["state"] == "pending" else None)
            for row in rows
        ]


def item_json(item: FeedItem) -> dict[str, Any]:
    """Return an item as a delivery carries it: the fields of a whole item in the API, dates in UTC."""
    link = item.link if item.link.lower().startswith(("http://", "https://")) else ""
    published = item.published.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z") \
        if item.published else None
    return {"id": item.id, "title": item.title, "link": link, "source": item.source, "published": published,
            "authors": list(item.authors), "tags": list(item.tags), "summary": item.summary}


def _stored(item: FeedItem) -> dict[str, Any]:
    # Every field exactly, so the item read back has the same fingerprint.
    return {"id": item.id, "title": item.title, "link": item.link, "summary": item.summary,
            "source": item.source, "published": item.published.isoformat() if item.published else None,
            "authors": list(item.authors), "tags": list(item.tags)}


def _item(data: dict[str, Any]) -> FeedItem:
    published = datetime.fromisoformat(data["published"]) if data["published"] else None
    return FeedItem(id=data["id"], title=data["title"], link=data["link"], summary=data["summary"],
                    source=data["source"], published=published, authors=tuple(data["authors"]),
                    tags=tuple(data["tags"]))


def _when(value: str) -> datetime:
    parsed = parse_stamp(value)
    assert parsed is not None
    return parsed
