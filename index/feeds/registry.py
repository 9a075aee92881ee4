"""The registry of feeds to poll and their fetch state, in an SQLite database beside the index.

    INDEX_DIR/feeds.sqlite3       one row per feed (WAL mode, so readers never wait for the poller)

Every operation opens its own short-lived connection and writes inside ``BEGIN IMMEDIATE``, so any
number of processes (the poll worker, the API, the command line) can share the file: a writer that
finds the database busy waits up to ``busy_timeout`` seconds instead of failing. Timestamps are stored
as fixed-width ISO 8601 UTC text, so comparing the strings compares the times.
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from index.errors import DuplicateFeedError, FeedNotFoundError, FeedURLError, InputError, RegistryError

REGISTRY_FILE = "feeds.sqlite3"
# Version 2 added ``generation``: which index build a feed's validators belong to.
SCHEMA_VERSION = 2
DEFAULT_BUSY_TIMEOUT = 30.0
# The namespace of the one attribute feedsift adds to OPML outlines (OPML 2.0 allows namespaced ones):
# the source override, so that export then import gives back the same registry.
OPML_NS = "https://github.com/feedsift/feedsift#opml"

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_COLUMNS = (
    "id, url, source, title, enabled, etag, last_modified, ttl_minutes, last_status, last_polled, "
    "last_success, last_error, last_warning, consecutive_failures, next_poll, item_count, created, generation"
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    url                  TEXT NOT NULL UNIQUE,
    source               TEXT,
    title                TEXT,
    enabled              INTEGER NOT NULL DEFAULT 1,
    etag                 TEXT,
    last_modified        TEXT,
    ttl_minutes          INTEGER,
    last_status          INTEGER,
    last_polled          TEXT,
    last_success         TEXT,
    last_error           TEXT,
    last_warning         TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll            TEXT,
    item_count           INTEGER NOT NULL DEFAULT 0,
    created              TEXT NOT NULL,
    generation           TEXT
);
CREATE INDEX IF NOT EXISTS feeds_due ON feeds (enabled, next_poll);
CREATE TABLE IF NOT EXISTS poll_outcomes (
    outcome              TEXT PRIMARY KEY,
    count                INTEGER NOT NULL DEFAULT 0
);
"""
# Every poll's outcome is counted here, by whichever process polled (the poll worker, the API), so the
# metrics scrape reads one total for all of them; a new table, which older feedsifts simply ignore.
_COUNT_OUTCOME = (
    "INSERT INTO poll_outcomes (outcome, count) VALUES (?, 1) "
    "ON CONFLICT (outcome) DO UPDATE SET count = count + 1"
)


@dataclass(frozen=True)
class Feed:
    """One registered feed and the state its last polls left.

    ``source`` overrides the feed's own title as its items' source name; ``title`` is that own title
    as last seen. ``next_poll`` None means as soon as possible. ``item_count`` is how many items the
    last successful parse yielded. ``enabled`` turns false when the server answers 410 Gone.
    ``generation`` names the index build that holds what ``etag`` and ``last_modified`` describe:
    after a rebuild they describe items the live index may not have, and are not sent.
    """

    id: int
    url: str
    source: str | None
    title: str | None
    enabled: bool
    etag: str | None
    last_modified: str | None
    ttl_minutes: int | None
    last_status: int | None
    last_polled: datetime | None
    last_success: datetime | None
    last_error: str | None
    last_warning: str | None
    consecutive_failures: int
    next_poll: datetime | None
    item_count: int
    created: datetime
    generation: str | None = None

    @property
    def name(self) -> str:
        """Return what to call the feed: its source override, else its own title, else its URL."""
        return self.source or self.title or self.url

    def to_dict(self) -> dict[str, Any]:
        """Return the feed as JSON-ready data: snake_case keys, ISO 8601 UTC timestamps."""
        return {
            key: _iso(value) if isinstance(value, datetime) else value for key, value in asdict(self).items()
        }


@dataclass
class ImportReport:
    """What an OPML import did: feeds added, URLs already registered, and outlines refused with why."""

    added: list[Feed] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


