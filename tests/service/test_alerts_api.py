"""Tests for service/alerts_api.py, and the whole way from an API write to a signed webhook delivery.

Real parts throughout: the Flask app over an index in tmp_path, `feedsift` commands through click's
runner, and receivers that are HTTP servers on 127.0.0.1 (receiver B answers 500 once, then 200).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from index import cli
from index.feeds.registry import REGISTRY_FILE
from tests.support.api import assert_problem, validate_response
from tests.support.webhooks import Receiver

TOKEN = "alerts-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOOK = "https://hooks.example.org/x"


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def api(make_app: Callable[..., Flask], index_dir: Path) -> FlaskClient:
    return make_app(index_dir, api_token=TOKEN, allow_private_webhooks=True).test_client()


def feedsift(index_dir: Path, *args: str) -> Result:
    env = {"FEEDSIFT_INDEX_DIR": str(index_dir), "FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS": "1",
           "FEEDSIFT_ENGINE": ""}
    return CliRunner().invoke(cli.main, list(args), env=env, catch_exceptions=False)


def post_items(api: FlaskClient, items: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post("/v1/items", json=items, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


ITEMS = [
    {"id": "q-1", "title": "A quokka smiles for the camera", "source": "Zoo News", "link": "https://zoo.example/1"},
    {"id": "w-1", "title": "The wombat digs a burrow", "source": "Zoo News", "link": "https://zoo.example/2"},
    {"id": "q-2", "title": "Quokkas of Rottnest", "summary": "A census.", "source": "Island Times",
     "link": "https://island.example/3"},
    {"id": "n-1", "title": "Penguins parade at dusk", "source": "Zoo News", "link": "https://zoo.example/4"},
]


def test_must_show_from_api_writes_to_signed_retried_deliveries(api: FlaskClient, index_dir: Path,
                                                                tmp_path: Path) -> None:
    with Receiver() as receiver_a, Receiver(statuses=[500]) as receiver_b:
        made = [api.post("/v1/alerts", json={"q": q, "webhook": hook.url}, headers=AUTH)
                for q, hook in (("quokka", receiver_a), ("wombat", receiver_b))]
        assert [r.status_code for r in made] == [201, 201]
        quokka, wombat = (r.get_json() for r in made)
        post_items(api, ITEMS)

        first = feedsift(index_dir, "alerts", "deliver", "--now")
        assert first.exit_code == 0, first.output
        assert first.stdout.endswith("2 deliveries attempted: 1 delivered, 1 to retry, 0 failed\n")
        [to_a] = receiver_a.posts
        assert [item["id"] for item in to_a.json["items"]] == ["q-1", "q-2"]
        assert to_a.json["alert"] == {"id": quokka["id"], "q": "quokka"}
        assert to_a.headers["x-feedsift-signature"] == signature(quokka["secret"], to_a.body)
        assert to_a.headers["x-feedsift-signature"] != signature(wombat["secret"], to_a.body)
        [failed] = receiver_b.posts
        assert [item["id"] for item in failed.json["items"]] == ["w-1"]

        second = feedsift(index_dir, "alerts", "deliver", "--now")
        assert second.stdout.endswith("1 delivery attempted: 1 delivered, 0 to retry, 0 failed\n")
        assert len(receiver_a.posts) == 1
        retried = receiver_b.posts[1]
        assert (retried.delivery, retried.body) == (failed.delivery, failed.body)
        assert retried.headers["x-feedsift-signature"] == signature(wombat["secret"], retried.body)

        assert post_items(api, ITEMS)["unchanged"] == 4  # the same items again: nothing to send
        again = feedsift(index_dir, "alerts", "deliver", "--now")
        assert again.stdout.endswith("0 deliveries attempted: 0 delivered, 0 to retry, 0 failed\n")

        more = tmp_path / "more.jsonl"
        more.write_text(json.dumps({"id": "q-3", "title": "Baby quokka spotted", "source": "Zoo"}) + "\n")
        assert feedsift(index_dir, "add", str(more)).exit_code == 0
        feedsift(index_dir, "alerts", "deliver", "--now")
        assert [[item["id"] for item in post.json["items"]] for post in receiver_a.posts] == [["q-1", "q-2"],
                                                                                             ["q-3"]]
        assert len(receiver_b.posts) == 2

        history = api.get(f"/v1/alerts/{wombat['id']}/deliveries", headers=AUTH)
        validate_response(history, "/v1/alerts/{alert_id}/deliveries")
        assert [(a["attempt"], a["status"], a["outcome"]) for a in history.get_json()["attempts"]] == [
            (2, 200, "delivered"), (1, 500, "retry")]


def test_a_loopback_webhook_is_refused_unless_allowed(make_app: Callable[..., Flask], index_dir: Path,
                                                      receiver: Receiver) -> None:
    strict = make_app(index_dir, api_token=TOKEN).test_client()
    response = strict.post("/v1/alerts", json={"q": "quokka", "webhook": receiver.url}, headers=AUTH)
    body = assert_problem(response, 400, "invalid-parameters", param="webhook")
    assert "FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS" in body["errors"]["webhook"][0]
    validate_response(response, "/v1/alerts", "post")
    refused = feedsift(index_dir, "alerts", "list", "--json")
    assert json.loads(refused.stdout) == []
    cli_refused = CliRunner().invoke(cli.main, ["alerts", "add", "quokka", "--webhook", receiver.url],
                                     env={"FEEDSIFT_INDEX_DIR": str(index_dir),
                                          "FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS": ""})
    assert cli_refused.exit_code == 1 and "non-public address" in cli_refused.stderr


def test_every_alert_endpoint_needs_the_token(api: FlaskClient, make_app: Callable[..., Flask],
                                              index_dir: Path) -> None:
    calls = [("post", "/v1/alerts"), ("get", "/v1/alerts"), ("get", "/v1/alerts/1"),
             ("delete", "/v1/alerts/1"), ("get", "/v1/alerts/1/deliveries")]
    for method, url in calls:
        response = getattr(api, method)(url, json={"q": "quokka", "webhook": "https://hooks.example.org/x"})
        assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = getattr(api, method)(url, headers={"Authorization": "Bearer " + "x" * 32})
        assert_problem(wrong, 401, "unauthorized")
    closed = make_app(index_dir).test_client()
    assert_problem(closed.post("/v1/alerts", json={}, headers=AUTH), 403, "writes-disabled")
    assert not (index_dir / REGISTRY_FILE).exists()  # refused before the database was opened


def test_store_list_show_and_remove(api: FlaskClient, receiver: Receiver) -> None:
    made = api.post("/v1/alerts", headers=AUTH, json={
        "q": "diffusion models", "match": "all", "updates": True, "source": "Gradient Notes",
        "webhook": receiver.url})
    validate_response(made, "/v1/alerts", "post")
    created = made.get_json()
    assert made.headers["Location"] == f"/v1/alerts/{created['id']}"
    secret = created.pop("secret")
    assert len(secret) == 64
    keys = ("q", "match", "updates", "source", "webhook", "pending", "last_status")
    assert {k: created[k] for k in keys} == {
        "q": "diffusion models", "match": "all", "updates": True, "source": "Gradient Notes",
        "webhook": receiver.url, "pending": 0, "last_status": None}
    listed = api.get("/v1/alerts", headers=AUTH)
    validate_response(listed, "/v1/alerts")
    assert listed.get_json() == {"alerts": [created], "total": 1}
    shown = api.get(made.headers["Location"], headers=AUTH)
    validate_response(shown, "/v1/alerts/{alert_id}")
    assert shown.get_json() == created
    assert secret not in listed.get_data(as_text=True) + shown.get_data(as_text=True)
    assert api.delete(made.headers["Location"], headers=AUTH).status_code == 204
    gone = api.get(made.headers["Location"], headers=AUTH)
    assert_problem(gone, 404, "not-found")
    validate_response(gone, "/v1/alerts/{alert_id}")
    assert_problem(api.delete(made.headers["Location"], headers=AUTH), 404, "not-found")
    assert_problem(api.get(f"/v1/alerts/{2**70}/deliveries", headers=AUTH), 404, "not-found")


@pytest.mark.parametrize(("body", "problem", "param"), [
    ({"q": '"unclosed', "webhook": "https://hooks.example.org/x"}, "invalid-query", "q"),
    ({"q": "the", "webhook": "https://hooks.example.org/x"}, "invalid-query", "q"),
    ({"q": "quokka", "webhook": "ftp://hooks.example.org/x"}, "invalid-parameters", "webhook"),
    ({"q": "quokka", "webhook": "http://10.1.2.3/x"}, "invalid-parameters", "webhook"),
    ({"q": "quokka"}, "invalid-parameters", "webhook"),
    ({"q": "", "webhook": "https://hooks.example.org/x"}, "invalid-parameters", "q"),
    ({"q": "quokka " * 150, "webhook": HOOK}, "invalid-parameters", "q"),
    ({"q": "quokka", "webhook": HOOK, "match": "most"}, "invalid-parameters", "match"),
    ({"q": "quokka", "webhook": HOOK, "secret": "mine"}, "invalid-parameters", "secret"),
    ({"q": "quokka", "webhook": HOOK, "updates": 0}, "invalid-parameters", "updates"),
    ({"q": "quokka", "webhook": HOOK, "updates": "yes"}, "invalid-parameters", "updates"),
])
def test_bad_alerts_are_precise_400s(make_app: Callable[..., Flask], index_dir: Path, body: dict[str, Any],
                                     problem: str, param: str) -> None:
    # Private webhooks refused here, as by default: 10.1.2.3 must be refused by the guard.
    client = make_app(index_dir, api_token=TOKEN).test_client()
    response = client.post("/v1/alerts", json=body, headers=AUTH)
    assert_problem(response, 400, problem, param=param)
    validate_response(response, "/v1/alerts", "post")
    assert client.get("/v1/alerts", headers=AUTH).get_json()["total"] == 0


def test_metrics_count_deliveries_and_the_pending_outbox_without_writing(api: FlaskClient,
                                                                         index_dir: Path) -> None:
    with Receiver(statuses=[500]) as receiver:
        api.post("/v1/alerts", json={"q": "quokka", "webhook": receiver.url}, headers=AUTH)
        post_items(api, ITEMS)
        before = metric_lines(api)
        assert "feedsift_alert_outbox_pending 2.0" in before
        assert 'feedsift_alert_deliveries_total{outcome="retry"} 0.0' in before
        feedsift(index_dir, "alerts", "deliver")
        # The database and its write-ahead log are byte for byte the same after a scrape (the -shm file
        # is the readers' shared index of the log, which any reader touches).
        files = [index_dir / REGISTRY_FILE, index_dir / (REGISTRY_FILE + "-wal")]
        before_scrape = [path.read_bytes() if path.exists() else None for path in files]
        after = metric_lines(api)
        assert [path.read_bytes() if path.exists() else None for path in files] == before_scrape
        assert 'feedsift_alert_deliveries_total{outcome="retry"} 1.0' in after
        assert 'feedsift_alert_deliveries_total{outcome="delivered"} 0.0' in after
        assert "feedsift_alert_outbox_pending 2.0" in after  # still waiting, in a delivery now
        feedsift(index_dir, "alerts", "deliver", "--now")
        final = metric_lines(api)
        assert 'feedsift_alert_deliveries_total{outcome="delivered"} 1.0' in final
        assert "feedsift_alert_outbox_pending 0.0" in final


def metric_lines(api: FlaskClient) -> list[str]:
    response = api.get("/metrics")
    assert response.status_code == 200
    return response.get_data(as_text=True).splitlines()
