"""Every match of a query with its BM25F score, in one pass over whole posting blocks with numpy.

Whoosh's matchers walk the postings one document at a time through Python calls (``is_active``,
``id``, ``score``, ``skip_to``), and an exact total needs a second, unscored walk: at 100k items those
two walks were 97% of a search (docs/speed-notes.md). Here each query term's postings are read block
by block into arrays, scored with BM25F over whole arrays, and combined by the query's tree, so one
pass yields the match set (total, facets) and the scores (top hits) together.

The scores are Whoosh's own: the same BM25F formula, global idf (from the searcher's weighting,
:func:`weighting` in the product) and average length from the searcher, each document's length
decoded from the same length byte, boosts applied where Whoosh's matchers apply them, and 1.0 for
a ``Not`` inside an ``And`` as Whoosh's InverseMatcher gives.
Query types without a fast path (phrases, anything new) run through Whoosh's own matcher, so the
result is always complete. This reads Whoosh's private posting-block layout, which is why
whoosh-reloaded is pinned; tests/index/test_scoring.py compares every query shape against Whoosh's
own search so that an upgrade that changes the layout fails loudly.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.columns import NumericColumn
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F
from whoosh.util.numeric import byte_to_length

from index.search.whoosh.postings import SegmentArrays, open_arrays, read_blocks

# Whoosh stores each document's field length as one byte; this is the length each byte stands for.
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
# Whoosh scores a document inside ``a AND NOT b`` with InverseMatcher's weight for the NOT part.
_NOT_SCORE = 1.0
# BM25's parameters, chosen on six test collections together, not one (docs/ranking-notes.md).
K1 = 1.0
B = 0.7


class LuceneIdfBM25F(BM25F):  # type: ignore[misc]
    """Whoosh's BM25F with Lucene's (and bm25s's) IDF, ``log(1 + (N - df + 0.5) / (df + 0.5))``.

    Whoosh's own ``log(N / (df + 1)) + 1`` never falls below 1, so a word in most items ("interested",
    "articles", "information" in a long question) still adds nearly as much as a rare one; Lucene's
    goes towards 0 for such words, which is what lets a long, wordy question rank by what it is about.
    Whoosh's searcher asks its weighting for IDF, so its own scoring and ours both use this one.
    """

    def idf(self, searcher: Any, fieldname: str, text: Any) -> float:
        parent = searcher.get_parent()
        df = parent.doc_frequency(fieldname, text)
        n = parent.doc_count_all()
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


def weighting() -> BM25F:
    """Return the weighting the product searches with."""
    return LuceneIdfBM25F(B=B, K1=K1)


@dataclass(frozen=True)
class Matches:
    """Matching documents (sorted, unique global docnums) and their scores, position by position."""

    docs: np.ndarray[Any, Any]
    scores: np.ndarray[Any, Any]

    @property
    def size(self) -> int:
        return int(self.docs.size)


_EMPTY = Matches(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class Scorer:
    """Scores queries against one opened searcher; safe to share between threads.

    Field lengths are decoded once per field for the life of the searcher; a term's postings are read
    once per query even when the query names it twice (the all-words tier repeats every word).
    """

    def __init__(self, searcher: Any, folder: Path | None = None) -> None:
        self.searcher = searcher
        self.doc_count = int(searcher.doc_count_all())
        self._leaves = list(searcher.leaf_searchers())
        # Each segment's posting arrays (index.search.whoosh.postings), where the writer has made them.
        self._arrays: list[SegmentArrays | None] = [
            _segment_arrays(folder, sub.reader()) if folder is not None else None for sub, _ in self._leaves
        ]
        self._lengths: dict[str, np.ndarray[Any, Any]] = {}
        self._lock = threading.Lock()
        weighting = searcher.weighting
        # BM25F or a subclass that changes only its IDF, which reaches us through ``searcher.idf``.
        self._bm25 = (
            (float(weighting.B), float(weighting.K1), dict(weighting._field_B))
            if isinstance(weighting, BM25F) and type(weighting).scorer is BM25F.scorer else None
        )

    def matches(self, q: Any) -> Matches:
        """Return every document ``q`` matches with the score Whoosh would give it (deleted ones too)."""
        return _Evaluation(self).run(q)

    # -- what a query's evaluation reads ------------------------------------------------------------

    def field_lengths(self, fieldname: str) -> np.ndarray[Any, Any]:
        """Return each document's length in a field, as Whoosh's scorer sees it (1 where it has none)."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            parts = [self._segment_lengths(sub.reader(), fieldname) for sub, _ in self._leaves]
            lengths = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
            with self._lock:
                self._lengths[fieldname] = lengths
        return lengths

    def _segment_lengths(self, reader: Any, fieldname: str) -> np.ndarray[Any, Any]:
        count = reader.doc_count_all()
        perdoc = getattr(reader, "_perdoc", None)
        if perdoc is None:  # not a Whoosh 3 segment: ask the reader, one document at a time
            return np.fromiter((reader.doc_field_length(d, fieldname, 1) or 1 for d in range(count)),
                               dtype=np.float64, count=count)
        col = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if col is None:
            return np.ones(count, dtype=np.float64)
        if isinstance(col, NumericColumn.Reader) and col._typecode == "B" and col._fixedlen == 1:
            raw = np.zeros(count, dtype=np.uint8)
            stored = min(col._count, count)
            raw[:stored] = np.frombuffer(col._dbfile.get(col._basepos, stored), dtype=np.uint8)
        else:  # a column layout this code does not know: read it the slow, public way
            raw = np.fromiter((int(col[d]) for d in range(count)), dtype=np.uint8, count=count)
        lengths = _LENGTH_OF_BYTE[raw]
        lengths[raw == 0] = 1.0
        return lengths

    def postings(self, fieldname: str, btext: bytes) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Return a term's global docnums and weights (term frequencies) over every segment."""
        ids: list[np.ndarray[Any, Any]] = []
        weights: list[np.ndarray[Any, Any]] = []
        for (sub, offset), arrays in zip(self._leaves, self._arrays, strict=True):
            if arrays is not None and arrays.covers(fieldname):
                found = arrays.postings(fieldname, btext)
                if found is not None:
                    ids.append(found[0].astype(np.int64) + offset)
                    weights.append(found[1].astype(np.float64))
                    continue
            reader = sub.reader()
            try:
                info = reader.term_info(fieldname, btext)
            except TermNotFound:
                continue
            for block_ids, block_weights, _ in read_blocks(reader, fieldname, btext, terminfo=info):
                ids.append(block_ids + offset)
                weights.append(block_weights)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate(ids), np.concatenate(weights)

    def values(self, fieldname: str, btext: bytes, docs: np.ndarray[Any, Any]) -> dict[int, Any]:
        """Return the posting value (encoded positions) of a term for each of ``docs`` (sorted) holding it.

        Only the posting blocks that can hold one of ``docs`` are read.
        """
        found: dict[int, Any] = {}
        for sub, offset in self._leaves:
            reader = sub.reader()
            local = docs[(docs >= offset) & (docs < offset + reader.doc_count_all())] - offset
            if local.size == 0 or (fieldname, btext) not in reader:
                continue
            for block_ids, _, block_values in read_blocks(reader, fieldname, btext, local):
                where = np.minimum(np.searchsorted(local, block_ids), local.size - 1)
                for i in np.flatnonzero(local[where] == block_ids).tolist():
                    found[int(block_ids[i]) + offset] = block_values[i]
        return found

    def position_keys(self, fieldname: str, btext: bytes, docs: np.ndarray[Any, Any],
                      decode: Any) -> np.ndarray[Any, Any]:
        """Return ``(doc << 32) | position`` for every position of the term in each of ``docs``.

        ``docs`` are sorted global docnums that all hold the term. Positions come from the posting
        arrays where the segment has them for this term, else from Whoosh's blocks decoded per document.
        """
        parts: list[np.ndarray[Any, Any]] = []
        for (sub, offset), arrays in zip(self._leaves, self._arrays, strict=True):
            lo, hi = (int(i) for i in np.searchsorted(docs, [offset, offset + sub.reader().doc_count_all()]))
            if lo == hi:
                continue
            local = docs[lo:hi] - offset
            spans = arrays.position_spans(fieldname, btext, local) if arrays is not None else None
            if spans is not None and arrays is not None and arrays.positions is not None:
                begin, end = (a.astype(np.int64) for a in spans)
                counts = end - begin
                before = np.cumsum(counts) - counts  # where each posting's positions go in the output
                index = np.repeat(begin - before, counts) + np.arange(int(counts.sum()), dtype=np.int64)
                positions = arrays.positions[index].astype(np.int64)
                which = np.repeat(docs[lo:hi].astype(np.int64), counts)
            else:
                values = self.values(fieldname, btext, docs[lo:hi])
                decoded = [decode(values[doc]) for doc in docs[lo:hi].tolist()]
                positions = np.fromiter((p for found in decoded for p in found), dtype=np.int64)
                which = np.repeat(docs[lo:hi].astype(np.int64), [len(found) for found in decoded])
            parts.append((which << 32) | positions)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def bm25(self, fieldname: str) -> tuple[float, float] | None:
        """Return (B, K1) for a scorable field when the searcher weighs with plain BM25F, else None."""
        if self._bm25 is None:
            return None
        b, k1, per_field = self._bm25
        return per_field.get(fieldname, b), k1

    def by_matcher(self, q: Any) -> Matches:
        """Evaluate ``q`` with Whoosh's own matchers: the path for query types without a fast one."""
        docs: list[int] = []
        scores: list[float] = []
        context = self.searcher.context()
        for sub, offset in self._leaves:
            m = q.matcher(sub, context)
            while m.is_active():
                docs.append(m.id() + offset)
                scores.append(m.score())
                m.next()
        return _sorted(np.array(docs, dtype=np.int64), np.array(scores, dtype=np.float64))