def validate_feed_url(url: str) -> str:
    """Return the URL as the registry keeps it, or raise FeedURLError when it is not http(s) with a host.

    Scheme and host are lower-cased and the fragment dropped (it never reaches the server), so the same
    feed written two ways is still one feed; the path and query are kept exactly.
    """
    text = url.strip()
    if not text or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise FeedURLError(f"{url!r}: not a URL (empty, or it contains spaces or control characters)")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - evaluated for the ValueError an unusable port raises
    except ValueError as exc:
        raise FeedURLError(f"{text}: not a usable URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FeedURLError(f"{text}: only http and https feeds can be polled")
    if not parts.hostname:
        raise FeedURLError(f"{text}: the URL has no host")
    # Credentials in the netloc are case-sensitive, so only a plain host:port is lower-cased.
    netloc = parts.netloc if "@" in parts.netloc else parts.netloc.lower()
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


class Registry:
    """The feed registry in one SQLite file; safe to use from several processes and threads at once."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
                 read_only: bool = False) -> None:
        """Open the registry at ``path``, creating it if need be; ``read_only`` creates and changes nothing
        (not even the schema): a missing file reads as an empty registry, and a write raises RegistryError."""
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        if read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RegistryError(
                    f"the feed registry {self.path} has schema version {version}, this feedsift knows "
                    f"version {SCHEMA_VERSION}: upgrade feedsift"
                )
            # WAL is a property of the file, kept once set; readers then never block the writer.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            if "generation" not in {r["name"] for r in conn.execute("PRAGMA table_info(feeds)")}:
                conn.execute("ALTER TABLE feeds ADD COLUMN generation TEXT")  # from version 1
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def beside(cls, index_dir: str | os.PathLike[str], *, read_only: bool = False) -> Registry:
        """Open (creating if needed, unless ``read_only``) the registry of the index at ``index_dir``."""
        return cls(Path(index_dir) / REGISTRY_FILE, read_only=read_only)

    def _open(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        if not self.path.exists():
            # Nothing registered yet: an empty, unwritable registry in memory, so reads need no branch.
            conn = sqlite3.connect(":memory:", isolation_level=None)
            conn.executescript(_SCHEMA)
            conn.execute("PRAGMA query_only = ON")
            return conn
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.busy_timeout,
                               isolation_level=None)

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Yield a fresh connection; with ``write`` the block is one immediate transaction."""
        try:
            conn = self._open()
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open the feed registry {self.path}: {exc}") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            # Read-only: no write lock; a write fails, once any lookup before it has found its feed.
            write = write and not self.read_only
            if write:
                # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead
                # of one failing when it tries to upgrade a read lock.
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if write:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise RegistryError(f"feed registry {self.path}: {exc}") from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    # --- the feeds ------------------------------------------------------------------------------------

    def add(self, url: str, source: str | None = None, *, title: str | None = None) -> Feed:
        """Register a feed, due at once; raise FeedURLError or DuplicateFeedError."""
        clean = validate_feed_url(url)
        source = (source or "").strip() or None
        with self._connect(write=True) as conn:
            row = conn.execute("SELECT id FROM feeds WHERE url = ?", (clean,)).fetchone()
            if row is not None:
                feed_id = row["id"]
                raise DuplicateFeedError(f"{clean} is already registered as feed {feed_id}", feed_id=feed_id)
            cursor = conn.execute(
                "INSERT INTO feeds (url, source, title, created) VALUES (?, ?, ?, ?)",
                (clean, source, title, _stamp(_now())),
            )
            feed_id = cursor.lastrowid
            assert feed_id is not None
            return self._find(conn, feed_id)

    def list(self) -> builtins.list[Feed]:
        """Return every feed, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM feeds ORDER BY id").fetchall()
        return [_feed(row) for row in rows]

    def get(self, id_or_url: int | str) -> Feed:
        """Return a feed by id (a number, or a string of digits) or by URL; raise FeedNotFoundError."""
        with self._connect() as conn:
            return self._find(conn, id_or_url)

    def remove(self, id_or_url: int | str) -> Feed:
        """Unregister a feed and return it as it was; its items stay in the index."""
        with self._connect(write=True) as conn:
            feed = self._find(conn, id_or_url)
            conn.execute("DELETE FROM feeds WHERE id = ?", (feed.id,))
            return feed

    def set_enabled(self, id_or_url: int | str, enabled: bool) -> Feed:
        """Enable or disable a feed; enabling makes it due at once and forgets its failures."""
        with self._connect(write=True) as conn:
            feed = self._find(conn, id_or_url)
            if enabled:
                conn.execute(
                    "UPDATE feeds SET enabled = 1, next_poll = NULL, consecutive_failures = 0 WHERE id = ?",
                    (feed.id,),
                )
            else:
                conn.execute("UPDATE feeds SET enabled = 0 WHERE id = ?", (feed.id,))
            return self._find(conn, feed.id)

    def due(self, now: datetime) -> builtins.list[Feed]:
        """Return the enabled feeds whose next poll is at or before ``now``, the longest waiting first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM feeds WHERE enabled = 1 AND (next_poll IS NULL OR next_poll <= ?) "
                "ORDER BY next_poll IS NOT NULL, next_poll, id",
                (_stamp(now),),
            ).fetchall()
        return [_feed(row) for row in rows]

    # --- outcomes of a poll ---------------------------------------------------------------------------

    def record_success(
        self,
        feed_id: int,
        *,
        now: datetime,
        next_poll: datetime,
        status: int,
        etag: str | None,
        last_modified: str | None,
        item_count: int,
        title: str | None = None,
        ttl_minutes: int | None = None,
        warning: str | None = None,
        generation: str | None = None,
    ) -> Feed:
        """Record a fetched and parsed feed: new validators, a clean error slate, and its next poll."""
        return self._update(
            feed_id,
            "last_status = ?, etag = ?, last_modified = ?, item_count = ?, title = COALESCE(?, title), "
            "ttl_minutes = ?, last_warning = ?, last_error = NULL, last_success = ?, "
            "consecutive_failures = 0, generation = ?",
            (status, etag, last_modified, item_count, title, ttl_minutes, warning, _stamp(now), generation),
            now=now,
            next_poll=next_poll,
            outcome="ok",
        )

    def record_not_modified(
        self, feed_id: int, *, now: datetime, next_poll: datetime, etag: str | None,
        last_modified: str | None, generation: str | None = None,
    ) -> Feed:
        """Record a 304: the feed is healthy and unchanged; its items, count and warning stay as they were."""
        return self._update(
            feed_id,
            "last_status = 304, etag = ?, last_modified = ?, last_error = NULL, last_success = ?, "
            "consecutive_failures = 0, generation = ?",
            (etag, last_modified, _stamp(now), generation),
            now=now,
            next_poll=next_poll,
            outcome="not_modified",
        )

    def record_failure(
        self, feed_id: int, *, now: datetime, next_poll: datetime, error: str, status: int | None = None
    ) -> Feed:
        """Record a failed poll: the error, one more consecutive failure, and when to try again.

        Validators are left alone, so the next poll is conditional on the last good copy.
        """
        return self._update(
            feed_id,
            "last_status = ?, last_error = ?, consecutive_failures = consecutive_failures + 1",
            (status, error),
            now=now,
            next_poll=next_poll,
            outcome="error",
        )

    def record_gone(self, feed_id: int, *, now: datetime, error: str, status: int = 410) -> Feed:
        """Record that the feed is gone for good: it is disabled, and polled no more until enabled."""
        return self._update(
            feed_id,
            "last_status = ?, last_error = ?, enabled = 0, consecutive_failures = consecutive_failures + 1",
            (status, error),
            now=now,
            next_poll=None,
            outcome="gone",
        )

    def record_moved(self, feed_id: int, url: str) -> Feed | None:
        """Point a feed at the URL it permanently moved to; None, changing nothing, if another feed has it."""
        clean = validate_feed_url(url)
        with self._connect(write=True) as conn:
            taken = conn.execute("SELECT id FROM feeds WHERE url = ? AND id != ?", (clean, feed_id))
            if taken.fetchone() is not None:
                return None
            if conn.execute("UPDATE feeds SET url = ? WHERE id = ?", (clean, feed_id)).rowcount == 0:
                raise FeedNotFoundError(f"no feed {feed_id}")
            return self._find(conn, feed_id)

    def poll_outcomes(self) -> dict[str, int]:
        """Return how many polls have ended in each outcome (ok, not_modified, error, gone), ever."""
        with self._connect() as conn:
            # A registry last opened by a feedsift from before the count has no table yet.
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'poll_outcomes'").fetchone() is None:
                return {}
            rows = conn.execute("SELECT outcome, count FROM poll_outcomes").fetchall()
            return {row["outcome"]: row["count"] for row in rows}

    def _update(
        self, feed_id: int, assignments: str, values: tuple[Any, ...], *, now: datetime,
        next_poll: datetime | None, outcome: str,
    ) -> Feed:
        # Every outcome stamps the time of the poll and when the next one is due, and is counted.
        sql = f"UPDATE feeds SET {assignments}, last_polled = ?, next_poll = ? WHERE id = ?"
        with self._connect(write=True) as conn:
            params = (*values, _stamp(now), _stamp(next_poll) if next_poll else None, feed_id)
            if conn.execute(sql, params).rowcount == 0:
                raise FeedNotFoundError(f"no feed {feed_id}")
            conn.execute(_COUNT_OUTCOME, (outcome,))
            return self._find(conn, feed_id)

    def _find(self, conn: sqlite3.Connection, id_or_url: int | str) -> Feed:
        if isinstance(id_or_url, int) or id_or_url.strip().isdigit():
            row = conn.execute(f"SELECT {_COLUMNS} FROM feeds WHERE id = ?", (int(id_or_url),)).fetchone()
        else:
            try:
                url = validate_feed_url(id_or_url)
            except FeedURLError:
                url = id_or_url
            row = conn.execute(f"SELECT {_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            raise FeedNotFoundError(f"no feed {id_or_url} in the registry")
        return _feed(row)

    # --- OPML -----------------------------------------------------------------------------------------

    def import_opml(self, source: str | os.PathLike[str] | bytes) -> ImportReport:
        """Register every outline with an ``xmlUrl`` in an OPML file (a path) or document (bytes).

        Outlines nested in categories are taken too. A URL already registered is reported, not an
        error; an outline with an unusable URL is reported with the reason and the rest go on.
        """
        outlines = parse_opml(source)
        report = ImportReport()
        for url, title, override in outlines:
            try:
                report.added.append(self.add(url, override, title=title))
            except DuplicateFeedError:
                report.existing.append(validate_feed_url(url))
            except FeedURLError as exc:
                report.invalid.append((url, str(exc)))
        return report

    def export_opml(self) -> str:
        """Return the registry as an OPML 2.0 document, one ``type="rss"`` outline per feed."""
        ET.register_namespace("feedsift", OPML_NS)
        root = ET.Element("opml", {"version": "2.0"})
        head = ET.SubElement(root, "head")
        ET.SubElement(head, "title").text = "feedsift feeds"
        ET.SubElement(head, "dateCreated").text = format_datetime(_now(), usegmt=True)
        body = ET.SubElement(root, "body")
        for feed in self.list():
            attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
            if feed.source:
                attrs[f"{{{OPML_NS}}}source"] = feed.source
            ET.SubElement(body, "outline", attrs)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def parse_opml(source: str | os.PathLike[str] | bytes) -> builtins.list[tuple[str, str | None, str | None]]:
    """Return (url, title, source override) for every feed outline of an OPML document.

    Read with defusedxml: an OPML file comes from elsewhere, and entity expansion or external
    entities must not be able to exhaust memory or read local files.
    """
    name = "OPML document" if isinstance(source, bytes) else str(source)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror or exc}") from None
    try:
        root = SafeET.fromstring(data)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise InputError(f"{name}: not a readable OPML file ({exc})") from None
    if root.tag != "opml" or root.find("body") is None:
        raise InputError(f"{name}: not an OPML file (no <opml> root with a <body>)")
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            continue  # a category, or a link outline
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        override = (outline.get(f"{{{OPML_NS}}}source") or "").strip() or None
        feeds.append((url, title, override))
    return feeds


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_STAMP)


def _parse_stamp(value: str | None) -> datetime | None:
    return datetime.strptime(value, _STAMP).replace(tzinfo=UTC) if value else None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _feed(row: sqlite3.Row) -> Feed:
    # The selected columns (_COLUMNS) are the Feed's fields, by name and in order.
    values: dict[str, Any] = dict(zip(row.keys(), row, strict=True))
    for stamp in ("last_polled", "last_success", "next_poll", "created"):
        values[stamp] = _parse_stamp(values[stamp])
    assert values["created"] is not None
    values["enabled"] = bool(values["enabled"])
    return Feed(**values)
