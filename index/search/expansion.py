"""Prefix and fuzzy terms expanded over the index's words, and the work budget one query may spend.

A query's prefix and fuzzy terms together may stand for at most MAX_EXPANSIONS index words (each
becomes a scored term); it may hold at most MAX_FUZZY_TERMS fuzzy terms of at most MAX_FUZZY_CHARS
characters (each walks the term dictionary with an automaton whose size grows with the word: 0.6 s
for a 1,000-letter one on 409 items), and at most MAX_PHRASES phrases of MAX_PHRASE_WORDS words
(checking positions costs a pass per word over the items holding them all: ~60 phrases of common
words in a 10,000-character query took 0.7 s at 100k items). Past these a query is refused.
"""

from __future__ import annotations

import itertools
from typing import Any

from whoosh import query

from index.errors import QueryError
from index.search.analysis import stem_word
from index.search.schema import DEFAULT_FIELD, SPELLING_FIELD

MAX_EXPANSIONS = 1000
MAX_FUZZY_TERMS = 4
MAX_FUZZY_CHARS = 24
MIN_PREFIX_CHARS = 2
MAX_FUZZY_DISTANCE = 2
MAX_PHRASE_WORDS = 12
MAX_PHRASES = 16

# The fields that hold stems, whose prefixes and fuzzy words expand over the unstemmed spelling words.
TEXT_FIELDS = frozenset({DEFAULT_FIELD, "title", "summary"})


class Budget:
    """What is left of one query's budget: MAX_EXPANSIONS words, MAX_FUZZY_TERMS fuzzy terms, MAX_PHRASES."""

    def __init__(self) -> None:
        self.words = MAX_EXPANSIONS
        self.fuzzy = MAX_FUZZY_TERMS
        self.phrases = MAX_PHRASES

    def expand(self, q: Any, reader: Any, label: str) -> list[bytes | str]:
        """Return the index words ``q`` (a prefix or fuzzy term) stands for, charging them to the budget.

        Reads at most one word past what is left, so a term that would exceed it costs no more than
        the budget itself.
        """
        words = list(itertools.islice(q._btexts(reader), self.words + 1))
        if len(words) > self.words:
            whole = "" if self.words == MAX_EXPANSIONS else " with the query's other prefix and fuzzy terms"
            raise QueryError(
                f"{label} matches more than {MAX_EXPANSIONS} different words{whole}; make it more specific."
            )
        self.words -= len(words)
        return words

    def charge_phrase(self) -> None:
        """Count one phrase against the budget; raise QueryError past MAX_PHRASES."""
        self.phrases -= 1
        if self.phrases < 0:
            raise QueryError(f"A query may hold at most {MAX_PHRASES} phrases.")


def expand_prefix(q: Any, reader: Any, budget: Budget) -> Any:
    """Return a ``prefix*`` as the terms it stands for (their stems, in the text fields)."""
    text = str(q.text).lower()
    if len(text) < MIN_PREFIX_CHARS:
        raise QueryError(f"A prefix needs at least {MIN_PREFIX_CHARS} characters before '*': '{q.text}*'.")
    if q.fieldname not in TEXT_FIELDS:
        prefix = query.Prefix(q.fieldname, text, boost=q.boost)
        budget.expand(prefix, reader, f"'{q.text}*'")
        return prefix
    # The text fields hold stems, and a stem need not start with the prefix typed ('reinforcem*' must
    # find 'reinforc'): expand the prefix over the unstemmed spelling words, then search their stems.
    words = budget.expand(query.Prefix(SPELLING_FIELD, text), reader, f"'{q.text}*'")
    stems = sorted({stem_word(_decode(w)) for w in words})
    if not stems:
        return query.NullQuery
    terms = [query.Term(q.fieldname, s, boost=q.boost) for s in stems]
    return terms[0] if len(terms) == 1 else query.Or(terms)


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8") if isinstance(text, bytes) else text


def expand_fuzzy(q: Any, reader: Any, raw: dict[str, str], budget: Budget) -> Any:
    """Return a ``word~`` as the terms within its distance (their stems, in the text fields); ``raw``
    maps the stemmed word the parser saw to the word as typed."""
    if q.maxdist > MAX_FUZZY_DISTANCE:
        raise QueryError(
            f"Fuzzy distance {q.maxdist} is over the limit of {MAX_FUZZY_DISTANCE}: '{q.text}~'."
        )
    text = str(q.text).lower()
    typed = raw.get(text, text)
    if len(typed) > MAX_FUZZY_CHARS:
        raise QueryError(f"A fuzzy word may have at most {MAX_FUZZY_CHARS} characters: '{typed[:30]}...~'.")
    if budget.fuzzy == 0:
        raise QueryError(f"A query may hold at most {MAX_FUZZY_TERMS} fuzzy words (word~).")
    budget.fuzzy -= 1
    prefix = max(1, q.prefixlength)
    if q.fieldname not in TEXT_FIELDS:
        fuzzy = query.FuzzyTerm(q.fieldname, text, boost=q.boost, maxdist=q.maxdist, prefixlength=prefix)
        budget.expand(fuzzy, reader, f"'{q.text}~'")
        return fuzzy
    # As with prefixes: find the near spellings among the unstemmed words, then search their stems.
    words = budget.expand(query.FuzzyTerm(SPELLING_FIELD, typed, maxdist=q.maxdist, prefixlength=prefix),
                          reader, f"'{typed}~'")
    stems = sorted({stem_word(_decode(w)) for w in words} | {text})
    terms = [query.Term(q.fieldname, s, boost=q.boost) for s in stems]
    return terms[0] if len(terms) == 1 else query.Or(terms)
