"""Suggestions while someone types: item titles that complete the words so far, and matching source names.

A query's words are matched against the words of titles: every word but the last must appear whole,
the last (unless the text ends in a space) may be the start of a word, so "reinforcement lea" finds
"Offline Reinforcement Learning ...". Matching titles come newest first; sources whose name holds the
typed words in the same way come largest first.

A Whoosh prefix query would expand a one- or two-letter prefix to thousands of terms and walk their
union in Python on every keystroke. Instead each segment's titles are read once into a sorted word list and a
word -> documents table in numpy, cached by segment: segments never change once written (deletions
are the searcher's ``live`` mask), so after a commit only the new, small segment is read. A lookup
is then a bisection for the word range and a scatter of that range's documents into a mask.

The writer builds each segment's table once, beside the segment (``MAIN_<id>.fss.*``, removed with it
by Whoosh's clean-up like the posting arrays), so a starting worker maps it instead of reading every
stored title (2.3 s CPU and ~40 MB per worker at 100k items); a segment without one (an older index)
is read from its titles as before. Only the few titles a suggestion returns are read from the stored fields.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import weakref
from bisect import bisect_left
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.model import SourceSuggestion, Suggestions, TitleSuggestion, from_timestamp
from index.search.suggestions import WORD, source_matches, words_of
from index.search.whoosh.postings import write_file

if TYPE_CHECKING:
    from index.search.whoosh.view import View

# The top of the Unicode range: every string that starts with a prefix sorts before prefix + this.
_AFTER = "\U0010ffff"


# The table files beside a segment; the words file is renamed into place last, so it means "complete".
_SUFFIX = ".fss"
TABLE_VERSION = 1


class _SegmentWords:
    """One segment's title words: sorted distinct words and, per word, the segment's docnums holding it."""

    def __init__(self, size: int, words: list[str], docs: np.ndarray[Any, Any],
                 starts: np.ndarray[Any, Any]) -> None:
        self.size = size
        self.words = words
        self.docs = docs
        self.starts = starts

    @classmethod
    def read(cls, reader: Any) -> _SegmentWords:
        """Build the table from the segment's stored titles."""
        n = reader.doc_count_all()
        vocabulary: dict[str, int] = {}
        word_ids: list[int] = []
        doc_of: list[int] = []
        for docnum in range(n):
            title = reader.stored_fields(docnum).get("title", "")
            for word in set(WORD.findall(title.casefold())):
                word_ids.append(vocabulary.setdefault(word, len(vocabulary)))
                doc_of.append(docnum)
        words = sorted(vocabulary)
        # Renumber word ids in sorted order, so a prefix's words are one contiguous run of the table.
        rank = np.empty(len(words), dtype=np.int64)
        for position, word in enumerate(words):
            rank[vocabulary[word]] = position
        by_word = rank[np.asarray(word_ids, dtype=np.int64)] if word_ids else np.zeros(0, dtype=np.int64)
        order = np.argsort(by_word, kind="stable")
        docs = np.asarray(doc_of, dtype=np.int32)[order]
        return cls(n, words, docs, np.searchsorted(by_word[order], np.arange(len(words) + 1)))

    @classmethod
    def load(cls, folder: Path, segment_id: str, size: int) -> _SegmentWords | None:
        """Return the table the writer left beside the segment; None if it has none or it is unreadable."""
        docs_path, starts_path, words_path = _table_paths(folder, segment_id)
        with contextlib.suppress(OSError, ValueError, EOFError, pickle.UnpicklingError):
            with open(words_path, "rb") as f:
                meta = pickle.load(f)
            if meta.get("version") != TABLE_VERSION or meta.get("size") != size:
                return None
            docs = np.load(docs_path, mmap_mode="r") if meta["words"] else np.zeros(0, dtype=np.int32)
            starts = np.load(starts_path) if meta["words"] else np.zeros(1, dtype=np.int64)
            return cls(size, meta["words"], docs, starts)
        return None

    def save(self, folder: Path, segment_id: str) -> None:
        docs_path, starts_path, words_path = _table_paths(folder, segment_id)
        meta = {"version": TABLE_VERSION, "size": self.size, "words": self.words}
        for path, content in ((docs_path, self.docs), (starts_path, self.starts), (words_path, meta)):
            if isinstance(content, np.ndarray) and not self.words:
                continue  # an empty array cannot be mapped; load makes its own
            write_file(path, content)

    def span(self, word: str, *, prefix: bool) -> tuple[int, int]:
        """Return the slice of ``docs`` for this word, or for every word starting with it."""
        lo = bisect_left(self.words, word)
        if prefix:
            hi = bisect_left(self.words, word + _AFTER, lo)
        else:
            hi = lo + 1 if lo < len(self.words) and self.words[lo] == word else lo
        return int(self.starts[lo]), int(self.starts[hi])


def _table_paths(folder: Path, segment_id: str) -> tuple[Path, Path, Path]:
    base = folder / f"{segment_id}{_SUFFIX}"
    return Path(f"{base}.docs.npy"), Path(f"{base}.starts.npy"), Path(f"{base}.words")


def has_table(folder: Path, segment_id: str) -> bool:
    """Return whether a segment's title table is written."""
    return _table_paths(folder, segment_id)[2].exists()


def write_table(folder: Path, reader: Any) -> bool:
    """Write the title table of one segment's reader unless it has one; return whether it wrote it."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    if segment is None or has_table(folder, segment.segment_id()):
        return False
    _SegmentWords.read(reader).save(folder, segment.segment_id())
    return True


# Segment tables by (index generation directory, segment id); shared by every SearchIndex of a process.
_CACHE: dict[tuple[str, str], _SegmentWords] = {}
# Source names with their item counts, per opened view: a view's documents never change.
_SOURCES: weakref.WeakKeyDictionary[View, list[tuple[str, int]]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def _segments(view: View) -> list[tuple[_SegmentWords, int]]:
    """Return (table, docnum offset) for each segment of the view, reading the segments not seen yet."""
    reader = view.searcher.reader()
    leaves = reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]
    generation = str(view.path)
    keys = [(generation, leaf.segment().segment_id()) for leaf, _ in leaves]
    with _CACHE_LOCK:
        tables = []
        built = False
        for key, (leaf, offset) in zip(keys, leaves, strict=True):
            table = _CACHE.get(key)
            if table is None:
                size = leaf.doc_count_all()
                table = _SegmentWords.load(Path(generation), key[1], size) or _SegmentWords.read(leaf)
                _CACHE[key] = table
                built = True
            tables.append((table, offset))
        if built:
            # Forget the segments that merges or a rebuild (a new generation beside this one) retired.
            root = Path(generation).parent
            for key in [k for k in _CACHE if Path(k[0]).parent == root and k not in keys]:
                del _CACHE[key]
    return tables


def suggest(view: View, text: str, *, limit: int = 8) -> Suggestions:
    """Return up to ``limit`` title completions and up to ``limit`` matching sources for ``text``."""
    words, last_is_prefix = words_of(text)
    if not words:
        return Suggestions(titles=[], sources=[])
    return Suggestions(
        titles=_titles(view, words, last_is_prefix, limit),
        sources=_sources(view, words, last_is_prefix, limit),
    )


def _titles(view: View, words: list[str], last_is_prefix: bool, limit: int) -> list[TitleSuggestion]:
    found: list[tuple[int, int]] = []  # (sort date, docnum)
    for table, offset in _segments(view):
        spans = [table.span(w, prefix=last_is_prefix and i == len(words) - 1) for i, w in enumerate(words)]
        if any(start == end for start, end in spans):
            continue
        size = table.size
        # The narrowest word first: the others only need checking against its documents.
        spans.sort(key=lambda s: s[1] - s[0])
        start, end = spans[0]
        candidates = _documents(table, start, end, size)
        for start, end in spans[1:]:
            if candidates.size == 0:
                break
            mask = np.zeros(size, dtype=bool)
            mask[table.docs[start:end]] = True
            candidates = candidates[mask[candidates]]
        candidates = candidates[view.live[candidates + offset]]
        if candidates.size == 0:
            continue
        dates = view.sort_date[candidates + offset]
        if candidates.size > limit:
            best = np.argpartition(-dates, limit - 1)[:limit]
            candidates, dates = candidates[best], dates[best]
        found.extend((int(d), int(c) + offset) for d, c in zip(dates, candidates, strict=True))
    # Newest first; among equal dates the later-indexed first, as search's newest sort does.
    found.sort(reverse=True)
    suggestions = []
    for _, docnum in found[:limit]:
        stored = view.searcher.stored_fields(docnum)
        suggestions.append(TitleSuggestion(
            id=stored.get("id", ""),
            title=stored.get("title", ""),
            source=view.source_names[int(view.source_ord[docnum])],
            published=from_timestamp(stored.get("published")),
        ))
    return suggestions


def _documents(table: _SegmentWords, start: int, end: int, size: int) -> np.ndarray[Any, Any]:
    """Return the distinct docnums of a slice, ascending: a scatter, cheaper than sorting a long slice."""
    mask = np.zeros(size, dtype=bool)
    mask[table.docs[start:end]] = True
    return np.flatnonzero(mask)


def _source_counts(view: View) -> list[tuple[str, int]]:
    """Return (name, items) for each source with items, largest first; cached per view."""
    with _CACHE_LOCK:
        cached = _SOURCES.get(view)
    if cached is None:
        counts = np.bincount(view.source_ord[view.all_docs], minlength=len(view.source_names))
        cached = sorted(
            ((name, int(counts[i]))
             for i, name in enumerate(view.source_names) if counts[i]),
            key=lambda row: (-row[1], row[0]),
        )
        with _CACHE_LOCK:
            _SOURCES[view] = cached
    return cached


def _sources(view: View, words: list[str], last_is_prefix: bool, limit: int) -> list[SourceSuggestion]:
    matches = []
    for name, count in _source_counts(view):
        if source_matches(name, words, last_is_prefix):
            matches.append(SourceSuggestion(name=name, count=count))
            if len(matches) == limit:
                break
    return matches
