"""HTTP(S) fetching of feeds: one guarded GET, with every way it can fail classified as a FetchError.

A failed fetch raises :class:`~index.errors.FetchError` whose ``reason`` is one of:

    url        the URL has no host or an unusable port
    scheme     not http or https (also checked on every redirect hop)
    address    the host resolves to a loopback, private, link-local, multicast, reserved or unspecified
               address and ``allow_private`` is false (also checked on every redirect hop)
    network    DNS failure, refused or reset connection, TLS failure, truncated body
    timeout    connecting, one read, the status line and headers, or the body took over ``timeout``
    too-large  the body (raw or decompressed) is bigger than ``max_bytes``
    redirects  more than ``max_redirects`` redirects
    decode     an unknown or corrupt Content-Encoding
    http       any other status; raised as :class:`HTTPStatusError`, with ``status`` set
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urljoin, urlsplit

from index import __version__
from index.errors import FetchError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DEFAULT_USER_AGENT = f"feedsift/{__version__} (+https://github.com/feedsift/feedsift)"

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, text/plain;q=0.5, */*;q=0.1"
)
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
# Characters left alone when re-quoting a path: http.client refuses non-ASCII request targets, but an
# already-encoded URL must not be double-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# An address family and the socket address getaddrinfo paired with it.
_Address = tuple[socket.AddressFamily, tuple[Any, ...]]


# How long each phase of a fetch may take (connect, headers, body) and how large a body may be, before
# and after decompression: the one set of defaults the CLI, the poller and the API's settings use.
FETCH_TIMEOUT = 10.0
FETCH_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class FetchOptions:
    """How URLs are fetched: the limits, and whether loopback and private addresses may be reached."""

    timeout: float = FETCH_TIMEOUT
    max_bytes: int = FETCH_MAX_BYTES
    allow_private: bool = False


@dataclass(frozen=True)
class FetchResult:
    """The outcome of a successful fetch: a 2xx with its body, or a 304 with an empty one.

    ``etag`` and ``last_modified`` are the validators to send next time; a 304 that omits them keeps
    the ones the caller sent. ``permanent_redirect`` is where the feed now lives if every redirect
    followed from the start was permanent (301/308), taken up to the first temporary one.
    """

    url: str
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    headers: dict[str, str]
    permanent_redirect: str | None


class HTTPStatusError(FetchError):
    """The server answered with a status we do not accept; ``retry_after`` echoes its Retry-After."""

    def __init__(
        self, message: str, *, status: int, retry_after: str | None, headers: Mapping[str, str]
    ) -> None:
        super().__init__(message, reason="http", status=status)
        self.retry_after = retry_after
        self.headers = dict(headers)


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    request_path: str


class _Deadline:
    """A wall-clock limit shared by a connection and its socket, restarted for each phase of a request."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._at = time.monotonic() + timeout

    def restart(self) -> None:
        self._at = time.monotonic() + self.timeout

    def bound(self, sock: socket.socket) -> None:
        """Shrink ``sock``'s timeout so the next receive cannot outlast the deadline."""
        remaining = self._at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete answer within {self.timeout:g}s")
        sock.settimeout(min(self.timeout, remaining))


