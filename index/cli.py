"""The ``feedsift`` command: add, rebuild and stats (and the subcommands other modules register)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

from . import __version__
from .engine import Engine, engine_from_environ
from .errors import FeedsiftError, InputError
from .inputs import FetchOptions, load_input
from .model import FeedItem
from .store import IndexStore
from .writer import WriteReport, rebuild

DEFAULT_INDEX_DIR = "./var/index"


@dataclass
class _Outcome:
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    record_errors: int = 0
    read: int = 0


def index_dir_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--index", "index_dir", envvar="FEEDSIFT_INDEX_DIR", default=DEFAULT_INDEX_DIR, show_default=True,
        type=click.Path(file_okay=False), help="Index directory (env FEEDSIFT_INDEX_DIR).",
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedsift")
def main() -> None:
    """feedsift: full-text search over feed items."""


def open_cli_engine(index_dir: str) -> Engine:
    """Return the engine FEEDSIFT_ENGINE chooses (Whoosh in ``index_dir`` by default)."""
    try:
        return engine_from_environ(index_dir, os.environ)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _fetch_options() -> FetchOptions:
    allowed = os.environ.get("FEEDSIFT_ALLOW_PRIVATE_FEEDS", "") in ("1", "true", "yes")
    try:
        timeout = float(os.environ.get("FEEDSIFT_FETCH_TIMEOUT", "10"))
        max_bytes = int(os.environ.get("FEEDSIFT_FETCH_MAX_BYTES", str(10 * 1024 * 1024)))
    except ValueError:
        raise click.UsageError(
            "FEEDSIFT_FETCH_TIMEOUT must be a number of seconds and FEEDSIFT_FETCH_MAX_BYTES a whole number"
        ) from None
    return FetchOptions(allow_private=allowed, timeout=timeout, max_bytes=max_bytes)


def _items(inputs: tuple[str, ...], source: str | None, outcome: _Outcome) -> Iterator[FeedItem]:
    """Yield the items of every input in turn; an input that fails is recorded and the rest go on."""
    for spec in inputs:
        try:
            parsed = load_input(spec, source=source, fetch_options=_fetch_options())
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


@main.command()
@index_dir_option
@click.option("--source", help="Source name for every item of these inputs (overrides the feed's own).")
@click.argument("inputs", nargs=-1, required=True)
def add(index_dir: str, source: str | None, inputs: tuple[str, ...]) -> None:
    """Add or update the items of INPUTS (files, http(s) URLs, or - for stdin)."""
    outcome = _Outcome()
    engine = open_cli_engine(index_dir)
    try:
        with _progress(sys.stderr.isatty()) as progress:
            report = engine.upsert(_items(inputs, source, outcome), progress=progress)
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.close()
    sys.exit(_report(report, outcome))


@main.command(name="rebuild")
@index_dir_option
@click.option("--source", help="Source name for every item of these inputs (overrides the feed's own).")
@click.argument("inputs", nargs=-1, required=True)
def rebuild_command(index_dir: str, source: str | None, inputs: tuple[str, ...]) -> None:
    """Build a fresh index from INPUTS beside the live one, then swap it in.

    If no input yields an item the live index is left as it is. Whoosh only: a Typesense collection is
    rebuilt by `feedsift migrate --to typesense`.
    """
    if os.environ.get("FEEDSIFT_ENGINE", "").strip().lower() == "typesense":
        raise click.UsageError("rebuild works on the Whoosh index only (FEEDSIFT_ENGINE=typesense is set)")
    outcome = _Outcome()
    items = list(_items(inputs, source, outcome))
    if not items:
        for _spec, reason in outcome.failed:
            click.echo(f"failed: {reason}", err=True)
        raise click.ClickException("no items read; the live index is left unchanged")
    try:
        with _progress(sys.stderr.isatty()) as progress:
            report = rebuild(IndexStore(index_dir), items, progress=progress)
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(_report(report, outcome))


@main.command()
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(index_dir: str, as_json: bool) -> None:
    """Show item counts overall and per source, index size and last update."""
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
            "sources": info.sources,
            "size_bytes": info.size_bytes,
            "last_update": info.last_update.isoformat() if info.last_update else None,
            "path": info.path,
        }, indent=2))
        return
    click.echo(f"{info.items} items in {info.path} ({info.size_bytes / 1e6:.1f} MB), "
               f"last update {info.last_update.isoformat() if info.last_update else 'never'}")
    width = max((len(name) for name in info.sources), default=0)
    for name, count in info.sources.items():
        click.echo(f"  {name:<{width}}  {count}")


# Imported last: the feeds and poll commands live in their own module, which does not import this one.
from .cli_feeds import feeds, poll  # noqa: E402

main.add_command(feeds)
main.add_command(poll)
from .cli_search import search  # noqa: E402

main.add_command(search)
from .cli_migrate import migrate  # noqa: E402

main.add_command(migrate)

if __name__ == "__main__":  # pragma: no cover
    main()
