"""Snippets and highlights: plain text around the best match, and HTML where the only tags are ``<mark>``.

Item text is untrusted; every character of it that reaches HTML goes through :func:`html.escape`.
"""

from __future__ import annotations

from html import escape
from typing import Any

SNIPPET_CHARS = 240
# Only the start of a long summary is analysed for the snippet: analysis cost follows the text length
# (MEASURED.md), and the best window is nearly always early in a feed summary.
ANALYSE_CHARS = 4000


def match_spans(text: str, terms: set[str], analyzer: Any) -> list[tuple[int, int]]:
    """Return the (start, end) character spans of the words in ``text`` whose index form is in ``terms``."""
    if not terms or not text:
        return []
    return [
        (token.startchar, token.endchar)
        for token in analyzer(text, chars=True, mode="query")
        if token.text in terms
    ]


def mark(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """Return ``text[start:end]`` as escaped HTML with each span wrapped in ``<mark>``."""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e in spans:
        if e <= start or s >= end or s < pos:
            continue
        out.append(escape(text[pos:s]))
        out.append("<mark>" + escape(text[s:e]) + "</mark>")
        pos = e
    out.append(escape(text[pos:end]))
    return "".join(out)


def best_window(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> tuple[int, int]:
    """Return the window of about ``width`` characters holding the most matches, cut at word boundaries."""
    if len(text) <= width:
        return 0, len(text)
    best_start, best_count = 0, -1
    for i, (s, _) in enumerate(spans):
        count = sum(1 for t, _ in spans[i:] if t < s + width)
        if count > best_count:
            best_start, best_count = s, count
    start = max(0, best_start - width // 4) if spans else 0
    if start:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    return start, end


def snippet_and_highlight(text: str, terms: set[str], analyzer: Any) -> tuple[str, str]:
    """Return (plain snippet, highlighted HTML fragment) of the same window of a summary."""
    spans = match_spans(text[:ANALYSE_CHARS], terms, analyzer)
    start, end = best_window(text, spans)
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    plain = prefix + text[start:end].strip() + suffix
    html = escape(prefix) + mark(text, spans, start, end).strip() + escape(suffix)
    return plain, html
