"""The commands that write and describe the index: ``feedsift add``, ``rebuild`` and ``stats``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import click

from index.alerts import AlertWatcher
from index.cli.options import cli_settings, index_dir_option, open_cli_engine
from index.errors import FeedsiftError, InputError
from index.ingest.load import load_input
from index.model import FeedItem, WriteReport
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import DEFAULT_BATCH, rebuild

# Items read before a write: `add` of many inputs writes in batches of about this many, each under the
# writer lock only while it is written (the writer's own commit size, so no extra commits).
ADD_BATCH = DEFAULT_BATCH


@dataclass
class _Outcome:
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    record_errors: int = 0
    read: int = 0


def _items(inputs: tuple[str, ...], source: str | None, outcome: _Outcome) -> Iterator[FeedItem]:
    """Yield the items of every input in turn; an input that fails is recorded and the rest go on."""
    for spec in inputs:
        try:
            parsed = load_input(spec, source=source, fetch_options=cli_settings().fetch_options())
        except InputError as exc:
            outcome.failed.append((spec, str(exc)))
            continue
        for warning in parsed.warnings:
            outcome.warnings.append((spec, warning))
        for error in parsed.errors:
            outcome.warnings.append((spec, f"skipped {error}"))
        outcome.record_errors += len(parsed.errors)
        outcome.read += len(parsed.items)
        yield from parsed.items


def _batches(inputs: tuple[str, ...], source: str | None, outcome: _Outcome) -> Iterator[list[FeedItem]]:
    """Yield the items of whole inputs, read, fetched and parsed before any write, ADD_BATCH at a time.

    Each batch is written under the writer lock only once it is in hand, so a slow URL never holds
    the lock that API writes and the poller wait for.
    """
    batch: list[FeedItem] = []
    for item in _items(inputs, source, outcome):
        batch.append(item)
        if len(batch) >= ADD_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    with click.progressbar(length=0, label="indexing", file=sys.stderr, show_pos=True) as bar:
        def advance(n: int) -> None:
            bar.length = (bar.length or 0) + n
            bar.update(n)
        yield advance


def _report(report: WriteReport, outcome: _Outcome) -> int:
    for spec, warning in outcome.warnings:
        click.echo(f"warning: {spec}: {warning}", err=True)
    for spec, reason in outcome.failed:
        click.echo(f"failed: {reason}" if reason.startswith(spec) else f"failed: {spec}: {reason}", err=True)
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(outcome.failed)} failed input{'s' if len(outcome.failed) != 1 else ''}"
        + (f", {outcome.record_errors} records skipped" if outcome.record_errors else "")
    )
    return 1 if outcome.failed else 0


@click.command()
@index_dir_option
@click.option("--source", help="Source name for every item of these inputs (overrides the feed's own).")
@click.argument("inputs", nargs=-1, required=True)
def add(index_dir: str, source: str | None, inputs: tuple[str, ...]) -> None:
    """Add or update the items of INPUTS (files, http(s) URLs, or - for stdin)."""
    outcome = _Outcome()
    report = WriteReport()
    engine = open_cli_engine(index_dir, watched=True)
    try:
        with _progress(sys.stderr.isatty()) as progress:
            for batch in _batches(inputs, source, outcome):
                report.merge(engine.upsert(batch, progress=progress))
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.close()
    sys.exit(_report(report, outcome))


@click.command(name="rebuild")
@index_dir_option
@click.option("--source", help="Source name for every item of these inputs (overrides the feed's own).")
@click.option("--allow-partial", is_flag=True,
              help="Swap in an index built from the inputs that could be read even if others failed.")
@click.argument("inputs", nargs=-1, required=True)
def rebuild_command(index_dir: str, source: str | None, allow_partial: bool, inputs: tuple[str, ...]) -> None:
    """Build a fresh index from INPUTS beside the live one, then swap it in.

    If any input fails (or none yields an item) the live index is left as it is and the command exits
    1, unless --allow-partial. Whoosh only: a Typesense collection is rebuilt by
    `feedsift migrate --to typesense`.
    """
    if cli_settings().engine == "typesense":
        raise click.UsageError("rebuild works on the Whoosh index only (FEEDSIFT_ENGINE=typesense is set)")
    outcome = _Outcome()
    items = list(_items(inputs, source, outcome))
    if not items or (outcome.failed and not allow_partial):
        for spec, reason in outcome.failed:
            click.echo(f"failed: {reason}" if reason.startswith(spec) else f"failed: {spec}: {reason}",
                       err=True)
        if not items:
            raise click.ClickException("no items read; the live index is left unchanged")
        count = len(outcome.failed)
        raise click.ClickException(
            f"{count} input{'s' if count != 1 else ''} failed; the live index is left unchanged "
            "(--allow-partial rebuilds from the inputs that were read)"
        )
    try:
        with _progress(sys.stderr.isatty()) as progress:
            report = rebuild(IndexStore(index_dir), items, progress=progress, watcher=AlertWatcher(index_dir))
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(_report(report, outcome))


@click.command()
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(index_dir: str, as_json: bool) -> None:
    """Show item and work counts overall, items per source, index size and last update."""
    engine = open_cli_engine(index_dir)
    try:
        info = engine.stats()
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.close()
    if as_json:
        click.echo(json.dumps({
            "items": info.items,
            "works": info.works,
            "sources": info.sources,
            "size_bytes": info.size_bytes,
            "last_update": info.last_update.isoformat() if info.last_update else None,
            "path": info.path,
        }, indent=2))
        return
    click.echo(f"{info.items} items ({info.works} works) in {info.path} ({info.size_bytes / 1e6:.1f} MB), "
               f"last update {info.last_update.isoformat() if info.last_update else 'never'}")
    width = max((len(name) for name in info.sources), default=0)
    for name, count in info.sources.items():
        click.echo(f"  {name:<{width}}  {count}")
