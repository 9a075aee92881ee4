"""A local HTTP server for fetch tests: a routing table of canned behaviours, and a log of every request.

Use the ``feed_server`` fixture by importing it into a test module::

    from tests.support.feedserver import feed_server  # noqa: F401

then ``feed_server.route("/feed.xml", serve(b"<rss/>"))`` and fetch ``feed_server.url("/feed.xml")``.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

# A behaviour answers one request; it gets the handler (to write the response) and the server's stop
# event, which endless or slow behaviours must watch so the fixture can tear down promptly.
Behaviour = Callable[[BaseHTTPRequestHandler, threading.Event], None]

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<rss version="2.0"><channel><title>Test feed</title><link>http://example.org/</link>'
    b"<item><title>First</title><link>http://example.org/1</link><description>One</description></item>"
    b"</channel></rss>\n"
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]


class FeedServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a free port, answering from a routing table."""

    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        # Handler threads are joined by server_close(), so a test cannot leak a thread or a socket.
        self._httpd.daemon_threads = False
        self._httpd.block_on_close = True
        # A short poll interval keeps shutdown(), and so every test's teardown, fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="feed-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> str:
        """Answer requests for ``path`` with ``behaviour``; returns the path's URL."""
        self.routes[path] = behaviour
        return self.url(path)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Return the recorded requests for ``path``, oldest first."""
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, end slow behaviours, close every socket and join every thread."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            path = urlsplit(self.path).path
            server.record(
                RecordedRequest(
                    method=self.command,
                    path=path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                )
            )
            behaviour = server.routes.get(path)
            if behaviour is None:
                send(self, 404, b"not found", {"Content-Type": "text/plain"})
                return
            try:
                behaviour(self, server.stopping)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, which is what many tests provoke

        def log_message(self, format: str, *args: object) -> None:
            pass  # keeps pytest output clean; the request log is on the FeedServer

    return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """Yield a running FeedServer, shut down and fully closed at teardown."""
    with FeedServer() as server:
        yield server


def send(
    handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> None:
    """Write a complete response with a Content-Length."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def serve(
    body: bytes = RSS, *, content_type: str = "application/rss+xml", headers: Mapping[str, str] | None = None
) -> Behaviour:
    """Answer 200 with ``body`` and the given headers."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        send(handler, 200, body, {"Content-Type": content_type, **(headers or {})})

    return behaviour


def serve_with_etag(body: bytes = RSS, *, etag: str = '"v1"') -> Behaviour:
    """Answer 200 with an ETag, or 304 when If-None-Match carries it."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        sent = handler.headers.get("If-None-Match", "")
        if etag in [tag.strip() for tag in sent.split(",")]:
            send(handler, 304, headers={"ETag": etag})
        else:
            send(handler, 200, body, {"Content-Type": "application/rss+xml", "ETag": etag})

    return behaviour


def serve_with_last_modified(
    body: bytes = RSS, *, last_modified: str = "Wed, 01 May 2024 10:00:00 GMT"
) -> Behaviour:
    """Answer 200 with Last-Modified, or 304 when If-Modified-Since repeats it."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        if handler.headers.get("If-Modified-Since") == last_modified:
            send(handler, 304)
        else:
            send(handler, 200, body, {"Content-Type": "application/rss+xml", "Last-Modified": last_modified})

    return behaviour


def redirect(location: str, *, status: int = 301) -> Behaviour:
    """Answer a redirect (301, 302, 307 or 308) to ``location``, a path or an absolute URL."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        send(handler, status, headers={"Location": location})

    return behaviour


def gone() -> Behaviour:
    """Answer 410 Gone."""
    return status_only(410)


def server_error(*, retry_after: str = "120") -> Behaviour:
    """Answer 500 with a Retry-After header."""
    return status_only(500, headers={"Retry-After": retry_after})


