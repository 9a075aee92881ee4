"""What both engines share when they suggest: the words of typed text, the sources they name, and
the bare query words a did-you-mean may correct."""

from __future__ import annotations

import re
from collections.abc import Callable

# Did-you-mean's work budget, the same for both engines: it looks up at most this many unknown words
# of a query, each of at most this many letters (longer ones are left as typed). A 1,000-letter word
# cost Whoosh's own suggester 17 s.
MAX_CORRECTED_WORDS = 8
MAX_CORRECTED_CHARS = 24

# A typed word: the runs of word characters a person types, compared case-insensitively.
WORD = re.compile(r"\w+")
# A bare query word did-you-mean may correct: three letters or more, not part of a field name, a
# prefix, a fuzzy term or a phrase (those say exactly what the person meant).
_BARE_WORD = re.compile(r"(?<![\w:*~\"])[A-Za-z]{3,}(?![\w:*~])")
_OPERATORS = frozenset({"AND", "OR", "NOT"})


def words_of(text: str) -> tuple[list[str], bool]:
    """Return the typed words, lower-cased, and whether the last one may still be a prefix."""
    words = WORD.findall(text.casefold())
    return words, bool(words) and not text[-1:].isspace()


def source_matches(name: str, words: list[str], last_is_prefix: bool) -> bool:
    """Tell whether a source's name holds every typed word, the last perhaps as the start of a word."""
    name_words = WORD.findall(name.casefold())
    head, last = words[:-1], words[-1]
    return all(w in name_words for w in head) and any(
        nw.startswith(last) if last_is_prefix else nw == last for nw in name_words
    )


def bare_words(text: str) -> list[str]:
    """Return the query's bare words, each once, in order (operators left out)."""
    return list(dict.fromkeys(m.group(0) for m in _BARE_WORD.finditer(text) if m.group(0) not in _OPERATORS))


def correctable(words: list[str], is_known: Callable[[str], bool]) -> list[str]:
    """Return the words did-you-mean looks up: unknown ones of a plausible length, the first few only."""
    picked: list[str] = []
    for word in words:
        if len(picked) >= MAX_CORRECTED_WORDS:
            break
        if len(word) <= MAX_CORRECTED_CHARS and not is_known(word):
            picked.append(word)
    return picked


def with_corrections(text: str, fixes: dict[str, str]) -> str | None:
    """Return the query with each corrected bare word replaced, or None when nothing was corrected."""
    if not fixes:
        return None
    return _BARE_WORD.sub(lambda m: fixes.get(m.group(0), m.group(0)), text)
