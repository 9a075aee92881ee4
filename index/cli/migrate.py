"""The ``feedsift migrate`` command: copy the Whoosh index into Typesense, compare, then swap it in.

The items go into a fresh collection ``<collection>_<stamp>``; only when its counts (overall and per
source) equal the Whoosh index's does the alias ``<collection>`` (what the API and the poller use) move
to it, and the collection it pointed at before is dropped. A failed or mismatched copy is dropped and
the alias is left as it was: Warehouse's rebuild-beside-and-swap, with Typesense aliases.

"""

from __future__ import annotations

import sys
import time

import click

from index.cli.options import cli_settings, index_dir_option
from index.errors import FeedsiftError
from index.model import IndexStats
from index.search.whoosh.engine import WhooshEngine

# Seconds to let every node catch up with the copy before its counts are taken as final.
CONSISTENCY_WAIT = 10.0


def _stamp() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime())


def compare(source: IndexStats, copy: IndexStats) -> list[str]:
    """Return how ``copy``'s counts differ from ``source``'s, overall and per source (empty when equal)."""
    problems = []
    if copy.items != source.items:
        problems.append(f"{copy.items} items in Typesense, {source.items} in Whoosh")
    for name in sorted(set(source.sources) | set(copy.sources)):
        have, want = copy.sources.get(name, 0), source.sources.get(name, 0)
        if have != want:
            problems.append(f"source {name!r}: {have} in Typesense, {want} in Whoosh")
    return problems


@click.command("migrate")
@index_dir_option
@click.option("--to", "target", type=click.Choice(["typesense"]), required=True,
              help="Engine to copy the items into.")
@click.option("--collection", default="feedsift_items", show_default=True,
              help="Alias the API and poller use; the copy goes into <collection>_<stamp>.")
def migrate(index_dir: str, target: str, collection: str) -> None:
    """Copy every item of the Whoosh index into Typesense (nodes and key from FEEDSIFT_TYPESENSE_*).

    First-seen dates are kept. Exits 1, leaving the live collection as it was, when the counts differ.
    """
    from index.search.typesense.engine import TypesenseEngine  # the client is needed only by this command

    settings = cli_settings()
    nodes, api_key = list(settings.typesense_nodes), settings.typesense_api_key
    if not nodes or not api_key:
        raise click.UsageError("set FEEDSIFT_TYPESENSE_NODES and FEEDSIFT_TYPESENSE_API_KEY")
    whoosh = WhooshEngine(index_dir)
    copy = TypesenseEngine(nodes, api_key, f"{collection}_{_stamp()}")
    swapped = False
    try:
        if copy.is_plain_collection(collection):
            raise click.ClickException(
                f"Typesense has a collection named {collection!r} (not an alias): drop it, or migrate "
                "under another --collection"
            )
        source = whoosh.stats()
        exported = list(whoosh.export())
        first_seen = {item.id: seen for item, seen in exported if seen}
        report = copy.upsert([item for item, _ in exported], first_seen=first_seen)
        problems = compare(source, copy.stats())
        deadline = time.monotonic() + CONSISTENCY_WAIT
        while problems and time.monotonic() < deadline:
            # On a cluster the node answering may not have applied the last import yet.
            time.sleep(0.5)
            problems = compare(source, copy.stats())
        click.echo(f"{report.added} items copied into {copy.collection}")
        if problems:
            for problem in problems:
                click.echo(f"mismatch: {problem}", err=True)
            click.echo(f"counts differ: {collection!r} is left as it was", err=True)
            sys.exit(1)
        previous = copy.point_alias(collection)
        swapped = True
        click.echo(f"{collection} -> {copy.collection} ({source.items} items, counts equal)")
        if previous is not None and previous != copy.collection:
            copy_of_old = TypesenseEngine(nodes, api_key, previous)
            try:
                copy_of_old.drop_collection()
            finally:
                copy_of_old.close()
            click.echo(f"dropped the previous collection {previous}")
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if not swapped:
            try:
                copy.drop_collection()
            except FeedsiftError as exc:
                click.echo(f"warning: could not drop the unfinished {copy.collection}: {exc}", err=True)
        copy.close()
        whoosh.close()
