"""Polling registered feeds into the index, politely: conditional GETs, server hints, backoff on failure.

One poll of one feed goes fetch -> parse -> write -> record, and whatever happens is recorded on that
feed and nowhere else: a feed that fails never stops the others, and its items stay in the index.

When a feed is next polled (all capped at :data:`MAX_INTERVAL`, a day, so a wild header cannot park
a feed for years):

    success or 304   the longest of the poll interval, Cache-Control max-age (else Expires), Retry-After
                     and the feed's own RSS <ttl>
    failure          interval x 2^(failures - 1), shortened by up to a quarter at random so feeds that
                     failed together spread out again; never sooner than the interval, so the first
                     failure is lengthened by up to a quarter instead; or Retry-After when that is longer
    410 Gone         never: the feed is disabled

Feeds are polled one after another, so there is never more than one request at a time to any host.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from index.errors import FeedNotFoundError, FeedsiftError, FetchError, InputError
from index.feeds.fetch import FETCH_MAX_BYTES, FETCH_TIMEOUT, FetchResult, HTTPStatusError, fetch
from index.feeds.registry import Feed, Registry
from index.ingest.load import parse_body
from index.model import ParsedInput, WriteReport
from index.search.engine import Engine

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(minutes=15)
MAX_INTERVAL = timedelta(days=1)

Outcome = Literal["ok", "not_modified", "error", "gone"]

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class PollOptions:
    """How feeds are fetched and how often they are polled when nothing says otherwise."""

    timeout: float = FETCH_TIMEOUT
    max_bytes: int = FETCH_MAX_BYTES
    max_redirects: int = 5
    allow_private: bool = False
    interval: timedelta = DEFAULT_INTERVAL


@dataclass(frozen=True)
class PollResult:
    """What one poll of one feed did.

    ``url`` is the URL polled; ``moved_to`` is set when a permanent redirect changed the stored URL.
    ``report`` counts the index writes (None when nothing was parsed). ``feed`` is the registry row
    after the outcome was recorded.
    """

    feed: Feed
    url: str
    outcome: Outcome
    status: int | None
    report: WriteReport | None = None
    warning: str | None = None
    error: str | None = None
    moved_to: str | None = None


def poll_due(
    engine: Engine,
    registry: Registry,
    *,
    force: bool = False,
    now: datetime | None = None,
    options: PollOptions | None = None,
    rng: random.Random | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_result: Callable[[PollResult], None] | None = None,
) -> list[PollResult]:
    """Poll every enabled feed that is due at ``now`` (every enabled feed with ``force``), one at a time.

    ``should_stop`` is asked before each feed, so a shutdown lets the feed in hand finish and commit;
    ``on_result`` hears of each feed as soon as it is done. With ``now`` None each feed is stamped
    with the time it is polled. A feed removed from the registry during the round is left out.
    """
    at = now or _utcnow()
    feeds = [f for f in registry.list() if f.enabled] if force else registry.due(at)
    results = []
    for feed in feeds:
        if should_stop is not None and should_stop():
            break
        try:
            result = poll_feed(engine, registry, feed, now=now, options=options, rng=rng)
        except FeedNotFoundError:
            continue  # removed from the registry while this round ran: there is nothing to record on
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def poll_feed(
    engine: Engine,
    registry: Registry,
    feed: Feed,
    *,
    now: datetime | None = None,
    options: PollOptions | None = None,
    rng: random.Random | None = None,
) -> PollResult:
    """Fetch, parse and index one feed, record the outcome on it, and return what happened.

    A 304 costs no parsing and no index write. Every failure (fetch, parse, index write, or a bug met
    on this feed's content) is recorded on the feed rather than raised; only a registry that cannot
    be written raises.
    """
    options = options or PollOptions()
    rng = rng or random.Random()
    # Validators are only worth sending when the index build that holds what they describe is still
    # the live one: after a rebuild a 304 would keep the feed's items out of the new index for good.
    generation = engine.generation()
    current = feed.generation == generation
    try:
        fetched = fetch(
            feed.url,
            etag=feed.etag if current else None,
            last_modified=feed.last_modified if current else None,
            timeout=options.timeout,
            max_bytes=options.max_bytes,
            max_redirects=options.max_redirects,
            allow_private=options.allow_private,
        )
    except HTTPStatusError as exc:
        at = now or _utcnow()
        if exc.status == 410:
            error = _without_url(exc, feed.url)
            gone = registry.record_gone(feed.id, now=at, error=error)
            return PollResult(gone, feed.url, "gone", 410, error=error)
        wait = retry_after(exc.headers, at)
        return _failed(registry, feed, at, _without_url(exc, feed.url), exc.status, options, rng, wait)
    except FetchError as exc:
        at = now or _utcnow()
        return _failed(registry, feed, at, _without_url(exc, feed.url), exc.status, options, rng, None)
    except Exception as exc:
        return _crashed(registry, feed, now or _utcnow(), exc, None, options, rng, None)

    moved_to, warnings = _follow_move(registry, feed, fetched)
    at = now or _utcnow()
    hints = server_hints(fetched.headers, at)
    if fetched.status == 304:
        ttl = timedelta(minutes=feed.ttl_minutes) if feed.ttl_minutes else None
        done = registry.record_not_modified(
            feed.id, now=at, next_poll=at + _interval(options.interval, *hints, ttl),
            etag=fetched.etag, last_modified=fetched.last_modified, generation=generation,
        )
        warning = "; ".join(warnings) or None
        return PollResult(done, feed.url, "not_modified", 304, warning=warning, moved_to=moved_to)

    try:
        parsed = _parse(fetched, feed)
        report = engine.upsert(parsed.items) if parsed.items else WriteReport()
    except FeedsiftError as exc:
        at = now or _utcnow()
        error = _without_url(exc, feed.url)
        return _failed(registry, feed, at, error, fetched.status, options, rng, None, moved_to)
    except Exception as exc:
        return _crashed(registry, feed, now or _utcnow(), exc, fetched.status, options, rng, moved_to)

    warnings.extend(parsed.warnings)
    if parsed.errors:
        warnings.append(f"{len(parsed.errors)} entries skipped ({parsed.errors[0]})")
    warning = "; ".join(warnings) or None
    at = now or _utcnow()
    ttl = timedelta(minutes=parsed.ttl_minutes) if parsed.ttl_minutes else None
    # Read before the fetch and again now: if a rebuild swapped in between, which build holds these
    # items is unknown, and the next poll fetches in full rather than trust the validators. Where
    # there was no index before, this write made the one there is now.
    after = engine.generation()
    held_by = after if generation in (None, after) else None
    done = registry.record_success(
        feed.id, now=at, next_poll=at + _interval(options.interval, *hints, ttl), status=fetched.status,
        etag=fetched.etag, last_modified=fetched.last_modified, item_count=len(parsed.items),
        title=parsed.title, ttl_minutes=parsed.ttl_minutes, warning=warning, generation=held_by,
    )
    return PollResult(done, feed.url, "ok", fetched.status, report=report, warning=warning, moved_to=moved_to)


def _parse(fetched: FetchResult, feed: Feed) -> ParsedInput:
    """Parse a fetched body; a body with no usable item and only bad records is an error, not a success."""
    parsed = parse_body(fetched.body, name=fetched.url, source=feed.source, content_type=fetched.content_type)
    if not parsed.items and parsed.errors:
        raise InputError(f"no usable item: {parsed.errors[0]}")
    return parsed


def _follow_move(registry: Registry, feed: Feed, fetched: FetchResult) -> tuple[str | None, list[str]]:
    """Store the URL a feed permanently moved to; return it, or a warning when another feed has it."""
    target = fetched.permanent_redirect
    if not target or target == feed.url:
        return None, []
    if registry.record_moved(feed.id, target) is None:
        return None, [f"moved permanently to {target}, which is registered as another feed; URL kept"]
    return target, []


def _failed(
    registry: Registry, feed: Feed, at: datetime, error: str, status: int | None, options: PollOptions,
    rng: random.Random, wait: timedelta | None, moved_to: str | None = None,
) -> PollResult:
    delay = backoff(feed.consecutive_failures + 1, options.interval, rng)
    if wait is not None:
        delay = min(max(delay, wait), MAX_INTERVAL)
    done = registry.record_failure(feed.id, now=at, next_poll=at + delay, error=error, status=status)
    return PollResult(done, feed.url, "error", status, error=error, moved_to=moved_to)


def _without_url(exc: Exception, url: str) -> str:
    """Return an error message without the feed's own URL in front: it is recorded on that feed.

    A message naming another URL (where a redirect led) keeps it.
    """
    message = str(exc)
    return message[len(url) + 2:] if message.startswith(url + ": ") else message


def _crashed(
    registry: Registry, feed: Feed, at: datetime, exc: Exception, status: int | None, options: PollOptions,
    rng: random.Random, moved_to: str | None,
) -> PollResult:
    # A bug in a parser or library, met on one feed's content, must not stop the poller or the other
    # feeds: it is logged in full and recorded on the feed like any other failure.
    log.error("unexpected error polling %s", feed.url, exc_info=exc)
    error = f"internal error: {type(exc).__name__}: {exc}"
    return _failed(registry, feed, at, error, status, options, rng, None, moved_to)


def backoff(failures: int, interval: timedelta, rng: random.Random) -> timedelta:
    """Return how long to wait after ``failures`` failures in a row: doubling, jittered, at most a day."""
    # The exponent is bounded so a feed failing for months cannot overflow timedelta.
    base = min(interval * (1 << min(max(failures - 1, 0), 16)), MAX_INTERVAL)
    if base > interval:
        return max(interval, base * rng.uniform(0.75, 1.0))
    # Shortening would poll sooner than the interval: feeds that failed together in one round (a host
    # down) spread out by lengthening instead, within the day-long cap.
    return min(base * rng.uniform(1.0, 1.25), max(MAX_INTERVAL, interval))


def server_hints(headers: Mapping[str, str], now: datetime) -> tuple[timedelta | None, timedelta | None]:
    """Return how long the server asks us to wait: (freshness from Cache-Control or Expires, Retry-After).

    As in RFC 9111, ``max-age`` wins over ``Expires``, which counts from the response's ``Date``.
    """
    freshness: timedelta | None = None
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        freshness = timedelta(seconds=int(match.group(1)))
    elif "expires" in headers:
        expires = _http_date(headers["expires"])
        if expires is not None:
            origin = _http_date(headers.get("date", "")) or now
            freshness = max(expires - origin, timedelta(0))
    return freshness, retry_after(headers, now)


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """Return a Retry-After header (seconds, or an HTTP date) as a wait from ``now``, or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    when = _http_date(value)
    return max(when - now, timedelta(0)) if when is not None else None


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``15m``, ``1s``, ``2h``, ``1h30m`` or ``90`` (seconds)."""
    cleaned = text.strip().lower()
    position = 0
    seconds = 0.0
    for match in _DURATION_PART.finditer(cleaned):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not cleaned or position != len(cleaned) or seconds <= 0:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 2h or 1d")
    return timedelta(seconds=seconds)


def _interval(interval: timedelta, *hints: timedelta | None) -> timedelta:
    longest = interval
    for hint in hints:
        if hint is not None and hint > longest:
            longest = hint
    return min(longest, max(MAX_INTERVAL, interval))


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)
