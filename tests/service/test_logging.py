"""Tests for service/observability.py: one JSON log line per request, with the id returned as X-Request-ID."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient


def lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_each_request_logs_one_json_line_with_its_id(client: FlaskClient,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    response = client.get("/v1/search?q=learning")
    logged = lines(capsys.readouterr().err)
    assert len(logged) == 1
    line = logged[0]
    assert set(line) == {"time", "level", "message", "request_id", "method", "path", "status", "duration_ms"}
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert len(line["request_id"]) == 32
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/search", 200)
    assert line["level"] == "info" and line["time"].endswith("Z")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_errors_and_unknown_paths_are_logged_too(client: FlaskClient,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    client.get("/nowhere")
    client.get('/v1/search?q="open')
    logged = lines(capsys.readouterr().err)
    assert [(line["path"], line["status"]) for line in logged] == [("/nowhere", 404), ("/v1/search", 400)]
    assert logged[0]["request_id"] != logged[1]["request_id"]


@pytest.mark.parametrize("incoming", ["3f2c1e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "lb-1234.abcd:7", "Root=1-abc"])
def test_a_sane_incoming_request_id_is_kept(client: FlaskClient, capsys: pytest.CaptureFixture[str],
                                            incoming: str) -> None:
    capsys.readouterr()
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming
    assert lines(capsys.readouterr().err)[0]["request_id"] == incoming


@pytest.mark.parametrize("incoming", ["", "x" * 129, "a b", "<script>", "id\"quote", "-leading-dash"])
def test_anything_else_is_replaced(client: FlaskClient, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] != incoming
    assert len(response.headers["X-Request-ID"]) == 32
