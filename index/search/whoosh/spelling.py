"""The index's spelling words as arrays, and the words nearest a typed one, found within a fixed budget.

Whoosh's ``searcher.suggest`` walks a Levenshtein automaton over the whole term dictionary: ~75 ms
for a 5-letter word on a 13,000-word lexicon and 17 s for a 1,000-letter one (issue #14). Here each
word of plausible length keeps its length and its letter counts; a typed word is compared with the
words within ``maxdist`` of its length in one numpy pass (an edit changes the letter counts by at
most two, so a word whose counts differ by more than ``2 * maxdist`` cannot be near), and the exact
edit distance is computed for at most :data:`MAX_CANDIDATES` survivors, the closest by letter counts.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from index.search.schema import SPELLING_FIELD
from index.search.suggestions import MAX_CORRECTED_CHARS
from index.search.whoosh.postings import write_file

# Words whose edit distance is computed, per typed word: the work one correction may cost (~0.1 ms
# each for words of up to MAX_CORRECTED_CHARS letters).
MAX_CANDIDATES = 200
# Segments whose spelling words are kept between views (a few MB each at 100k items).
SEGMENTS_KEPT = 32
_SEGMENTS: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
# a-z, and one count for every other character (which no typed bare word holds).
_LETTERS = 27
_LONGEST = MAX_CORRECTED_CHARS + 2
# Each segment's spelling words are written beside it under its name with this suffix.
_SUFFIX = ".fsw"


class Spelling:
    """The spelling words of one opened index (up to ``_LONGEST`` letters), grouped by length."""

    def __init__(self, words: list[str]) -> None:
        kept = sorted((w for w in words if 0 < len(w) <= _LONGEST), key=len)
        self.words = kept
        lengths = np.fromiter((len(w) for w in kept), dtype=np.int64, count=len(kept))
        # starts[n]: the first word of length n (words are sorted by length).
        self._starts = np.searchsorted(lengths, np.arange(_LONGEST + 2))
        self._counts = _letter_counts(kept, lengths)

    @classmethod
    def of(cls, reader: Any, folder: Path) -> Spelling:
        """Read the spelling words of an opened Whoosh reader of the index in ``folder``, by segment.

        Reading a lexicon costs ~2 us a word through Whoosh (0.7 s for 10 segments of 30,000 words at
        100k items), and a segment never changes once written: each segment's words are kept (for the
        :data:`SEGMENTS_KEPT` most recently used), so a reopen after a commit reads only new segments.
        """
        if SPELLING_FIELD not in reader.schema:
            return cls([])
        words: set[str] = set()
        for sub, _ in reader.leaf_readers():
            words.update(_segment_words(sub, folder))
        return cls(list(words))

    def nearest(self, word: str, maxdist: int = 2) -> list[str]:
        """Return the indexed words at the smallest edit distance (1 to ``maxdist``) from ``word``, or none.

        Words longer than :data:`MAX_CORRECTED_CHARS` are not looked up: nothing that long is a typo
        worth correcting, and the work grows with the length.
        """
        size = len(word)
        if not 0 < size <= MAX_CORRECTED_CHARS or not self.words:
            return []
        lo = int(self._starts[max(size - maxdist, 0)])
        hi = int(self._starts[min(size + maxdist, _LONGEST) + 1])
        if lo >= hi:
            return []
        typed = _letter_counts([word], np.array([size]))[0].astype(np.int16)
        apart = np.abs(self._counts[lo:hi].astype(np.int16) - typed).sum(axis=1)
        near = np.flatnonzero(apart <= 2 * maxdist)
        if near.size > MAX_CANDIDATES:
            near = near[np.argsort(apart[near], kind="stable")[:MAX_CANDIDATES]]
        best = maxdist + 1
        found: list[str] = []
        for i in near.tolist():
            candidate = self.words[lo + i]
            if candidate == word:
                continue
            distance = edit_distance(word, candidate, best + 1)
            if distance < best:
                best, found = distance, [candidate]
            elif distance == best <= maxdist:
                found.append(candidate)
        return sorted(found)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Return the Levenshtein distance of ``a`` and ``b``, or ``limit`` when it is ``limit`` or more."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) >= limit:
            return limit
        previous = current
    return min(previous[-1], limit)


def _letter_counts(words: list[str], lengths: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return each word's count of every letter a-z (and of other characters) as one row of uint8."""
    if not words:
        return np.zeros((0, _LETTERS), dtype=np.uint8)
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.int64) - ord("a")
    codes[(codes < 0) | (codes >= _LETTERS - 1)] = _LETTERS - 1
    rows = np.repeat(np.arange(len(words)), lengths)
    counts = np.bincount(rows * _LETTERS + codes, minlength=len(words) * _LETTERS)
    return counts.reshape(len(words), _LETTERS).astype(np.uint8)


def write_words(folder: Path, reader: Any) -> bool:
    """Write one segment's spelling words beside it unless they are there; return whether it wrote them.

    The writer calls this once per segment; a worker then reads the words in one unpickling (~50 ns a
    word) instead of walking the segment's lexicon through Whoosh (~2 us a word: 0.7 s of each
    worker's start at 100k items, beside its first requests).
    """
    segment = reader.segment() if hasattr(reader, "segment") else None
    if segment is None or SPELLING_FIELD not in reader.schema:
        return False
    path = _words_path(folder, segment.segment_id())
    if path.exists():
        return False
    write_file(path, _lexicon(reader))
    return True


def has_words(folder: Path, segment_id: str) -> bool:
    """Return whether a segment's spelling words are written."""
    return _words_path(folder, segment_id).exists()


def _words_path(folder: Path, segment_id: str) -> Path:
    return folder / f"{segment_id}{_SUFFIX}"


def _lexicon(reader: Any) -> list[str]:
    return [w for w in map(_text, reader.lexicon(SPELLING_FIELD)) if len(w) <= _LONGEST]


def _written(folder: Path, segment_id: str) -> list[str] | None:
    try:
        with open(_words_path(folder, segment_id), "rb") as file:
            words = pickle.load(file)
    except (OSError, pickle.UnpicklingError, EOFError):
        return None  # none written (an older index, or a full disk at write time): read the lexicon
    return words if isinstance(words, list) else None


def _segment_words(reader: Any, folder: Path) -> list[str]:
    segment = reader.segment() if hasattr(reader, "segment") else None
    key = (str(folder), segment.segment_id()) if segment is not None else None
    if key is not None:
        with _CACHE_LOCK:
            if key in _SEGMENTS:
                _SEGMENTS.move_to_end(key)
                return _SEGMENTS[key]
    found = _written(folder, segment.segment_id()) if segment is not None else None
    words = found if found is not None else _lexicon(reader)
    if key is not None:
        with _CACHE_LOCK:
            _SEGMENTS[key] = words
            while len(_SEGMENTS) > SEGMENTS_KEPT:
                _SEGMENTS.popitem(last=False)
    return words


def _text(word: bytes | str) -> str:
    return word.decode("utf-8") if isinstance(word, bytes) else word
