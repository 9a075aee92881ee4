"""Tests for service/cors.py: CORS off by default, on for the origins FEEDSIFT_CORS_ORIGINS names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from index.settings import ConfigError, Settings
from tests.support.api import assert_problem

APP = "https://app.example.org"
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "X-Request-ID"}


def test_off_by_default(client: FlaskClient) -> None:
    response = client.get("/v1/search", headers={"Origin": APP})
    assert response.status_code == 200
    assert not [h for h in response.headers.keys() if h.startswith("Access-Control-")]
    assert client.options("/v1/search", headers=PREFLIGHT).headers.get("Access-Control-Allow-Origin") is None


def test_a_configured_origin_may_read(sample_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(sample_index, cors_origins=(APP, "http://localhost:3000")).test_client()
    response = client.get("/v1/search?q=learning", headers={"Origin": APP})
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "Origin" in response.headers["Vary"]
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    problem = client.get("/v1/items/nope", headers={"Origin": APP})
    assert problem.headers["Access-Control-Allow-Origin"] == APP  # errors are readable too
    other = client.get("/v1/search", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in client.get("/v1/search").headers


def test_preflight(sample_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(sample_index, cors_origins=(APP,)).test_client()
    response = client.options("/v1/search?q=x", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, POST, DELETE, OPTIONS"
    assert "X-Request-ID" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Max-Age"] == "600"
    refused = client.options("/v1/search", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert_problem(client.options("/nowhere", headers=PREFLIGHT), 404, "not-found")


def test_any_origin(sample_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(sample_index, cors_origins=("*",)).test_client()
    response = client.get("/v1/sources", headers={"Origin": "https://anywhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_variable_is_parsed_and_checked() -> None:
    settings = Settings.from_env({"FEEDSIFT_CORS_ORIGINS": f" {APP}/ , http://localhost:3000,"})
    assert settings.cors_origins == (APP, "http://localhost:3000")
    assert Settings.from_env({"FEEDSIFT_CORS_ORIGINS": "*"}).cors_origins == ("*",)
    assert Settings.from_env({}).cors_origins == ()


@pytest.mark.parametrize("value", ["app.example.org", "https://app.example.org/path", "ftp://x.example",
                                   "https://a.example,https://b.example/x"])
def test_bad_origins_are_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="^FEEDSIFT_CORS_ORIGINS="):
        Settings.from_env({"FEEDSIFT_CORS_ORIGINS": value})


def test_a_browser_app_on_a_configured_origin_can_use_the_write_api(built_index: Path,
                                                                   make_app: Callable[..., Flask]) -> None:
    token = "cors-write-token-0123456789abcdef"
    client = make_app(built_index, cors_origins=(APP,), api_token=token).test_client()
    for method, path in (("POST", "/v1/items"), ("DELETE", "/v1/items/cors-1"), ("POST", "/v1/feeds")):
        preflight = client.options(path, headers={
            "Origin": APP, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == APP
        assert method in preflight.headers["Access-Control-Allow-Methods"].split(", ")
        allowed = {h.lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(", ")}
        assert {"authorization", "content-type"} <= allowed
    auth = {"Origin": APP, "Authorization": f"Bearer {token}"}
    posted = client.post("/v1/items", json=[{"id": "cors-1", "title": "Cross-origin write",
                                             "link": "https://x.example/1"}], headers=auth)
    assert posted.status_code == 200 and posted.headers["Access-Control-Allow-Origin"] == APP
    deleted = client.delete("/v1/items/cors-1", headers=auth)
    assert deleted.status_code == 204 and deleted.headers["Access-Control-Allow-Origin"] == APP
    added = client.post("/v1/feeds", json={"url": "https://feeds.example.org/a.xml"}, headers=auth)
    assert added.status_code == 201 and "Location" in added.headers["Access-Control-Expose-Headers"]
    # Another origin's preflight gets no CORS headers, so its browser refuses the write.
    other = client.options("/v1/items", headers={"Origin": "https://evil.example",
                                                 "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers
