"""Text analysis for indexing and queries: word parts, lower case, Greek letters, stop words, Snowball stems.

The analyzer is pickled into every index, so this module must stay importable under this name, and
the C stemmer object (which cannot be pickled) is rebuilt lazily after unpickling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import Stemmer
from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer, StopFilter, Token, Tokenizer
from whoosh.lang.stopwords import stoplists

# Whoosh's 127-word English list: measured here to lift nDCG@10 on SciFact over no stop list, and
# dropping the commonest words keeps posting reads on long natural-language queries short.
STOP_WORDS = frozenset(stoplists["en"])
_CACHE_LIMIT = 200_000

# A word: segments joined by hyphens ("IL-6", "COVID-19", "anti-inflammatory"). A segment is what the
# tokenizer always took for a word: word characters, with dots inside (decimals, versions, host names).
_WORD = re.compile(r"\w+(?:\.\w+)*(?:[-\u2010\u2011]\w+(?:\.\w+)*)*")
# What one word of text is to the tokenizer: highlighting looks words up by it (index.search.highlight).
WORD_PATTERN = _WORD
_SEGMENT = re.compile(r"\w+(?:\.\w+)*")
# A segment's parts: runs of letters, and runs of digits with their decimals ("ADAR1" is adar and 1).
_PARTS = re.compile(r"[^\W\d_]+|\d+(?:\.\d+)*")
_HYPHEN = re.compile(r"[-\u2010\u2011]")


class SnowballStemFilter(Filter):  # type: ignore[misc]
    """Stem tokens with PyStemmer's English Snowball stemmer, caching each word's stem."""

    is_morph = True

    def __init__(self, language: str = "english") -> None:
        self.language = language
        self._stemmer: Any = None
        self._cache: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"language": self.language}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["language"])  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SnowballStemFilter) and other.language == self.language

    def __hash__(self) -> int:
        return hash(("SnowballStemFilter", self.language))

    def stem(self, word: str) -> str:
        """Return the stem of one lower-case word."""
        cached = self._cache.get(word)
        if cached is None:
            if self._stemmer is None:
                self._stemmer = Stemmer.Stemmer(self.language)
            cached = self._stemmer.stemWord(word)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = cached
        return cached

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            if not token.stopped:
                token.text = self.stem(token.text)
            yield token


class WordPartTokenizer(Tokenizer):  # type: ignore[misc]
    """Tokenise words, plus each hyphenated compound run together and, when indexing, each word's parts.

    "IL-6" gives ``il6`` (at the position of ``il``), ``il``, ``6``, so it meets "IL6" and "IL 6".
    When indexing, "ADAR1" also gives its parts ``adar`` and ``1`` at its own position, so the query
    builder can let "ADAR1" lean towards items about ADAR (see ``index.search.querylang.add_word_parts``);
    queries leave them out so that a word never matches more items than it did. Lucene's
    WordDelimiterGraphFilter does the like. Measured on SciFact in docs/ranking-notes.md.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordPartTokenizer)

    def __hash__(self) -> int:
        return hash("WordPartTokenizer")

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        if not tokenize:
            token.original = token.text = value
            token.stopped = False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        with_parts = mode != "query"
        pos = start_pos
        for word in _WORD.finditer(value):
            text = word.group(0)
            # Most words are one segment of one part, and are their only token.
            if _PARTS.fullmatch(text) if with_parts else _HYPHEN.search(text) is None:
                pieces: Iterable[tuple[str, int, int, int]] = ((text, pos, word.start(), word.end()),)
                pos += 1
            else:
                pieces = _pieces(text, word.start(), pos, with_parts=with_parts)
                pos += len(_SEGMENT.findall(text))
            for piece, piece_pos, start, end in pieces:
                token.text = piece
                token.stopped = False
                if keeporiginal:
                    token.original = piece
                if positions:
                    token.pos = piece_pos
                if chars:
                    token.startchar = start_char + start
                    token.endchar = start_char + end
                yield token


def _pieces(word: str, base: int, pos: int, *, with_parts: bool) -> list[tuple[str, int, int, int]]:
    """Return (text, position, start, end) of the tokens of one word that starts at ``base``."""
    pieces = []
    segments = list(_SEGMENT.finditer(word))
    if len(segments) > 1:
        pieces.append(("".join(s.group(0) for s in segments), pos, base, base + len(word)))
    for segment in segments:
        text = segment.group(0)
        start = base + segment.start()
        pieces.append((text, pos, start, start + len(text)))
        if with_parts and not _PARTS.fullmatch(text):
            for part in _PARTS.finditer(text):
                pieces.append((part.group(0), pos, start + part.start(), start + part.end()))
        pos += 1
    return pieces


def word_parts(text: str) -> dict[str, list[str]]:
    """Map the index form of each word of ``text`` that has letter and digit parts to their index forms.

    ``"ADAR1 binds"`` gives ``{"adar1": ["adar", "1"]}``: what indexing added beside ``adar1``.
    """
    found: dict[str, list[str]] = {}
    for segment in _SEGMENT.finditer(text.lower()):
        word = segment.group(0)
        parts = _PARTS.findall(word)
        if word in STOP_WORDS or not (len(parts) > 1 or (parts and parts[0] != word)):
            continue
        kept = [stem_word(p) for p in parts if p not in STOP_WORDS]
        if kept:
            found[stem_word(word)] = kept
    return found


# Lower-case Greek letters by name (final sigma too): science writes "TNF-\u03b1", people type "TNF-alpha".
_GREEK_NAMES = dict(zip(
    "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03bf\u03c0\u03c1\u03c2\u03c3\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9",
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma sigma "
    "tau upsilon phi chi psi omega".split(), strict=True,
))
# A Greek letter standing alone among Latin letters and digits; Greek words are left as they are.
_LONE_GREEK = re.compile(r"(?<![\u0370-\u03ff\u1f00-\u1fff])[\u03b1-\u03c9](?![\u0370-\u03ff\u1f00-\u1fff])")
_ANY_GREEK = re.compile(r"[\u03b1-\u03c9]")


class GreekLetterFilter(Filter):  # type: ignore[misc]
    """Spell out a lone Greek letter: "\u03b1-synuclein" gives alphasynuclein, alpha, synuclein.

    Needs lower-case tokens. Character offsets stay those of the original text, so highlighting
    marks what was written.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GreekLetterFilter)

    def __hash__(self) -> int:
        return hash("GreekLetterFilter")

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            token.text = spell_greek(token.text)
            yield token


def spell_greek(text: str) -> str:
    """Return lower-case ``text`` with each lone Greek letter spelt out."""
    if _ANY_GREEK.search(text) is None:
        return text
    return _LONE_GREEK.sub(lambda m: _GREEK_NAMES[m.group(0)], text)


class StopWordFilter(StopFilter):  # type: ignore[misc]
    """Whoosh's StopFilter, except that tokens sharing a position keep sharing it when renumbered.

    Whoosh renumbers every kept token one past the last, which would push a word's parts one
    position past their run-together form and break phrase matching on them.
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        pos: int | None = None
        last: int | None = None
        for token in tokens:
            text = token.text
            kept = len(text) >= self.min and (self.max is None or len(text) <= self.max)
            if kept and text not in self.stops:
                if self.renumber and token.positions:
                    if pos is None:
                        pos = token.pos
                    elif token.pos != last:
                        pos += 1
                    last = token.pos
                    token.pos = pos
                token.stopped = False
                yield token
            elif not token.removestops:
                token.stopped = True
                yield token


# One kept token of analysed text: (index form before stemming, stemmed index form, position).
IndexToken = tuple[str, str, int]
# Each distinct word as written -> (lower-cased form with Greek spelt out, its stem), or None if a stop word.
_FORMS: dict[str, tuple[str, str] | None] = {}


def index_tokens(text: str) -> tuple[list[IndexToken], int]:
    """Return the tokens ``text_analyzer()`` keeps when indexing ``text``, and the tokenizer's end position.

    The same tokens, positions and stems as the filter chain, in one loop: the chain runs five
    generators per token and a regex per word, and indexing spends most of its analysis time there.
    Each distinct word's lower-case, Greek, stop and stem steps are done once and remembered.
    tests/index/test_index_terms.py compares the results with the chain's.
    """
    kept: list[IndexToken] = []
    forms = _FORMS
    pos = 0
    out: int | None = None  # the renumbered position, as StopWordFilter gives it
    last = -1
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word.isalpha() or _PARTS.fullmatch(word):
            pieces: Iterable[tuple[str, int, int, int]] = ((word, pos, 0, 0),)
            pos += 1
        else:
            pieces = _pieces(word, 0, pos, with_parts=True)
            pos += len(_SEGMENT.findall(word))
        for piece, piece_pos, _, _ in pieces:
            if piece in forms:
                form = forms[piece]
            else:
                lower = spell_greek(piece.lower())
                form = None if lower in STOP_WORDS else (lower, _STEMMER.stem(lower))
                if len(forms) >= _CACHE_LIMIT:
                    forms.clear()
                forms[piece] = form
            if form is None:
                continue
            if out is None:
                out = piece_pos
            elif piece_pos != last:
                out += 1
            last = piece_pos
            kept.append((form[0], form[1], out))
    return kept, pos


def text_analyzer() -> Any:
    """Return the analyzer of the title, summary and combined content fields."""
    return (
        WordPartTokenizer()
        | LowercaseFilter()
        | GreekLetterFilter()
        | StopWordFilter(stoplist=STOP_WORDS, minsize=1)
        | SnowballStemFilter()
    )


def name_analyzer() -> Any:
    """Return the analyzer of author names: words lower-cased, nothing stemmed or stopped."""
    return RegexTokenizer(r"\w+(?:\.?\w+)*") | LowercaseFilter()


_STEMMER = SnowballStemFilter()


def stem_word(word: str) -> str:
    """Return the index form of one word (lower-cased and stemmed), as the text analyzer makes it."""
    return _STEMMER.stem(spell_greek(word.lower()))
