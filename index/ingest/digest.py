"""The plain-text digest format (``### Title:`` / ``Link:`` / ``Summary:`` blocks) parsed into items."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from index.ingest.normalise import make_item
from index.model import FeedItem

_TITLE = re.compile(r"^###\s*Title:\s?(.*)$")
_LINK = re.compile(r"^Link:\s*(.*)$")
_SUMMARY = re.compile(r"^Summary:\s?(.*)$")
_SEPARATOR = re.compile(r"^\s*-\s*$")


@dataclass
class _Block:
    line: int
    title: list[str]
    link: str = ""
    summary: list[str] | None = None


def looks_like_digest(text: str) -> bool:
    """Return True when the text has at least one ``### Title:`` line followed by a ``Link:`` line."""
    return bool(re.search(r"^###\s*Title:.*\n(?:[ \t]+\S.*\n)*Link:", text, re.MULTILINE))


def parse_digest(text: str, *, source: str | None = None) -> Iterator[FeedItem]:
    """Yield one item per ``### Title:`` block.

    A title continues on following indented lines until ``Link:``; a summary runs until the next
    block's title or a `` - `` separator line, so neither is cut at a wrap nor run into the next item.
    Digest items name no feed, so their source is the link's host unless ``source`` overrides it.
    """
    for block in _blocks(text):
        yield make_item(
            title=" ".join(part.strip() for part in block.title),
            link=block.link,
            summary_html="\n".join(block.summary or []),
            source=source,
        )


def _blocks(text: str) -> Iterator[_Block]:
    current: _Block | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        title = _TITLE.match(line)
        if title:
            if current is not None:
                yield current
            current = _Block(line=number, title=[title.group(1)])
            continue
        if current is None:
            continue
        lines = current.summary
        if lines is None:
            link = _LINK.match(line)
            summary = _SUMMARY.match(line)
            if link:
                current.link = link.group(1).strip()
            elif summary:
                current.summary = [summary.group(1)]
            elif line.strip() and not current.link and not _SEPARATOR.match(line):
                current.title.append(line)
            continue
        if _SEPARATOR.match(line):
            yield current
            current = None
            continue
        lines.append(line)
    if current is not None:
        yield current
