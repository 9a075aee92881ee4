"""One hit per work over an opened index: each document's work as a number, the copy of each work a search
shows, a work's other copies, and counts of works by source and month.

Most works have one copy, so everything here first sets aside the documents whose work has no other
live copy (a mask made once per view) and handles only the rest, by scatter maxima and counts over
numbers given to the shared works once per view, never by sorting a query's matches: a search's
collapsing is linear in its matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from index.model import Copy, from_timestamp

_NONE = np.zeros(0, dtype=np.int64)
# Which copy of a work stands for it in a match set: the best-scoring one, the newest, or the oldest.
PICKS = ("score", "newest", "oldest")


def pick_for(sort: str, *, ranked: bool) -> str:
    """Return which copy of a work stands for it (one of PICKS) in a search sorted by ``sort``."""
    if ranked and sort == "relevance":
        return "score"
    return "oldest" if sort == "oldest" else "newest"


def copies_of(works: Works, searcher: Any, doc: int) -> tuple[Copy, ...]:
    """Return the other copies of a document's work, newest first, from the searcher's stored fields."""
    copies = works.copies(doc)
    if copies.size == 0:
        return ()
    ordered = copies[np.lexsort((-copies, -works.dates[copies]))]
    found = []
    for other in ordered.tolist():
        stored = searcher.stored_fields(other)
        found.append(Copy(id=stored["id"], source=stored.get("source", ""), link=stored.get("link", ""),
                          published=from_timestamp(stored.get("published"))))
    return tuple(found)


class Works:
    """The works of one opened index, built from each document's stored work key, date, month and source."""

    def __init__(self, keys: Sequence[str], live_docs: np.ndarray[Any, Any], dates: np.ndarray[Any, Any],
                 months: np.ndarray[Any, Any], sources: np.ndarray[Any, Any]) -> None:
        index_of: dict[str, int] = {}
        # A document without a key (written by hand, say) is a work of its own.
        self.ord = np.fromiter(
            (index_of.setdefault(key or f"\0{doc}", len(index_of)) for doc, key in enumerate(keys)),
            dtype=np.int64, count=len(keys),
        )
        copies = np.bincount(self.ord[live_docs], minlength=len(index_of))
        self.count = int(np.count_nonzero(copies))
        self.dates = dates
        # Per document: whether its work has another live copy.
        self.shared: np.ndarray[Any, Any] = copies[self.ord] > 1 if len(keys) else np.zeros(0, dtype=bool)
        grouped = live_docs[self.shared[live_docs]]
        self._grouped = grouped[np.argsort(self.ord[grouped], kind="stable")]
        self._grouped_ords = self.ord[self._grouped]
        # Shared works numbered 0..n-1, and (shared work, source) pairs likewise, for scatter-counting
        # per query instead of sorting the matches.
        self._shared_works, compact = np.unique(self._grouped_ords, return_inverse=True)
        self._compact = np.full(len(keys), -1, dtype=np.int64)
        self._compact[self._grouped] = compact
        # bincount converts narrower integers on every call: keep the sources as intp once.
        self._source = sources.astype(np.intp)
        span = int(sources.max(initial=0)) + 1
        pairs, pair_ord = np.unique(compact * span + sources[self._grouped], return_inverse=True)
        self._pair = np.full(len(keys), -1, dtype=np.int64)
        self._pair[self._grouped] = pair_ord
        self._pair_source = pairs % span
        # Per document: the month of its work's newest copy, where a collapsed histogram counts the work.
        self.month = months.copy()
        if grouped.size:
            newest = self._best(self._grouped, dates[self._grouped], self._grouped, prefer_later=True)
            self.month[self._grouped] = months[newest[compact]]
        # Browsing everything (no query, no filter) asks for the same answers every time.
        self._live_count = int(live_docs.size)
        self._all_newest: np.ndarray[Any, Any] | None = None
        self._all_per_source: np.ndarray[Any, Any] | None = None

    def copies(self, doc: int) -> np.ndarray[Any, Any]:
        """Return the other live documents of ``doc``'s work (sorted docnums)."""
        if not self.shared[doc]:
            return _NONE
        work = self.ord[doc]
        low, high = np.searchsorted(self._grouped_ords, [work, work + 1])
        found = self._grouped[low:high]
        return np.sort(found[found != doc])

    def leads(self, docs: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], *,
              pick: str) -> np.ndarray[Any, Any]:
        """Return a mask over ``docs`` (sorted, live) keeping one document per work.

        ``pick`` is ``score`` (the best-scoring copy; equal scores, the lower docnum, as ranking breaks
        ties), ``newest`` (equal dates: the later indexed, as the newest sort breaks ties) or ``oldest``.
        """
        if pick == "newest" and docs.size == self._live_count:
            if self._all_newest is None:
                self._all_newest = self._leads(docs, scores, pick)
            return self._all_newest
        return self._leads(docs, scores, pick)

    def _leads(self, docs: np.ndarray[Any, Any], scores: np.ndarray[Any, Any],
               pick: str) -> np.ndarray[Any, Any]:
        shared = self.shared[docs]
        keep: np.ndarray[Any, Any] = ~shared
        at = np.flatnonzero(shared)
        if at.size == 0:
            return keep
        picked = docs[at]
        # Positions in ``docs`` rise with docnums, so they break ties as docnums would.
        if pick == "score":
            best = self._best(picked, scores[at], at, prefer_later=False)
        elif pick == "newest":
            best = self._best(picked, self.dates[picked], at, prefer_later=True)
        else:
            best = self._best(picked, -self.dates[picked], at, prefer_later=False)
        keep[best[best >= 0]] = True
        return keep

    def _best(self, docs: np.ndarray[Any, Any], key: np.ndarray[Any, Any], values: np.ndarray[Any, Any], *,
              prefer_later: bool) -> np.ndarray[Any, Any]:
        """Return, per shared work (compact number), the ``values`` entry of its document among ``docs``
        with the highest ``key``.

        ``values`` (non-negative, rising with docnum) also break ties: equal keys go to the larger one
        with ``prefer_later``, else the smaller; -1 for a work with none among ``docs``. Scatter maxima,
        not a sort: linear in the documents.
        """
        works = self._compact[docs]
        # ufunc.at takes its fast path only when the array and the values share a dtype.
        lowest = -np.inf if key.dtype.kind == "f" else np.iinfo(key.dtype).min
        top = np.full(self._shared_works.size, lowest, dtype=key.dtype)
        np.maximum.at(top, works, key)
        winners = key == top[works]
        values = values.astype(np.int64, copy=False)
        if prefer_later:
            found = np.full(self._shared_works.size, -1, dtype=np.int64)
            np.maximum.at(found, works[winners], values[winners])
        else:
            found = np.full(self._shared_works.size, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(found, works[winners], values[winners])
            found[found == np.iinfo(np.int64).max] = -1
        return found

    def newest_among(self, doc: int, docs: np.ndarray[Any, Any]) -> int:
        """Return the newest copy of ``doc``'s work among ``docs`` (sorted), else ``doc`` itself."""
        others = self.copies(doc)
        if others.size:
            at = np.minimum(np.searchsorted(docs, others), docs.size - 1)
            candidates = np.append(others[docs[at] == others], doc)
            return int(candidates[np.lexsort((candidates, self.dates[candidates]))[-1]])
        return doc

    def per_source(self, docs: np.ndarray[Any, Any], sources: int) -> np.ndarray[Any, Any]:
        """Return the works among ``docs`` (live) per source: a work in two sources counts in both."""
        if docs.size == self._live_count:
            if self._all_per_source is None:
                self._all_per_source = self._per_source(docs, sources)
            return self._all_per_source
        return self._per_source(docs, sources)

    def _per_source(self, docs: np.ndarray[Any, Any], sources: int) -> np.ndarray[Any, Any]:
        counts = np.bincount(self._source[docs], minlength=sources)
        copies = docs[self.shared[docs]]
        if copies.size:
            # Take the copies' items back out, and count each (work, source) pair among them once.
            seen = np.zeros(self._pair_source.size, dtype=bool)
            seen[self._pair[copies]] = True
            counts = counts - np.bincount(self._source[copies], minlength=sources)
            counts = counts + np.bincount(self._pair_source[seen], minlength=sources)
        return counts