def _following(keys: np.ndarray[Any, Any], ends: np.ndarray[Any, Any], slop: int) -> np.ndarray[Any, Any]:
    """Return the ``keys`` 1 to ``slop`` positions after one of ``ends`` (where the phrase so far ends).

    Keys are ``document << 32 | position``, so an end in another document is never within ``slop``.
    """
    ends = np.unique(ends)
    if ends.size == 0 or keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.searchsorted(ends, keys, "left") - 1  # the nearest end before each key
    near = (before >= 0) & (keys - ends[np.maximum(before, 0)] <= slop)
    return np.unique(keys[near])


def _segment_arrays(folder: Path, reader: Any) -> SegmentArrays | None:
    segment = reader.segment() if hasattr(reader, "segment") else None
    return open_arrays(folder, segment.segment_id()) if segment is not None else None


def _sorted(docs: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> Matches:
    if docs.size == 0:
        return _EMPTY
    order = np.argsort(docs, kind="stable")
    return Matches(docs[order], scores[order])


class _Evaluation:
    """One query's walk over its tree; remembers each term's scored postings for the walk."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.n = scorer.doc_count
        self._terms: dict[tuple[str, bytes], Matches] = {}

    def run(self, q: Any) -> Matches:
        if isinstance(q, query.Term):
            return self._term(q)
        if isinstance(q, type(query.NullQuery)):
            return _EMPTY
        if isinstance(q, query.Or) and not q.minmatch and not q.scale:
            return self._compound(q, self._or)
        if isinstance(q, query.And):
            return self._compound(q, self._and)
        if isinstance(q, query.AndMaybe):
            return self._boosted(self._and_maybe(self.run(q.a), self.run(q.b)), q.boost)
        if isinstance(q, query.Require):
            return self._boosted(self._require(self.run(q.a), self.run(q.b)), q.boost)
        if isinstance(q, query.AndNot):
            return self._boosted(self._without(self.run(q.a), self.run(q.b)), q.boost)
        if isinstance(q, query.Not):
            return self._not(q)
        if isinstance(q, query.Phrase):
            return self._phrase(q)
        return self.scorer.by_matcher(q)

    # -- leaves ---------------------------------------------------------------------------------

    def _term(self, q: Any) -> Matches:
        searcher = self.scorer.searcher
        schema = searcher.schema
        if q.fieldname not in schema:
            return _EMPTY
        field = schema[q.fieldname]
        try:
            btext = field.to_bytes(q.text)
        except ValueError:
            return _EMPTY
        return self._boosted(self._scored(q.fieldname, btext, field), q.boost)

    def _scored(self, fieldname: str, btext: bytes, field: Any) -> Matches:
        """Return a term's matches with their unboosted scores, read once per query however often named."""
        key = (fieldname, btext)
        found = self._terms.get(key)
        if found is None:
            found = self._terms[key] = self._score_term(fieldname, btext, field)
        return found

    def _score_term(self, fieldname: str, btext: bytes, field: Any) -> Matches:
        ids, tf = self.scorer.postings(fieldname, btext)
        if ids.size == 0:
            return _EMPTY
        if not field.scorable:
            return Matches(ids, tf)  # Whoosh's WeightScorer: the posting's weight is its score
        params = self.scorer.bm25(fieldname)
        if params is None:  # another weighting model: let Whoosh score it
            return self.scorer.by_matcher(query.Term(fieldname, btext.decode("utf-8")))
        b, k1 = params
        searcher = self.scorer.searcher
        idf = searcher.idf(fieldname, btext)
        avgfl = searcher.avg_field_length(fieldname) or 1
        fl = self.scorer.field_lengths(fieldname)[ids]
        return Matches(ids, idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / avgfl))))

    def _phrase(self, q: Any) -> Matches:
        """Words in order, each 1 to ``slop`` positions after the one before it (next to each other at
        slop 1): documents holding every word, then their positions checked.

        Whoosh's phrase matcher (SpanNear2, ordered, mindist 1) scores a match as the sum of its
        words' scores, whatever the slop; its own walk costs ~0.9 s for a 12-word sloppy phrase of
        common words at 100k items, this one a fraction of that.
        """
        schema = self.scorer.searcher.schema
        field = schema[q.fieldname] if q.fieldname in schema else None
        slop = int(q.slop)
        if (field is None or slop < 1 or not q.words or not field.scorable
                or not field.format or not field.format.supports("positions")
                or self.scorer.bm25(q.fieldname) is None):
            return self.scorer.by_matcher(q)
        try:
            words = [field.to_bytes(w) for w in q.words]
        except ValueError:
            return _EMPTY
        scored = {w: self._scored(q.fieldname, w, field) for w in dict.fromkeys(words)}
        if any(m.size == 0 for m in scored.values()):
            return _EMPTY
        # Documents holding every word, and where each word's posting for them is.
        first, *others = scored
        docs = scored[first].docs
        at = {first: np.arange(docs.size)}
        for btext in others:
            docs, keep, found = np.intersect1d(docs, scored[btext].docs, assume_unique=True,
                                               return_indices=True)
            at = {w: i[keep] for w, i in at.items()}
            at[btext] = found
        if docs.size == 0:
            return _EMPTY
        decode = field.format.decode_positions
        # Positions word by word as (document << 32 | position) keys, each word's read only for the
        # documents where the phrase so far still runs on (a phrase of common words narrows to few
        # after its first two words); a word continues the phrase 1 to ``slop`` positions after an end.
        alive = docs
        ends = self.scorer.position_keys(q.fieldname, words[0], alive, decode)
        for btext in words[1:]:
            ends = _following(self.scorer.position_keys(q.fieldname, btext, alive, decode), ends, slop)
            alive = np.unique(ends >> 32)
            if alive.size == 0:
                break
        keep_docs = np.isin(docs, alive, assume_unique=True)
        scores = np.zeros(docs.size, dtype=np.float64)
        for btext in words:
            scores += scored[btext].scores[at[btext]]
        return self._boosted(Matches(docs[keep_docs], scores[keep_docs]), q.boost)

    def _not(self, q: Any) -> Matches:
        excluded = self.run(q.query)
        keep = np.ones(self.n, dtype=bool)
        keep[excluded.docs] = False
        docs = np.flatnonzero(keep).astype(np.int64)
        return Matches(docs, np.full(docs.size, _NOT_SCORE, dtype=np.float64))

    # -- combinations ---------------------------------------------------------------------------

    def _compound(self, q: Any, combine: Any) -> Matches:
        subs = q.subqueries
        if not subs:
            return _EMPTY
        if len(subs) == 1:  # Whoosh's CompoundQuery.matcher: a lone child, and the boost is dropped
            return self.run(subs[0])
        return self._boosted(combine(subs), q.boost)

    def _or(self, subs: list[Any]) -> Matches:
        total = np.zeros(self.n, dtype=np.float64)
        hit = np.zeros(self.n, dtype=bool)
        for sub in subs:
            m = self.run(sub)
            total[m.docs] += m.scores
            hit[m.docs] = True
        docs = np.flatnonzero(hit).astype(np.int64)
        return Matches(docs, total[docs])

    def _and(self, subs: list[Any]) -> Matches:
        positive = [s for s in subs if not isinstance(s, query.Not)]
        negative = [s for s in subs if isinstance(s, query.Not)]
        if not positive:
            result = self.run(negative[0])
            for sub in negative[1:]:
                result = self._intersect(result, self.run(sub))
            return result
        # Smallest first: the intersection only shrinks, and later children are read fully anyway.
        parts = sorted((self.run(s) for s in positive), key=lambda m: m.size)
        result = parts[0]
        for part in parts[1:]:
            result = self._intersect(result, part)
        for sub in negative:
            result = self._without(result, self.run(sub.query))
            result = Matches(result.docs, result.scores + _NOT_SCORE)
        return result

    def _intersect(self, a: Matches, b: Matches) -> Matches:
        if a.size == 0 or b.size == 0:
            return _EMPTY
        _, ia, ib = np.intersect1d(a.docs, b.docs, assume_unique=True, return_indices=True)
        return Matches(a.docs[ia], a.scores[ia] + b.scores[ib])

    def _without(self, a: Matches, b: Matches) -> Matches:
        if a.size == 0 or b.size == 0:
            return a
        keep = ~np.isin(a.docs, b.docs, assume_unique=True)
        return Matches(a.docs[keep], a.scores[keep])

    def _and_maybe(self, a: Matches, b: Matches) -> Matches:
        if a.size == 0 or b.size == 0:
            return a
        _, ia, ib = np.intersect1d(a.docs, b.docs, assume_unique=True, return_indices=True)
        scores = a.scores.copy()
        scores[ia] += b.scores[ib]
        return Matches(a.docs, scores)

    def _require(self, a: Matches, b: Matches) -> Matches:
        if a.size == 0 or b.size == 0:
            return _EMPTY
        keep = np.isin(a.docs, b.docs, assume_unique=True)
        return Matches(a.docs[keep], a.scores[keep])

    @staticmethod
    def _boosted(m: Matches, boost: float) -> Matches:
        return m if boost == 1.0 or m.size == 0 else Matches(m.docs, m.scores * boost)


__all__ = ["Matches", "Scorer"]
