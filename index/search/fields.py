"""The schema's own field types: item text indexed from one analysis per item, and unindexed numbers.

``title``, ``summary`` and ``content`` (title and summary together, with the spelling words) used to
be three plain ``TEXT`` fields, so each summary was tokenised three times and once more for the
spelling words. An :class:`ItemText` value analyses the title and the summary once each, and every
:class:`ItemTextField` takes its postings from it: the same terms, frequencies, positions and
spelling words as plain ``TEXT`` fields with ``text_analyzer()`` would give (compared term by term
in tests/index/test_index_terms.py). Given a string, the field is a plain ``TEXT`` field.

The field classes are pickled into every index's schema: keep this module importable under this name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from whoosh.fields import NUMERIC, TEXT

from index.search.analysis import IndexToken, index_tokens

# (term bytes, frequency, weight, encoded positions): what a Whoosh field's ``index`` yields per term.
Posting = tuple[bytes, int, float, bytes]
PARTS = ("title", "summary", "content")


class ItemTextField(TEXT):  # type: ignore[misc]
    """A positional text field that indexes one part (title, summary or content) of an :class:`ItemText`."""

    def __init__(self, part: str, **kwargs: Any) -> None:
        if part not in PARTS:
            raise ValueError(f"unknown item text part {part!r}")
        super().__init__(phrase=True, **kwargs)
        self.part = part

    def index(self, value: Any, **kwargs: Any) -> Iterable[Posting]:
        if isinstance(value, ItemText):
            return value.postings(self.part, self.format.encode)
        return super().index(value, **kwargs)  # type: ignore[no-any-return]

    def spellable_words(self, value: Any) -> Iterator[str]:
        if isinstance(value, ItemText):
            return iter(value.spelling_words())
        return super().spellable_words(value)  # type: ignore[no-any-return]


class ItemText:
    """An item's title and summary, analysed once on first use for every part that indexes them.

    ``content`` is the title, a line break, then the summary: its positions run on from the title's
    as the tokenizer's would over the joined text.
    """

    __slots__ = ("title", "summary", "_title", "_summary", "_words", "_title_end", "_shift")

    def __init__(self, title: str, summary: str) -> None:
        self.title = title
        self.summary = summary
        self._title: dict[str, list[int]] | None = None
        self._summary: dict[str, list[int]] = {}
        self._words: set[str] = set()
        self._title_end = 0
        self._shift = 0

    def postings(self, part: str, encode: Any) -> list[Posting]:
        """Return the postings of one part, in the order plain Whoosh yields them (first occurrence)."""
        title = self._analyse()
        if part == "title":
            return _encoded(title, encode)
        if part == "summary":
            return _encoded(self._summary, encode)
        return _encoded(self._content(title), encode)

    def spelling_words(self) -> list[str]:
        """Return the content's distinct unstemmed index forms, sorted, as the spelling field takes them."""
        self._analyse()
        return sorted(self._words)

    def _analyse(self) -> dict[str, list[int]]:
        if self._title is None:
            title_tokens, self._title_end = index_tokens(self.title)
            summary_tokens, _ = index_tokens(self.summary)
            self._title = _positions(title_tokens, self._words)
            self._summary = _positions(summary_tokens, self._words)
            self._shift = self._summary_shift(title_tokens, summary_tokens)
        return self._title

    def _summary_shift(self, title: list[IndexToken], summary: list[IndexToken]) -> int:
        # Stop-word renumbering starts at the first kept token's own position and then counts one per
        # position: in the joined text the summary's first kept token follows the title's last one,
        # or, when the title kept nothing, sits where the tokenizer's count across the title left it.
        if not summary:
            return 0
        if title:
            return title[-1][2] + 1 - summary[0][2]
        return self._title_end

    def _content(self, title: dict[str, list[int]]) -> dict[str, list[int]]:
        content = {stem: list(poses) for stem, poses in title.items()}
        shift = self._shift
        for stem, poses in self._summary.items():
            shifted = [p + shift for p in poses]
            if stem in content:
                content[stem].extend(shifted)
            else:
                content[stem] = shifted
        return content


def _positions(tokens: list[IndexToken], words: set[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for word, stem, pos in tokens:
        words.add(word)
        if stem in found:
            found[stem].append(pos)
        else:
            found[stem] = [pos]
    return found


# The encoded value of a term found once, by its position: most terms of an item are found once, and
# encoding a position list pickles it. Positions past the limit are encoded each time.
_ONCE_LIMIT = 4096
_ONCE: dict[tuple[Any, int], bytes] = {}


def _encoded(positions: dict[str, list[int]], encode: Any) -> list[Posting]:
    # Weight is the frequency as a float, as Whoosh's Positions format sums each token's boost of 1.0.
    once = _ONCE
    postings: list[Posting] = []
    for stem, poses in positions.items():
        if len(poses) == 1 and poses[0] < _ONCE_LIMIT:
            key = (encode, poses[0])
            value = once.get(key)
            if value is None:
                value = once[key] = encode(poses)
            postings.append((stem.encode("utf-8"), 1, 1.0, value))
        else:
            postings.append((stem.encode("utf-8"), len(poses), float(len(poses)), encode(poses)))
    return postings


class StoredNumber(NUMERIC):  # type: ignore[misc]
    """A number kept as a stored value (and a column if sortable), with no terms in the index.

    Dates are filtered and sorted through the ``sort_date`` column in numpy, never by query terms: a
    64-bit ``NUMERIC`` field wrote four trie terms per value, twelve postings per item for nothing.
    """

    indexed = False
