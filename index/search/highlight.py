"""Snippets and highlights: plain text around the best match, and HTML where the only tags are ``<mark>``.

Item text is untrusted; every character of it that reaches HTML goes through :func:`html.escape`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from whoosh.analysis import CompositeAnalyzer, LowercaseFilter, StopFilter, Token

from index.search.analysis import WORD_PATTERN, GreekLetterFilter, SnowballStemFilter, WordPartTokenizer

SNIPPET_CHARS = 240
# Only the start of a long summary is analysed for the snippet: analysis cost follows the text length
# (docs/speed-notes.md), and the best window is nearly always early in a feed summary.
ANALYSE_CHARS = 4000
# Filters that turn one token into at most one, looking at nothing but its text: behind a tokenizer,
# a chain of only these gives every word one index form, which can be worked out once per word.
_WORDWISE_FILTERS = (LowercaseFilter, GreekLetterFilter, StopFilter, SnowballStemFilter)
_FORMS_LIMIT = 100_000


class _WordForms:
    """An analyzer split into its tokenizer and a memo of each word's index form (None when stopped).

    Running the filter chain once per distinct word instead of once per token cuts the cost of a
    page's snippets and highlights by about a sixth (docs/speed-notes.md); the memo depends on the
    analyzer alone, never on a query or a document.
    """

    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer
        self.tokenizer = analyzer.items[0]
        self.filters = list(analyzer.items[1:])
        self.forms: dict[str, str | None] = {}
        # With our own tokenizer a word's tokens depend on the word alone, so they are memoised too.
        self.by_word = type(self.tokenizer) is WordPartTokenizer
        self.pieces: dict[str, tuple[tuple[int, int, str], ...]] = {}

    def form(self, word: str) -> str | None:
        form = self.forms.get(word, "")
        if form == "":
            token = Token(positions=False, chars=False, removestops=True, mode="query")
            token.text = word
            token.boost = 1.0
            token.stopped = False
            stream: Any = iter((token,))
            for item in self.filters:
                stream = item(stream)
            out = next(stream, None)
            form = out.text if out is not None and not out.stopped else None
            if len(self.forms) >= _FORMS_LIMIT:
                self.forms.clear()
            self.forms[word] = form
        return form

    def word_pieces(self, word: str) -> tuple[tuple[int, int, str], ...]:
        """Return (start, end, index form) of each token of one word that is not a stop word."""
        pieces = self.pieces.get(word)
        if pieces is None:
            found = []
            for token in self.tokenizer(word, chars=True, mode="query"):
                form = self.form(token.text)
                if form is not None:
                    found.append((token.startchar, token.endchar, form))
            pieces = tuple(found)
            if len(self.pieces) >= _FORMS_LIMIT:
                self.pieces.clear()
            self.pieces[word] = pieces
        return pieces


_split: dict[int, _WordForms] = {}


def _word_forms(analyzer: Any) -> _WordForms | None:
    """Return the split form of ``analyzer``, or None when its filters are not all word-by-word."""
    known = _split.get(id(analyzer))
    if known is not None and known.analyzer is analyzer:
        return known
    if not isinstance(analyzer, CompositeAnalyzer) or not all(
        type(item) in _WORDWISE_FILTERS or isinstance(item, StopFilter) for item in analyzer.items[1:]
    ):
        return None
    if len(_split) > 16:  # analyzers come from opened indexes; old ones must not pile up
        _split.clear()
    known = _split[id(analyzer)] = _WordForms(analyzer)
    return known


def match_spans(text: str, terms: set[str], analyzer: Any) -> list[tuple[int, int]]:
    """Return the (start, end) character spans of the words in ``text`` whose index form is in ``terms``."""
    if not terms or not text:
        return []
    split = _word_forms(analyzer)
    if split is None:
        return [
            (token.startchar, token.endchar)
            for token in analyzer(text, chars=True, mode="query")
            if token.text in terms
        ]
    if split.by_word:
        memo = split.pieces
        spans = []
        for match in WORD_PATTERN.finditer(text):
            word = match.group(0)
            pieces = memo.get(word)
            if pieces is None:
                pieces = split.word_pieces(word)
            base = match.start()
            for start, end, index_form in pieces:
                if index_form in terms:
                    spans.append((base + start, base + end))
        return spans
    forms = split.forms
    form = split.form
    spans = []
    for token in split.tokenizer(text, chars=True, mode="query"):
        word = token.text
        found = forms.get(word, "")
        if found == "":
            found = form(word)
        if found is not None and found in terms:
            spans.append((token.startchar, token.endchar))
    return spans


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
    return window_of(text, match_spans(text[:ANALYSE_CHARS], terms, analyzer))


def window_of(text: str, spans: list[tuple[int, int]]) -> tuple[str, str]:
    """Return (plain snippet, highlighted HTML fragment) of the best window of ``text`` for ``spans``."""
    start, end = best_window(text, spans)
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    plain = prefix + text[start:end].strip() + suffix
    html = escape(prefix) + mark(text, spans, start, end).strip() + escape(suffix)
    return plain, html
