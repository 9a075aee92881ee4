"""The ``feedsift feeds`` commands (the registry) and ``feedsift poll`` (keeping the index fresh from it).

"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

import click

from index.cli.alerts import deliver_alerts, describe_run
from index.cli.options import cli_settings, index_dir_option, open_cli_engine
from index.errors import FeedsiftError
from index.feeds.poll import DEFAULT_INTERVAL, PollOptions, PollResult, parse_duration, poll_due
from index.feeds.registry import REGISTRY_FILE, Feed, Registry
from index.search.engine import Engine


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    # A callback rather than a click.ParamType subclass, whose generic signature differs across click 8.x.
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@contextmanager
def _registry(index_dir: str, *, create: bool = False) -> Iterator[Registry]:
    """Yield the registry beside the index, turning engine errors into a clean command-line failure.

    Only the commands that register feeds (``create``) make the folder and the registry; the others
    refuse a folder that is not there (a mistyped ``--index``) and, where no registry exists yet, read
    an empty one without creating it.
    """
    folder = Path(index_dir)
    if not create and not folder.is_dir():
        raise click.ClickException(
            f"no index at {folder}: nothing is registered there (check --index, or FEEDSIFT_INDEX_DIR)"
        )
    missing = not (folder / REGISTRY_FILE).exists()
    try:
        yield Registry.beside(folder, read_only=missing and not create)
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def feeds() -> None:
    """Manage the feeds that `feedsift poll` keeps in the index."""


@feeds.command("add")
@index_dir_option
@click.option("--source", help="Source name for this feed's items (overrides the feed's own title).")
@click.argument("url")
def add_feed(index_dir: str, source: str | None, url: str) -> None:
    """Register the http(s) feed at URL; the next `feedsift poll` fetches it."""
    with _registry(index_dir, create=True) as registry:
        feed = registry.add(url, source)
    click.echo(f"added feed {feed.id}: {feed.url}")


@feeds.command("list")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON: every field of every feed.")
def list_feeds(index_dir: str, as_json: bool) -> None:
    """List the registered feeds with their health."""
    with _registry(index_dir) as registry:
        registered = registry.list()
    counts = _indexed_counts(index_dir) if registered else {}
    if as_json:
        click.echo(json.dumps([{**feed.to_dict(), "indexed_items": counts.get(feed.name, 0)}
                               for feed in registered], indent=2))
        return
    if not registered:
        click.echo("no feeds registered; add one with `feedsift feeds add URL`")
        return
    for feed in registered:
        click.echo(_describe(feed, counts.get(feed.name, 0)))


def _indexed_counts(index_dir: str) -> dict[str, int]:
    """Return how many items the index holds per source name (nothing when there is no index yet).

    A feed's count is read from the index rather than from its last parse: after a rebuild, or when
    items were deleted, the registry's own number would say what the index no longer holds.
    """
    engine = open_cli_engine(index_dir)
    try:
        rows, _ = engine.sources()
    except FeedsiftError:
        return {}
    finally:
        engine.close()
    return {row.name: row.count for row in rows}


@feeds.command("remove")
@index_dir_option
@click.argument("feed")
def remove_feed(index_dir: str, feed: str) -> None:
    """Unregister FEED (an id or URL); the items it brought stay in the index."""
    with _registry(index_dir) as registry:
        removed = registry.remove(feed)
    click.echo(f"removed feed {removed.id}: {removed.url}")


@feeds.command("enable")
@index_dir_option
@click.argument("feed")
def enable_feed(index_dir: str, feed: str) -> None:
    """Enable FEED (an id or URL) again, for instance after a 410 Gone; it is polled at the next poll."""
    _switch(index_dir, feed, enabled=True)


@feeds.command("disable")
@index_dir_option
@click.argument("feed")
def disable_feed(index_dir: str, feed: str) -> None:
    """Stop polling FEED (an id or URL) without forgetting it; its items stay in the index."""
    _switch(index_dir, feed, enabled=False)


def _switch(index_dir: str, feed: str, *, enabled: bool) -> None:
    with _registry(index_dir) as registry:
        switched = registry.set_enabled(feed, enabled)
    click.echo(f"{'enabled' if enabled else 'disabled'} feed {switched.id}: {switched.url}")


@feeds.command("import")
@index_dir_option
@click.argument("opml_file", metavar="FILE.opml", type=click.Path(exists=True, dir_okay=False))
def import_feeds(index_dir: str, opml_file: str) -> None:
    """Register every feed listed in an OPML file; feeds already registered are left as they are."""
    with _registry(index_dir, create=True) as registry:
        report = registry.import_opml(opml_file)
    for url, reason in report.invalid:
        click.echo(f"skipped: {reason}" if url in reason else f"skipped: {url}: {reason}", err=True)
    click.echo(
        f"{len(report.added)} added, {len(report.existing)} already registered, {len(report.invalid)} skipped"
    )
    if report.invalid:
        sys.exit(1)


@feeds.command("export")
@index_dir_option
def export_feeds(index_dir: str) -> None:
    """Print the registry as an OPML 2.0 document."""
    with _registry(index_dir) as registry:
        click.echo(registry.export_opml(), nl=False)


@click.command()
@index_dir_option
@click.option("--force", is_flag=True, help="Poll every enabled feed now, whatever its schedule.")
@click.option(
    "--every", callback=_duration, default=None, metavar="DURATION",
    help="Keep polling: look for due feeds every DURATION (30s, 15m, 1h) until SIGTERM or Ctrl-C.",
)
@click.option(
    "--interval", callback=_duration, default=f"{int(DEFAULT_INTERVAL.total_seconds() // 60)}m",
    show_default=True, metavar="DURATION",
    help="How long a feed rests after a poll when neither it nor its server asks for longer.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
    help="Seconds allowed for each phase of a fetch. [default: FEEDSIFT_FETCH_TIMEOUT, else 10]",
)
@click.option(
    "--max-bytes", type=click.IntRange(min=1), default=None,
    help="Largest feed body accepted, before and after decompression. "
    "[default: FEEDSIFT_FETCH_MAX_BYTES, else 10 MiB]",
)
def poll(
    index_dir: str, force: bool, every: timedelta | None, interval: timedelta, timeout: float | None,
    max_bytes: int | None,
) -> None:
    """Poll the registered feeds that are due and index what changed.

    With --every, keep going until stopped: a SIGTERM (or Ctrl-C) lets the feed in hand finish and
    commit, then the command exits 0. Addresses on private networks are refused unless
    FEEDSIFT_ALLOW_PRIVATE_FEEDS=1.
    """
    fetching = cli_settings().fetch_options()
    options = PollOptions(
        timeout=fetching.timeout if timeout is None else timeout,
        max_bytes=fetching.max_bytes if max_bytes is None else max_bytes,
        allow_private=fetching.allow_private,
        interval=interval,
    )
    stop = threading.Event()
    engine = open_cli_engine(index_dir, watched=True)
    with _registry(index_dir, create=True) as registry, _stop_on_signals(stop), closing(engine):
        while True:
            try:
                results = poll_due(
                    engine, registry, force=force, options=options, should_stop=stop.is_set,
                    on_result=_echo_result,
                )
            except FeedsiftError as exc:
                if every is None:
                    raise
                # A worker outlives a registry that is busy or unreadable for a while; it tries next round.
                click.echo(f"error: {exc}", err=True)
            else:
                if results or every is None:
                    click.echo(_summary(results))
            _deliver(index_dir, engine, keep_going=every is not None)
            if every is None or stop.wait(every.total_seconds()):
                break


def _deliver(index_dir: str, engine: Engine, *, keep_going: bool) -> None:
    """Send the alerts' deliveries that are due, between polls; a worker outlives a failure to."""
    try:
        run = deliver_alerts(index_dir, engine)
    except FeedsiftError as exc:
        if not keep_going:
            raise click.ClickException(str(exc)) from None
        click.echo(f"error: alerts: {exc}", err=True)
        return
    if run.attempted or run.recovered:
        click.echo(describe_run(run))


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGTERM and SIGINT into ``stop``, so the poller ends between feeds, never inside one.

    A second Ctrl-C interrupts at once, for someone at a terminal who will not wait for a slow feed.
    """
    def handle(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and stop.is_set():
            signal.default_int_handler(signum, frame)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _echo_result(result: PollResult) -> None:
    if result.moved_to:
        click.echo(f"moved         {result.url} -> {result.moved_to}")
    url = result.moved_to or result.url
    if result.outcome == "ok":
        report = result.report
        assert report is not None
        click.echo(f"ok            {url}: {report.added} added, {report.updated} updated, "
                   f"{report.unchanged} unchanged")
    elif result.outcome == "not_modified":
        click.echo(f"not modified  {url}")
    elif result.outcome == "gone":
        click.echo(f"gone          {url}: disabled ({result.error})", err=True)
    else:
        retry = _when(result.feed.next_poll)
        click.echo(f"failed        {url}: {result.error} (next try {retry})", err=True)
    if result.warning:
        click.echo(f"warning       {url}: {result.warning}", err=True)
    sys.stdout.flush()


def _summary(results: list[PollResult]) -> str:
    if not results:
        return "no feeds due"
    counts = Counter(r.outcome for r in results)
    added = sum(r.report.added for r in results if r.report)
    updated = sum(r.report.updated for r in results if r.report)
    return (
        f"polled {len(results)} feed{'s' if len(results) != 1 else ''}: {counts['ok']} fetched "
        f"({added} items added, {updated} updated), {counts['not_modified']} not modified, "
        f"{counts['error']} failed, {counts['gone']} gone"
    )


def _describe(feed: Feed, indexed: int) -> str:
    state = "disabled" if not feed.enabled else str(feed.last_status or "new")
    next_poll = _when(feed.next_poll) if feed.enabled else "-"
    lines = [
        f"{feed.id:>4}  {state:<8}  {indexed:>5} items  next {next_poll}  {feed.url}"
        + (f"  ({feed.source})" if feed.source else "")
    ]
    if feed.last_error:
        lines.append(f"      error: {feed.last_error} ({feed.consecutive_failures} in a row)")
    if feed.last_warning:
        lines.append(f"      warning: {feed.last_warning}")
    return "\n".join(lines)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "now"
