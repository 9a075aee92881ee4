"""The ``feedsift`` command: one click group, each area's commands in a module of this package."""

from __future__ import annotations

import click

from index import __version__
from index.cli import alerts, feeds, items, migrate, search


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedsift")
def main() -> None:
    """feedsift: full-text search over feed items."""


for _command in (items.add, items.rebuild_command, items.stats, feeds.feeds, feeds.poll, search.search,
                 migrate.migrate, alerts.alerts):
    main.add_command(_command)
