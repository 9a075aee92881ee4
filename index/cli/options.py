"""What every command shares: the settings read once from the environment, ``--index`` and the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from index.alerts import AlertWatcher
from index.search.engine import Engine
from index.settings import ConfigError, Settings

# Where a command's settings are kept once read: click's meta dict, shared by a command and its group.
_SETTINGS = "feedsift.settings"


def cli_settings() -> Settings:
    """Return the ``FEEDSIFT_*`` settings, read once per command; a bad value stops it naming the variable."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _SETTINGS in ctx.meta:
        return ctx.meta[_SETTINGS]  # type: ignore[no-any-return]
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if ctx is not None:
        ctx.meta[_SETTINGS] = settings
    return settings


def _index_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    return value if value is not None else str(cli_settings().index_dir)


def index_dir_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--index DIR`` (default: ``FEEDSIFT_INDEX_DIR``, else ``./var/index``) to a command."""
    return click.option(
        "--index", "index_dir", default=None, callback=_index_dir,
        type=click.Path(file_okay=False),
        help="Index directory; the feed registry is feeds.sqlite3 inside it. "
             "[default: FEEDSIFT_INDEX_DIR, else ./var/index]",
    )(f)


def open_cli_engine(index_dir: str, *, watched: bool = False) -> Engine:
    """Return the engine FEEDSIFT_ENGINE chooses (Whoosh in ``index_dir`` by default), unopened.

    A ``watched`` engine's writes feed the alerts stored beside ``index_dir``.
    """
    return cli_settings().open_engine(index_dir, watcher=AlertWatcher(index_dir) if watched else None)
