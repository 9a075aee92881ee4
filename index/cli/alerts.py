"""The ``feedsift alerts`` commands: store, list and remove alerts, and deliver what they matched.

``index.cli.feeds`` imports :func:`deliver_alerts` (the poll worker delivers between polls).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import click

from index.alerts import MATCHES, Alert, AlertStore, DeliveryRun, deliver
from index.cli.options import cli_settings, index_dir_option, open_cli_engine
from index.errors import AlertNotFoundError, FeedsiftError
from index.feeds.registry import REGISTRY_FILE
from index.search.engine import Engine


def deliver_alerts(index_dir: str, engine: Engine, *, force: bool = False) -> DeliveryRun:
    """Send what is due (everything pending with ``force``), settling interrupted writes first."""
    return deliver(index_dir, fingerprints=engine.fingerprints, force=force,
                   allow_private=cli_settings().allow_private_webhooks)


def describe_run(run: DeliveryRun) -> str:
    """Return one line saying how many deliveries were tried and what came of them."""
    outcomes = run.outcomes
    text = (f"{run.attempted} deliver{'y' if run.attempted == 1 else 'ies'} attempted: "
            f"{outcomes['delivered']} delivered, {outcomes['retry']} to retry, {outcomes['failed']} failed")
    return text + (f"; {run.recovered} matches recovered from interrupted writes" if run.recovered else "")


@contextmanager
def _store(index_dir: str) -> Iterator[AlertStore]:
    try:
        yield AlertStore.beside(index_dir)
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def alerts() -> None:
    """Stored queries whose new matches are POSTed to a webhook."""


@alerts.command("add")
@index_dir_option
@click.option("--webhook", required=True, help="http(s) URL each delivery is POSTed to.")
@click.option("--source", help="Only items of this source.")
@click.option("--match", type=click.Choice(MATCHES), default="any", show_default=True,
              help="all: every word must be in an item, as in a search with match=all.")
@click.option("--updates", is_flag=True, help="Send an item again when its title or summary changes.")
@click.argument("query")
def add_alert(index_dir: str, webhook: str, source: str | None, match: str, updates: bool,
              query: str) -> None:
    """Store an alert for QUERY: items added or changed from now on that match it go to the webhook.

    The secret printed is shown this once: deliveries are signed with it. Webhooks on loopback and
    private addresses are refused unless FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS=1.
    """
    allowed = cli_settings().allow_private_webhooks
    with _store(index_dir) as store:
        alert, secret = store.add(query, webhook, source=source, match=match, updates=updates,
                                  allow_private=allowed)
    click.echo(f"added alert {alert.id}: {alert.q!r} -> {alert.webhook}")
    click.echo(f"secret {secret} (shown once: receivers verify X-Feedsift-Signature with it)")


@alerts.command("list")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON: every field of every alert (no secrets).")
def list_alerts(index_dir: str, as_json: bool) -> None:
    """List the alerts with the health of their deliveries."""
    if not (os.path.exists(os.path.join(index_dir, REGISTRY_FILE))):
        found: list[Alert] = []
    else:
        with _store(index_dir) as store:
            found = store.list()
    if as_json:
        click.echo(json.dumps([_json(alert) for alert in found], indent=2))
        return
    if not found:
        click.echo("no alerts")
    for alert in found:
        health = f"last {alert.last_status or alert.last_error or '-'}"
        if alert.consecutive_failures:
            health += f", {alert.consecutive_failures} failures in a row"
        click.echo(f"{alert.id:>4}  {alert.q!r}  -> {alert.webhook}  ({alert.pending} pending, {health})")


@alerts.command("remove")
@index_dir_option
@click.argument("alert_id", type=int)
def remove_alert(index_dir: str, alert_id: int) -> None:
    """Remove an alert, with whatever it had queued."""
    with _store(index_dir) as store:
        try:
            alert = store.remove(alert_id)
        except AlertNotFoundError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"removed alert {alert.id}: {alert.q!r}")


@alerts.command("deliver")
@index_dir_option
@click.option("--now", "force", is_flag=True, help="Send every pending delivery now, ignoring retry waits.")
def deliver_command(index_dir: str, force: bool) -> None:
    """Send the deliveries that are due: new matches, and retries whose wait is over."""
    engine = open_cli_engine(index_dir)
    with closing(engine):
        try:
            run = deliver_alerts(index_dir, engine, force=force)
        except FeedsiftError as exc:
            raise click.ClickException(str(exc)) from None
    for delivery, alert_id, outcome in run.attempts:
        click.echo(f"{outcome:<10} alert {alert_id} delivery {delivery}")
    click.echo(describe_run(run))


def _json(alert: Alert) -> dict[str, Any]:
    data = {key: getattr(alert, key) for key in alert.__dataclass_fields__}
    return {key: value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else value
            for key, value in data.items()}
