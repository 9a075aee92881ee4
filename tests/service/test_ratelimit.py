"""Tests for service/ratelimit.py: off by default; when set, a 429 problem with Retry-After per client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from index.settings import ConfigError, Settings
from tests.support.api import assert_problem, validate_response


def test_without_a_limit_nothing_is_refused(sample_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(sample_index).test_client()
    statuses = {client.get("/v1/search", query_string={"q": "learning"}).status_code for _ in range(60)}
    assert statuses == {200}


def test_over_the_limit_is_a_429_problem_with_retry_after(sample_index: Path,
                                                          make_app: Callable[..., Flask]) -> None:
    client = make_app(sample_index, rate_limit="3/minute").test_client()
    # The limit counts every path together: two searches and a lookup use it up.
    assert client.get("/v1/search?q=learning").status_code == 200
    assert client.get("/v1/sources").status_code == 200
    assert client.get("/v1/items/extra-001").status_code == 200
    response = client.get("/v1/search?q=learning")
    body = assert_problem(response, 429, "rate-limited")
    assert "3 per 1 minute" in body["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    validate_response(response, "/v1/search")
    # The HTML pages answer with a page.
    page = client.get("/?q=learning")
    assert page.status_code == 429 and page.mimetype == "text/html" and "Retry-After" in page.headers


def test_each_client_address_has_its_own_count(sample_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(sample_index, rate_limit="2/minute").test_client()
    first = {"REMOTE_ADDR": "192.0.2.1"}
    other = {"REMOTE_ADDR": "192.0.2.2"}
    assert [client.get("/v1/sources", environ_base=first).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/v1/sources", environ_base=other).status_code == 200


def test_probes_and_scrapes_are_never_limited(sample_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(sample_index, rate_limit="1/minute").test_client()
    assert client.get("/v1/sources").status_code == 200
    assert client.get("/v1/sources").status_code == 429
    for path in ("/healthz", "/readyz", "/metrics") * 5:
        assert client.get(path).status_code == 200, path


def test_other_retry_after_headers_are_left_alone(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    # Flask-Limiter's own headers would rewrite the Retry-After of an unavailable index; ours do not.
    client = make_app(tmp_path / "none", rate_limit="100/minute").test_client()
    response = client.get("/v1/search")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"


@pytest.mark.parametrize("value", ["100/minute", "10/second;1000/hour", "5 per hour"])
def test_rates_are_read_from_the_environment(value: str) -> None:
    assert Settings.from_env({"FEEDSIFT_RATE_LIMIT": value}).rate_limit == value
    assert Settings.from_env({}).rate_limit == ""


@pytest.mark.parametrize("value", ["fast", "100", "0/minute", "100/fortnight"])
def test_a_bad_rate_stops_the_start_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="FEEDSIFT_RATE_LIMIT"):
        Settings.from_env({"FEEDSIFT_RATE_LIMIT": value})