# http.client reads lines and bodies through a buffered file that loops over recv_into, so a socket
# timeout alone bounds each receive but not a server that drips one byte at a time; these sockets check
# the deadline before every receive instead.
class _DeadlineSocket(socket.socket):
    deadline: _Deadline | None = None

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        if self.deadline is not None:
            self.deadline.bound(self)
        return super().recv_into(buffer, nbytes, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    deadline: _Deadline | None = None

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None, flags: int = 0) -> int:
        if self.deadline is not None:
            self.deadline.bound(self)
        return super().recv_into(buffer, nbytes, flags)


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection that dials only the addresses we already vetted, under a deadline.

    Letting http.client resolve the name again would reopen the check to DNS rebinding, where a second
    lookup answers with an internal address.
    """

    def __init__(self, target: _Target, addresses: list[_Address], timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.deadline = _Deadline(timeout)
        self._addresses = addresses
        self._tls: ssl.SSLContext | None = None
        if target.scheme == "https":
            self._tls = ssl.create_default_context()
            self._tls.sslsocket_class = _DeadlineSSLSocket
            # Only changes whether the Host header carries the port.
            self.default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        last_error: OSError | None = None
        for family, sockaddr in self._addresses:
            sock: _DeadlineSocket | _DeadlineSSLSocket = _DeadlineSocket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
                if self._tls is not None:
                    sock = cast(_DeadlineSSLSocket, self._tls.wrap_socket(sock, server_hostname=self.host))
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            self.deadline.restart()
            sock.deadline = self.deadline
            self.sock = sock
            return
        assert last_error is not None  # _resolve never returns an empty list
        raise last_error


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = FETCH_TIMEOUT,
    max_bytes: int = FETCH_MAX_BYTES,
    max_redirects: int = 5,
    allow_private: bool = False,
    user_agent: str | None = None,
) -> FetchResult:
    """GET ``url`` and return its body, following up to ``max_redirects`` redirects.

    On each hop ``timeout`` bounds the connect, each read, the status line and headers together, and
    the whole body, so a server dripping bytes cannot hold a fetch for long. ``max_bytes`` caps the body
    both as received and after decompression. Proxies from the environment are not used: the address
    check would then vet the proxy instead of the feed's host.
    """
    headers = {
        "User-Agent": user_agent or DEFAULT_USER_AGENT,
        "Accept": _ACCEPT,
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified

    current = url
    redirects = 0
    permanent_redirect: str | None = None
    all_permanent = True
    while True:
        target = _parse_target(current)
        addresses = _resolve(target, allow_private=allow_private)
        conn = _PinnedConnection(target, addresses, timeout)
        response: http.client.HTTPResponse | None = None
        try:
            response = _send(conn, target, headers)
            status = response.status
            response_headers = _collect_headers(response)

            if status in _REDIRECTS:
                location = response_headers.get("location")
                if not location:
                    raise _status_error(current, response, response_headers, "without a Location header")
                if redirects >= max_redirects:
                    raise FetchError(
                        f"{url}: more than {max_redirects} redirects (last to {location})", reason="redirects"
                    )
                redirects += 1
                current = urljoin(current, location)
                all_permanent = all_permanent and status in _PERMANENT
                if all_permanent:
                    permanent_redirect = current
                continue

            if status == 304:
                body = b""
            elif 200 <= status < 300:
                body = _read_body(conn, response, response_headers, target.url, timeout, max_bytes)
            else:
                raise _status_error(current, response, response_headers)

            return FetchResult(
                url=current,
                status=status,
                body=body,
                etag=response_headers.get("etag", etag if status == 304 else None),
                last_modified=response_headers.get("last-modified", last_modified if status == 304 else None),
                content_type=response_headers.get("content-type"),
                headers=response_headers,
                permanent_redirect=permanent_redirect,
            )
        finally:
            # http.client hands a closing connection's socket over to the response, so both are closed.
            if response is not None:
                response.close()
            conn.close()


def post(url: str, body: bytes, *, headers: Mapping[str, str], timeout: float = 10.0,
         allow_private: bool = False) -> int:
    """POST ``body`` once and return the status (the answer's body is never read), or raise FetchError.

    The guard of :func:`fetch` (http(s) only, vetted addresses, ``timeout`` per phase), but a redirect is
    returned, never followed: a POST must not be led elsewhere, least of all to an internal address.
    """
    target = _parse_target(url)
    conn = _PinnedConnection(target, _resolve(target, allow_private=allow_private), timeout)
    sent = {"User-Agent": DEFAULT_USER_AGENT, "Connection": "close", **headers}
    try:
        response = _send(conn, target, sent, body)
        response.close()
        return response.status
    finally:
        conn.close()


def vet_url(url: str, *, allow_private: bool) -> None:
    """Raise FetchError unless ``url`` is http(s) with a host that resolves to addresses we may reach."""
    _resolve(_parse_target(url), allow_private=allow_private)


def _parse_target(url: str) -> _Target:
    """Split ``url`` into what a request needs, refusing schemes other than http and https."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"{url}: not a usable URL ({exc})", reason="url") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs can be fetched", reason="scheme")
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host", reason="url")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise FetchError(f"{url}: the host name is not valid ({exc})", reason="url") from exc
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    default_port = http.client.HTTPS_PORT if scheme == "https" else http.client.HTTP_PORT
    return _Target(url=url, scheme=scheme, host=host, port=port or default_port, request_path=path)


def _resolve(target: _Target, *, allow_private: bool) -> list[_Address]:
    """Look up the target's host and return its addresses, refusing non-public ones unless allowed."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"{target.url}: cannot resolve {target.host} ({exc})", reason="network") from exc
    if not infos:
        raise FetchError(f"{target.url}: {target.host} has no addresses", reason="network")
    addresses: list[_Address] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        # A name with any internal address is refused outright: picking only the public ones would let
        # a later connection attempt (or another client) reach the internal one.
        if not allow_private and not is_public_address(str(sockaddr[0])):
            raise FetchError(
                f"{target.url}: {target.host} resolves to the non-public address {sockaddr[0]}",
                reason="address",
            )
        addresses.append((family, sockaddr))
    return addresses


def is_public_address(address: str) -> bool:
    """Tell whether an IP address is one a feed may live on: globally routable and unicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone such as %eth0
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # Python before 3.13 does not look through ::ffff:127.0.0.1 when classifying it.
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _send(conn: _PinnedConnection, target: _Target, headers: Mapping[str, str],
          body: bytes | None = None) -> http.client.HTTPResponse:
    """Send the GET (POST when there is a body), read the status line and headers, classify failures."""
    try:
        conn.request("GET" if body is None else "POST", target.request_path, body=body, headers=dict(headers))
        return conn.getresponse()
    except TimeoutError as exc:
        raise FetchError(f"{target.url}: no answer within the timeout", reason="timeout") from exc
    except ssl.SSLError as exc:
        raise FetchError(f"{target.url}: TLS failed ({exc})", reason="network") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"{target.url}: connection failed ({exc!r})", reason="network") from exc