def status_only(status: int, *, headers: Mapping[str, str] | None = None) -> Behaviour:
    """Answer ``status`` with a short text body."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        send(handler, status, f"status {status}".encode(), {"Content-Type": "text/plain", **(headers or {})})

    return behaviour


def slow_drip(body: bytes = RSS, *, interval: float = 0.5) -> Behaviour:
    """Announce the whole body, then send it one byte every ``interval`` seconds."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for index in range(len(body)):
            handler.wfile.write(body[index : index + 1])
            handler.wfile.flush()
            if stopping.wait(interval):
                return

    return behaviour


def slow_headers(*, interval: float = 0.5) -> Behaviour:
    """Send the status line and headers one byte every ``interval`` seconds, never finishing them."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        head = b"HTTP/1.0 200 OK\r\n" + b"X-Padding: " + b"x" * 1000 + b"\r\n"
        for index in range(len(head)):
            handler.wfile.write(head[index : index + 1])
            if stopping.wait(interval):
                return

    return behaviour


def endless(*, chunk: bytes = b"<item>" + b"x" * 1018, content_length: int | None = None) -> Behaviour:
    """Send a body that never ends, optionally announcing a (false) Content-Length."""

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        if content_length is not None:
            handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        while not stopping.is_set():
            handler.wfile.write(chunk)

    return behaviour


def gzipped(body: bytes = RSS) -> Behaviour:
    """Answer 200 with ``body`` gzip-compressed and Content-Encoding: gzip."""
    return serve(gzip.compress(body), headers={"Content-Encoding": "gzip"})


def deflated(body: bytes = RSS, *, raw: bool = False) -> Behaviour:
    """Answer 200 with ``body`` deflate-compressed: zlib-wrapped, or ``raw`` as some servers send it."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return serve(compressor.compress(body) + compressor.flush(), headers={"Content-Encoding": "deflate"})


def latin1_feed() -> Behaviour:
    """Answer an RSS body encoded in latin-1 with no XML declaration, the charset only in Content-Type."""
    body = (
        '<rss version="2.0"><channel><title>Caf\u00e9 cr\u00e8me</title><link>http://example.org/</link>'
        "<item><title>D\u00e9j\u00e0 vu</title><link>http://example.org/1</link></item></channel></rss>"
    ).encode("latin-1")
    return serve(body, content_type="application/rss+xml; charset=ISO-8859-1")


def html_page() -> Behaviour:
    """Answer an HTML page where a feed was expected, as a misconfigured site or a login wall does."""
    body = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Not a feed</p></body></html>"
    return serve(body, content_type="text/html; charset=utf-8")


def rss_feed(*items: tuple[str, str, str], title: str = "Test feed", ttl: int | None = None) -> bytes:
    """Return an RSS 2.0 document (UTF-8) with one item per (guid, title, description)."""
    parts = [f"<title>{title}</title><link>http://example.org/</link>"]
    if ttl is not None:
        parts.append(f"<ttl>{ttl}</ttl>")
    for guid, item_title, description in items:
        parts.append(
            f'<item><guid isPermaLink="false">{guid}</guid><title>{item_title}</title>'
            f"<link>http://example.org/{guid}</link><description>{description}</description></item>"
        )
    channel = "".join(parts)
    head = '<?xml version="1.0" encoding="utf-8"?>\n'
    return f'{head}<rss version="2.0"><channel>{channel}</channel></rss>\n'.encode()


def serve_conditional(
    body: bytes = RSS,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Behaviour:
    """Answer 200 with the given validators, or 304 (with ``headers`` too) when the request repeats them.

    If-None-Match is checked first and, when sent, decides alone, as RFC 9110 asks of a server.
    """

    def behaviour(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        validators = {"ETag": etag, "Last-Modified": last_modified}
        extra = {name: value for name, value in validators.items() if value} | dict(headers or {})
        if_none_match = handler.headers.get("If-None-Match")
        if if_none_match is not None:
            fresh = etag is not None and etag in [tag.strip() for tag in if_none_match.split(",")]
        else:
            fresh = last_modified is not None and handler.headers.get("If-Modified-Since") == last_modified
        if fresh:
            send(handler, 304, headers=extra)
        else:
            send(handler, 200, body, {"Content-Type": "application/rss+xml", **extra})

    return behaviour
