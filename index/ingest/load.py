"""Reading inputs named on the command line (a path, an http(s) URL or ``-``) and parsing each one."""

from __future__ import annotations

import sys
from pathlib import Path

from index.errors import InputError
from index.feeds.fetch import FetchOptions
from index.ingest.detect import decode_text, detect_format
from index.ingest.digest import parse_digest
from index.ingest.feed import parse_feed
from index.ingest.jsonl import parse_jsonl
from index.model import ParsedInput

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def read_input(spec: str, *, fetch_options: FetchOptions | None = None) -> tuple[bytes, str | None]:
    """Return the bytes of an input and its content type when known; raise InputError when unreadable."""
    if spec == "-":
        return sys.stdin.buffer.read(), None
    if "://" in spec:
        from index.feeds.fetch import fetch  # only inputs named by URL need the network

        options = fetch_options or FetchOptions()
        result = fetch(spec, timeout=options.timeout, max_bytes=options.max_bytes,
                       allow_private=options.allow_private)
        return result.body, result.content_type
    path = Path(spec)
    try:
        size = path.stat().st_size
        if size > DEFAULT_MAX_BYTES:
            raise InputError(f"{spec}: {size} bytes is over the {DEFAULT_MAX_BYTES} byte limit for one input")
        return path.read_bytes(), None
    except FileNotFoundError:
        raise InputError(f"{spec}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{spec}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{spec}: {exc.strerror or exc}") from None


def parse_body(body: bytes, *, name: str = "", source: str | None = None,
               content_type: str | None = None) -> ParsedInput:
    """Detect the format of a body and parse it with the one parser for that format."""
    if not body.strip():
        raise InputError("empty input")
    kind = detect_format(body, name=name)
    if kind == "feed":
        return parse_feed(body, source=source, content_type=content_type)
    text = decode_text(body)
    if kind == "digest":
        result = ParsedInput(items=list(parse_digest(text, source=source)))
        if not result.items:
            raise InputError("no '### Title:' blocks found")
        return result
    return parse_jsonl(text, source=source)


def load_input(spec: str, *, source: str | None = None,
               fetch_options: FetchOptions | None = None) -> ParsedInput:
    """Read and parse one input; raise InputError (naming the input) when it yields nothing usable."""
    body, content_type = read_input(spec, fetch_options=fetch_options)
    try:
        return parse_body(body, name=spec, source=source, content_type=content_type)
    except InputError as exc:
        raise InputError(f"{spec}: {exc}") from None
