"""Format detection: which parser a body of bytes belongs to (feed XML, digest text or JSON Lines)."""

from __future__ import annotations

from typing import Literal

from index.ingest.digest import looks_like_digest
from index.ingest.jsonl import looks_like_jsonl

Format = Literal["feed", "digest", "jsonl"]


def decode_text(body: bytes) -> str:
    """Decode a text-format body: UTF-8 (with or without BOM), falling back to Latin-1 so nothing is lost."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def detect_format(body: bytes, *, name: str = "") -> Format:
    """Return the format of a body, by content first and by file name only to break a tie.

    XML and HTML go to feedparser, which knows best whether they are a feed (and reports when not).
    """
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "feed"
    text = decode_text(body[:65536])
    if looks_like_digest(text):
        return "digest"
    if looks_like_jsonl(text) or name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".txt"):
        return "digest"
    return "feed"
