"""Tests for index/feeds/fetch.py against a real local HTTP server."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

import index.feeds.fetch as fetch_module
from index import __version__
from index.errors import FetchError
from index.feeds.fetch import HTTPStatusError, fetch, is_public_address
from tests.support.feedserver import (
    RSS,
    FeedServer,
    deflated,
    endless,
    gone,
    gzipped,
    html_page,
    latin1_feed,
    redirect,
    serve,
    serve_with_etag,
    serve_with_last_modified,
    server_error,
    slow_drip,
    slow_headers,
)


def fetch_local(url: str, **kwargs: Any) -> fetch_module.FetchResult:
    """Fetch from the test server, which lives on loopback and so needs allow_private."""
    return fetch(url, allow_private=True, **kwargs)


def fake_getaddrinfo(mapping: dict[str, str]) -> Any:
    """Return a getaddrinfo that answers ``mapping`` (host -> IPv4) and defers to the real one otherwise."""
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host in mapping:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (mapping[host], port))]
        return real(host, port, *args, **kwargs)

    return getaddrinfo


# --- success ---------------------------------------------------------------------------------------------


def test_200_returns_body_and_headers(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml", serve(RSS, headers={"X-Custom": "yes"}))

    result = fetch_local(url)

    assert result.status == 200
    assert result.body == RSS
    assert result.url == url
    assert result.content_type == "application/rss+xml"
    assert result.headers["x-custom"] == "yes"
    assert result.headers["content-length"] == str(len(RSS))
    assert all(name == name.lower() for name in result.headers)
    assert result.etag is None
    assert result.last_modified is None
    assert result.permanent_redirect is None


def test_default_user_agent_names_feedsift(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml", serve())

    fetch_local(url)

    (request,) = feed_server.requests_to("/feed.xml")
    assert request.headers["user-agent"].startswith(f"feedsift/{__version__} ")
    assert "gzip" in request.headers["accept-encoding"]


def test_custom_user_agent_is_sent(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml", serve())

    fetch_local(url, user_agent="probe/1.0")

    assert feed_server.requests_to("/feed.xml")[0].headers["user-agent"] == "probe/1.0"


def test_html_page_is_returned_as_is(feed_server: FeedServer) -> None:
    url = feed_server.route("/page", html_page())

    result = fetch_local(url)

    # Telling a feed from a web page is detect.py's job; fetch reports what the server said.
    assert result.status == 200
    assert result.body.startswith(b"<!DOCTYPE html>")
    assert result.content_type == "text/html; charset=utf-8"


def test_latin1_body_keeps_its_bytes(feed_server: FeedServer) -> None:
    url = feed_server.route("/latin1", latin1_feed())

    result = fetch_local(url)

    # Charset sniffing belongs to later stages; fetch must hand back the bytes undecoded.
    assert "Caf\u00e9".encode("latin-1") in result.body
    assert result.content_type == "application/rss+xml; charset=ISO-8859-1"


# --- conditional GET -------------------------------------------------------------------------------------


def test_etag_round_trip_gives_304_with_empty_body(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml", serve_with_etag(etag='"v1"'))

    first = fetch_local(url)
    second = fetch_local(url, etag=first.etag)

    assert first.status == 200 and first.etag == '"v1"'
    assert second.status == 304
    assert second.body == b""
    assert second.etag == '"v1"'
    first_request, second_request = feed_server.requests_to("/feed.xml")
    assert "if-none-match" not in first_request.headers
    assert second_request.headers["if-none-match"] == '"v1"'


def test_last_modified_round_trip_gives_304(feed_server: FeedServer) -> None:
    stamp = "Wed, 01 May 2024 10:00:00 GMT"
    url = feed_server.route("/feed.xml", serve_with_last_modified(last_modified=stamp))

    first = fetch_local(url)
    second = fetch_local(url, last_modified=first.last_modified)

    assert first.status == 200 and first.last_modified == stamp
    assert second.status == 304
    assert second.body == b""
    # The server's 304 omits Last-Modified; the caller's validator is kept for next time.
    assert second.last_modified == stamp
    assert feed_server.requests_to("/feed.xml")[1].headers["if-modified-since"] == stamp


def test_stale_etag_gets_full_body(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml", serve_with_etag(etag='"v2"'))

    result = fetch_local(url, etag='"v1"')

    assert result.status == 200
    assert result.body == RSS
    assert result.etag == '"v2"'


# --- content encoding ------------------------------------------------------------------------------------


def test_gzip_body_is_decompressed(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml.gz", gzipped(RSS))

    result = fetch_local(url)

    assert result.body == RSS
    assert result.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("raw", [False, True], ids=["zlib", "raw"])
def test_deflate_body_is_decompressed(feed_server: FeedServer, raw: bool) -> None:
    url = feed_server.route("/feed.xml", deflated(RSS, raw=raw))

    assert fetch_local(url).body == RSS


def test_gzip_bomb_is_refused_by_decompressed_size(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024), compresslevel=9)
    url = feed_server.route("/bomb", serve(bomb, headers={"Content-Encoding": "gzip"}))
    assert len(bomb) < 64 * 1024

    with pytest.raises(FetchError) as caught:
        fetch_local(url, max_bytes=64 * 1024)

    assert caught.value.reason == "too-large"


def test_corrupt_gzip_is_a_decode_error(feed_server: FeedServer) -> None:
    url = feed_server.route("/bad", serve(b"not gzip at all", headers={"Content-Encoding": "gzip"}))

    with pytest.raises(FetchError) as caught:
        fetch_local(url)

    assert caught.value.reason == "decode"


# --- redirects -------------------------------------------------------------------------------------------


def test_permanent_redirect_chain_is_recorded(feed_server: FeedServer) -> None:
    feed_server.route("/old", redirect("/older", status=301))
    feed_server.route("/older", redirect("/feed.xml", status=308))
    feed_server.route("/feed.xml", serve())

    result = fetch_local(feed_server.url("/old"))

    assert result.status == 200
    assert result.body == RSS
    assert result.url == feed_server.url("/feed.xml")
    assert result.permanent_redirect == feed_server.url("/feed.xml")


def test_temporary_redirect_is_not_recorded(feed_server: FeedServer) -> None:
    feed_server.route("/today", redirect("/feed.xml", status=302))
    feed_server.route("/feed.xml", serve())

    result = fetch_local(feed_server.url("/today"))

    assert result.url == feed_server.url("/feed.xml")
    assert result.permanent_redirect is None


def test_permanent_redirect_stops_at_first_temporary_hop(feed_server: FeedServer) -> None:
    feed_server.route("/a", redirect("/b", status=301))
    feed_server.route("/b", redirect("/c", status=302))
    feed_server.route("/c", redirect("/feed.xml", status=301))
    feed_server.route("/feed.xml", serve())

    result = fetch_local(feed_server.url("/a"))

    assert result.url == feed_server.url("/feed.xml")
    assert result.permanent_redirect == feed_server.url("/b")


def test_conditional_headers_follow_redirects(feed_server: FeedServer) -> None:
    feed_server.route("/old", redirect("/feed.xml", status=301))
    feed_server.route("/feed.xml", serve_with_etag(etag='"v1"'))

    result = fetch_local(feed_server.url("/old"), etag='"v1"')

    assert result.status == 304
    assert result.permanent_redirect == feed_server.url("/feed.xml")


def test_too_many_redirects(feed_server: FeedServer) -> None:
    for hop in range(3):
        feed_server.route(f"/hop{hop}", redirect(f"/hop{hop + 1}", status=302))
    feed_server.route("/hop3", serve())

    assert fetch_local(feed_server.url("/hop0"), max_redirects=3).body == RSS
    with pytest.raises(FetchError) as caught:
        fetch_local(feed_server.url("/hop0"), max_redirects=2)

    assert caught.value.reason == "redirects"
    # The third redirect was seen but not followed: only the first fetch reached /hop3.
    assert len(feed_server.requests_to("/hop3")) == 1


def test_redirect_loop_is_stopped(feed_server: FeedServer) -> None:
    url = feed_server.route("/loop", redirect("/loop", status=301))

    with pytest.raises(FetchError) as caught:
        fetch_local(url)

    assert caught.value.reason == "redirects"
    assert len(feed_server.requests_to("/loop")) == 6  # the first request and five redirects


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.org/feed"])
def test_redirect_to_other_scheme_is_refused(feed_server: FeedServer, location: str) -> None:
    url = feed_server.route("/sneaky", redirect(location, status=302))

    with pytest.raises(FetchError) as caught:
        fetch_local(url)

    assert caught.value.reason == "scheme"


def test_redirect_to_private_address_is_refused(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend loopback is public so the first hop passes; the redirect target resolves to 10.0.0.1.
    monkeypatch.setattr(fetch_module, "is_public_address", lambda address: address == "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"internal.example": "10.0.0.1"}))
    url = feed_server.route("/out", redirect("http://internal.example/admin", status=302))

    with pytest.raises(FetchError) as caught:
        fetch(url)

    assert caught.value.reason == "address"
    assert "10.0.0.1" in str(caught.value)


# --- HTTP errors -----------------------------------------------------------------------------------------


def test_410_is_distinguishable(feed_server: FeedServer) -> None:
    url = feed_server.route("/dead", gone())

    with pytest.raises(HTTPStatusError) as caught:
        fetch_local(url)

    assert caught.value.reason == "http"
    assert caught.value.status == 410
    assert "410" in str(caught.value)


def test_500_carries_retry_after(feed_server: FeedServer) -> None:
    url = feed_server.route("/busy", server_error(retry_after="120"))

    with pytest.raises(HTTPStatusError) as caught:
        fetch_local(url)

    assert caught.value.status == 500
    assert caught.value.retry_after == "120"
    assert caught.value.headers["retry-after"] == "120"
    assert isinstance(caught.value, FetchError)


def test_404_has_no_retry_after(feed_server: FeedServer) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        fetch_local(feed_server.url("/nowhere"))

    assert caught.value.status == 404
    assert caught.value.retry_after is None


# --- size and time limits --------------------------------------------------------------------------------


def test_slow_body_times_out(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow", slow_drip(interval=0.5))

    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_local(url, timeout=1.0)
    elapsed = time.monotonic() - started

    assert caught.value.reason == "timeout"
    # Each byte arrives well inside the per-read timeout; only the body deadline can stop this.
    assert elapsed < 2.0


def test_slow_headers_time_out(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow-head", slow_headers(interval=0.2))

    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_local(url, timeout=1.0)

    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 2.0


def test_endless_body_is_too_large(feed_server: FeedServer) -> None:
    url = feed_server.route("/endless", endless())

    with pytest.raises(FetchError) as caught:
        fetch_local(url, max_bytes=64 * 1024)

    assert caught.value.reason == "too-large"


def test_announced_length_over_cap_is_refused_before_reading(feed_server: FeedServer) -> None:
    url = feed_server.route("/huge", endless(content_length=100 * 1024 * 1024))

    with pytest.raises(FetchError) as caught:
        fetch_local(url, max_bytes=64 * 1024)

    assert caught.value.reason == "too-large"
    assert "announces" in str(caught.value)


def test_truncated_body_is_a_network_error(feed_server: FeedServer) -> None:
    def truncated(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"<rss>")

    url = feed_server.route("/cut", truncated)

    with pytest.raises(FetchError) as caught:
        fetch_local(url)

    assert caught.value.reason == "network"


# --- schemes, addresses, network -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/feed.xml", "gopher://x/", "feed.xml"]
)
def test_non_http_scheme_is_refused(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(url, allow_private=True)

    assert caught.value.reason == "scheme"


def test_loopback_is_refused_by_default(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml", serve())

    with pytest.raises(FetchError) as caught:
        fetch(url)

    assert caught.value.reason == "address"
    assert feed_server.requests == []


def test_connection_goes_to_the_vetted_address(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"feeds.example": "127.0.0.1"}))
    feed_server.route("/feed.xml", serve())

    result = fetch_local(f"http://feeds.example:{feed_server.port}/feed.xml")

    assert result.body == RSS
    assert feed_server.requests_to("/feed.xml")[0].headers["host"] == f"feeds.example:{feed_server.port}"


def test_dns_failure_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)

    with pytest.raises(FetchError) as caught:
        fetch("http://feeds.example/feed.xml")

    assert caught.value.reason == "network"


def test_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now, so the connect is refused.

    with pytest.raises(FetchError) as caught:
        fetch_local(f"http://127.0.0.1:{port}/feed.xml", timeout=2.0)

    assert caught.value.reason == "network"


def test_url_without_host_is_refused() -> None:
    with pytest.raises(FetchError) as caught:
        fetch("http:///feed.xml")

    assert caught.value.reason == "url"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "0.0.0.0",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)