def _collect_headers(response: http.client.HTTPResponse) -> dict[str, str]:
    """Return the response headers keyed by lower-case name, repeated headers joined by commas."""
    collected: dict[str, str] = {}
    for name, value in response.getheaders():
        key = name.lower()
        collected[key] = f"{collected[key]}, {value}" if key in collected else value
    return collected


def _status_error(
    url: str, response: http.client.HTTPResponse, headers: Mapping[str, str], detail: str = ""
) -> HTTPStatusError:
    """Build the error for a status we do not accept."""
    message = f"{url}: the server answered {response.status} {response.reason}".rstrip()
    if response.status == 410:
        message += " (the feed is gone for good)"
    if detail:
        message += f" {detail}"
    return HTTPStatusError(
        message, status=response.status, retry_after=headers.get("retry-after"), headers=headers
    )


def _read_body(
    conn: _PinnedConnection,
    response: http.client.HTTPResponse,
    headers: Mapping[str, str],
    url: str,
    timeout: float,
    max_bytes: int,
) -> bytes:
    """Read and decompress the body in chunks, stopping as soon as it is too big or too slow."""
    declared = _declared_length(headers)
    if declared is not None and declared > max_bytes:
        raise FetchError(
            f"{url}: the body announces {declared} bytes, over the limit of {max_bytes}", reason="too-large"
        )
    decoder = _make_decoder(headers.get("content-encoding", ""), url)
    conn.deadline.restart()
    received = 0
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = response.read1(_CHUNK)
        except TimeoutError as exc:
            raise FetchError(f"{url}: the body did not arrive within {timeout:g}s", reason="timeout") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"{url}: the connection broke mid-body ({exc!r})", reason="network") from exc
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(f"{url}: the body is over the limit of {max_bytes} bytes", reason="too-large")
        data = decoder.feed(chunk, max_bytes - size)
        size += len(data)
        if size > max_bytes:
            raise FetchError(
                f"{url}: the body decompresses to over the limit of {max_bytes} bytes", reason="too-large"
            )
        parts.append(data)
    if declared is not None and received < declared:
        raise FetchError(f"{url}: the body ended after {received} of {declared} bytes", reason="network")
    tail = decoder.finish()
    if size + len(tail) > max_bytes:
        raise FetchError(
            f"{url}: the body decompresses to over the limit of {max_bytes} bytes", reason="too-large"
        )
    parts.append(tail)
    return b"".join(parts)


def _declared_length(headers: Mapping[str, str]) -> int | None:
    """Return the Content-Length as a number, or None when it is absent or unusable."""
    try:
        length = int(headers.get("content-length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


class _Decoder:
    """Undo a Content-Encoding incrementally, never producing more than the caller can still accept."""

    def __init__(self, encoding: str, url: str) -> None:
        self._url = url
        self._encoding = encoding
        self._zlib: zlib._Decompress | None = None
        # RFC 9110 deflate is zlib-wrapped, but some servers send a raw stream: the first two bytes tell
        # which, so they are held back until both have arrived.
        self._deflate_head: bytes | None = b"" if encoding == "deflate" else None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Decode ``chunk``; at most ``room + 1`` bytes come back, enough to tell the cap was passed."""
        if self._deflate_head is not None:
            chunk = self._deflate_head + chunk
            if len(chunk) < 2:
                self._deflate_head = chunk
                return b""
            self._deflate_head = None
            wbits = zlib.MAX_WBITS if _looks_like_zlib(chunk) else -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits=wbits)
        if self._zlib is None:
            return chunk
        try:
            # Bounding the output is what defeats a gzip bomb: a few KiB in cannot become gigabytes out.
            return self._zlib.decompress(chunk, max(room, 0) + 1)
        except zlib.error as exc:
            raise FetchError(f"{self._url}: corrupt {self._encoding} body ({exc})", reason="decode") from exc

    def finish(self) -> bytes:
        """Return what the decompressor still holds, refusing a stream that stopped mid-way."""
        if self._deflate_head:
            raise FetchError(f"{self._url}: the {self._encoding} body is truncated", reason="decode")
        if self._zlib is None:
            return b""
        try:
            tail = self._zlib.flush()
        except zlib.error as exc:
            raise FetchError(f"{self._url}: corrupt {self._encoding} body ({exc})", reason="decode") from exc
        if not self._zlib.eof:
            raise FetchError(f"{self._url}: the {self._encoding} body is truncated", reason="decode")
        return tail


def _make_decoder(content_encoding: str, url: str) -> _Decoder:
    """Return a decoder for the response's Content-Encoding, refusing ones we did not ask for."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity", "gzip", "x-gzip", "deflate"):
        return _Decoder(encoding, url)
    raise FetchError(f"{url}: unsupported Content-Encoding {content_encoding!r}", reason="decode")


def _looks_like_zlib(data: bytes) -> bool:
    """Tell a zlib header (RFC 1950) from the start of a raw deflate stream."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
