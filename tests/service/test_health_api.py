"""Tests for service/health_api.py: liveness, readiness, and an app that starts before its index exists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import assert_problem
from tests.support.indexes import SAMPLE_FILES, build_index, items_from


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_counts_items(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "items": 40}


def test_app_starts_without_an_index_and_serves_it_once_built(
        tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    # create_app must not open the index: under gunicorn it runs in the master, before any fork.
    client = make_app(tmp_path / "later", reopen_interval=0).test_client()
    assert client.get("/healthz").status_code == 200
    body = assert_problem(client.get("/readyz"), 503, "index-unavailable")
    assert str(tmp_path) not in body["detail"]
    assert_problem(client.get("/v1/search?q=learning"), 503, "index-unavailable")

    build_index(tmp_path / "later", items_from(SAMPLE_FILES))
    assert client.get("/readyz").get_json() == {"status": "ready", "items": 40}
    assert client.get("/v1/search?q=learning").status_code == 200
