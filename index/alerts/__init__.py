"""Alerts: stored queries whose new matches are pushed to webhooks, signed, retried, never lost or repeated.

The rest of feedsift uses only these names: :class:`AlertStore` (the alerts), :class:`AlertWatcher`
(given to an engine, it journals and matches every write), :func:`deliver` (sends what is due) and
:class:`Outbox` (recent attempts). How a write reaches a webhook is told in ``outbox``.
"""

from __future__ import annotations

from index.alerts.deliver import DeliveryRun, deliver, sign
from index.alerts.outbox import GIVE_UP_AFTER, MAX_ITEMS, OUTCOMES, RETRY_DELAYS, Attempt, Outbox
from index.alerts.store import (
           MATCHES,
           MAX_ALERT_QUERY_CHARS,
           Alert,
           AlertStore,
           read_counts,
           validate_webhook,
)
from index.alerts.watch import AlertWatcher

__all__ = ["GIVE_UP_AFTER", "MATCHES", "MAX_ALERT_QUERY_CHARS", "MAX_ITEMS", "OUTCOMES", "RETRY_DELAYS",
           "Alert", "AlertStore", "AlertWatcher", "Attempt", "DeliveryRun", "Outbox", "deliver",
           "read_counts", "sign", "validate_webhook"]
