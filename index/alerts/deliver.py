"""Sending due deliveries to their webhooks: one signed POST each, through the feed fetcher's guard."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from index.alerts.outbox import Delivery, Outbox
from index.alerts.store import AlertStore
from index.errors import FetchError
from index.feeds.fetch import post
from index.feeds.registry import REGISTRY_FILE

TIMEOUT = 10.0


@dataclass
class DeliveryRun:
    """What one :func:`deliver` did: items queued from interrupted writes, and attempts by outcome."""

    recovered: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"delivered": 0, "retry": 0, "failed": 0})
    attempts: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return len(self.attempts)


def sign(body: bytes, secret: str) -> str:
    """Return the ``X-Feedsift-Signature`` of a body: ``sha256=`` and its hex HMAC-SHA256 with the secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def deliver(
    index_dir: str | os.PathLike[str],
    *,
    fingerprints: Callable[[list[str]], dict[str, str]] | None = None,
    force: bool = False,
    allow_private: bool = False,
    timeout: float = TIMEOUT,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DeliveryRun:
    """Send every delivery that is due (with ``force``, every pending one, retry wait or not), each at most
    once per call, after settling any write that died before queuing its matches (given ``fingerprints``,
    the engine's). Never creates the database: with none, there is nothing to send.
    """
    run = DeliveryRun()
    if not (Path(index_dir) / REGISTRY_FILE).exists():
        return run
    outbox = Outbox(AlertStore.beside(index_dir))
    if fingerprints is not None:
        run.recovered = outbox.recover(fingerprints)
    tried: list[str] = []
    while (delivery := outbox.claim(clock(), force=force, skip=tried)) is not None:
        tried.append(delivery.id)
        status, error = _send(delivery, timeout=timeout, allow_private=allow_private)
        outcome = outbox.record(delivery, now=clock(), status=status, error=error)
        run.outcomes[outcome] += 1
        run.attempts.append((delivery.id, delivery.alert_id, outcome))
    return run


def _send(delivery: Delivery, *, timeout: float, allow_private: bool) -> tuple[int | None, str | None]:
    headers = {
        "Content-Type": "application/json",
        "X-Feedsift-Delivery": delivery.id,
        "X-Feedsift-Signature": sign(delivery.body, delivery.secret),
    }
    try:
        status = post(delivery.webhook, delivery.body, headers=headers, timeout=timeout,
                      allow_private=allow_private)
    except FetchError as exc:
        return None, str(exc)
    return status, None if 200 <= status < 300 else f"the webhook answered {status}"
