"""Alert endpoints: store, list, show and remove alerts, and list their recent delivery attempts.

All need the API token: an alert's webhook URL may carry credentials, and creating one makes this
service send requests. The secret that signs deliveries is in the 201 of ``POST /v1/alerts`` only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from index.alerts import Alert, Outbox
from index.errors import AlertNotFoundError, WebhookURLError
from index.settings import Settings
from service.auth import requires_token
from service.bodies import json_object
from service.engine import alert_store
from service.schemas import AddAlertArgs, AlertSchema, AttemptSchema, NoArgs, load_args

bp = Blueprint("alerts", __name__, url_prefix="/v1/alerts")
_ALERT = AlertSchema()
_ATTEMPTS = AttemptSchema(many=True)


@bp.get("")
@requires_token
def list_alerts() -> dict[str, Any]:
    """List every alert with its delivery health, oldest first."""
    load_args(NoArgs(), request.args)
    alerts = alert_store().list()
    return {"alerts": AlertSchema(many=True).dump(alerts), "total": len(alerts)}


@bp.post("")
@requires_token
def add_alert() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Store an alert; the answer carries its secret, which is never shown again."""
    load_args(NoArgs(), request.args)
    args = AddAlertArgs().load(json_object())
    settings: Settings = current_app.config["FEEDSIFT_SETTINGS"]
    try:
        alert, secret = alert_store().add(args["q"], args["webhook"], source=args["source"],
                                          match=args["match"], updates=args["updates"],
                                          allow_private=settings.allow_private_webhooks)
    except WebhookURLError as exc:
        raise ValidationError({"webhook": [str(exc)]}) from None
    body: dict[str, Any] = _ALERT.dump(alert)
    body["secret"] = secret
    return body, 201, {"Location": url_for("alerts.get_alert", alert_id=alert.id)}


@bp.get("/<int:alert_id>")
@requires_token
def get_alert(alert_id: int) -> dict[str, Any]:
    """Return one alert with its delivery health."""
    load_args(NoArgs(), request.args)
    body: dict[str, Any] = _ALERT.dump(_find(alert_id))
    return body


@bp.delete("/<int:alert_id>")
@requires_token
def remove_alert(alert_id: int) -> Response:
    """Remove an alert with whatever it had queued; nothing more is sent for it."""
    load_args(NoArgs(), request.args)
    try:
        alert_store().remove(alert_id)
    except AlertNotFoundError:
        raise _unknown(alert_id) from None
    return Response(status=204)


@bp.get("/<int:alert_id>/deliveries")
@requires_token
def list_attempts(alert_id: int) -> dict[str, Any]:
    """Return the alert's 50 most recent delivery attempts, newest first."""
    load_args(NoArgs(), request.args)
    _find(alert_id)
    return {"id": alert_id, "attempts": _ATTEMPTS.dump(Outbox(alert_store()).attempts(alert_id))}


def _find(alert_id: int) -> Alert:
    try:
        return alert_store().get(alert_id)
    except AlertNotFoundError:
        raise _unknown(alert_id) from None


def _unknown(alert_id: int) -> NotFound:
    return NotFound(f"There is no alert with id {alert_id}.")
