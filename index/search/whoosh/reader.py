"""SearchIndex: the engine's one public entry for reading: search, facets, lookup, similar items, stats.

Each process keeps one open Whoosh searcher and reopens a fresh one when the index has changed
(never ``Searcher.refresh()``, which returns deleted and duplicate documents after updates). Totals
and facet counts come from the full match set as a numpy array, not ``len(results)``, which
undercounts limited searches with ``NOT``; facets are ``bincount`` over per-document arrays built
once per opened searcher, not Whoosh's ``groupedby``, which scores every match.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from whoosh import query

from index.errors import IndexMissingError, QueryError
from index.model import (
    FacetCount,
    FeedItem,
    Hit,
    IndexStats,
    Page,
    SearchRequest,
    SourceCount,
    Suggestions,
    check_request,
    from_timestamp,
)
from index.search.analysis import stem_word
from index.search.highlight import mark, match_spans, snippet_and_highlight
from index.search.querylang import highlight_terms, parse_query
from index.search.schema import SPELLING_FIELD
from index.search.suggestions import bare_words, correctable, with_corrections
from index.search.whoosh.collapse import copies_of, pick_for
from index.search.whoosh.keyterms import key_terms
from index.search.whoosh.scoring import Matches
from index.search.whoosh.store import TORN_READS, IndexStore
from index.search.whoosh.suggest import suggest as suggest_from_view
from index.search.whoosh.view import View, open_view

# Words of one OR that a query scores (its rarest); a 10,000-character question may hold 1,500.
MAX_SCORED_WORDS = 256
# How many of an item's words a similar-items query uses, picked from at most this many characters.
SIMILAR_TERMS = 12
SIMILAR_TEXT_CHARS = 10_000


_Method = TypeVar("_Method", bound=Callable[..., Any])
# Tries at one read while commits in other processes replace the files it reads: the one retry loop
# for opening and reading alike (store and view raise a torn read at once).
READ_ATTEMPTS = 4


def _retry_torn_reads(method: _Method) -> _Method:
    """Run a read again on a freshly opened view when a concurrent commit tore the one it used."""

    @functools.wraps(method)
    def wrapper(self: SearchIndex, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(READ_ATTEMPTS):
            try:
                return method(self, *args, **kwargs)
            except TORN_READS:
                if attempt == READ_ATTEMPTS - 1:
                    raise
                self._drop_view()
                # The commit that tore this read is usually finishing its rename: give it a moment.
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    return cast(_Method, wrapper)


class SearchIndex:
    """Read access to one index directory, safe to share between the threads of a process."""

    def __init__(self, root: str | os.PathLike[str], *, check_interval: float = 0.5) -> None:
        self.store = IndexStore(root)
        self.check_interval = check_interval
        # Guards the view and its user counts only, never held while files are opened or read.
        self._lock = threading.Lock()
        # Held by the one thread that checks for a change and opens a fresh view.
        self._opening = threading.Lock()
        self._view: View | None = None
        self._checked = 0.0
        self._stamp: int | None = None

    def close(self) -> None:
        self._drop_view()

    def invalidate(self) -> None:
        """Make the next read check whether the index changed, however recently it was checked.

        A process that has just written to the index calls this, so its own next request sees the
        write instead of the view opened before it (which may be served for ``check_interval`` more).
        """
        with self._lock:
            self._checked = -math.inf

    def _drop_view(self) -> None:
        """Forget the open view so the next read opens a fresh one."""
        with self._lock:
            view, self._view = self._view, None
            if view is not None:
                _retire(view)

    @contextmanager
    def _use(self) -> Iterator[View]:
        view = self._acquire()
        try:
            yield view
        finally:
            with self._lock:
                view.users -= 1
                if view.retired and view.users == 0:
                    view.close()

    def _acquire(self) -> View:
        """Return the view to read from, counted as in use, reopening it first when the index changed.

        One ``stat`` per read: a write by any process moves the store's changed stamp, so the next read
        after its answer sees it; the interval is the fallback for an index whose writers leave no
        stamp. Checking further and opening a view (up to seconds at 100k items) happen under
        ``_opening``, never under the process-wide lock, so a thread whose view is current, or that
        is finishing a read, never waits for them; a thread due for a check waits for the one in
        progress instead of reading a view it may find stale.
        """
        stamp = self.store.changed_stamp()
        with self._lock:
            view = self._view
            if view is not None and self._current(stamp):
                view.users += 1
                return view
        with self._opening:
            return self._refresh(stamp)

    def _current(self, stamp: int | None) -> bool:
        return stamp == self._stamp and time.monotonic() - self._checked < self.check_interval

    def _refresh(self, stamp: int | None) -> View:
        """With ``_opening`` held: reopen the view if the index changed, and return it counted as in use."""
        with self._lock:
            view = self._view
            if view is not None and self._current(stamp):
                view.users += 1  # another thread checked while this one waited
                return view
            seen = self._checked
        checked = time.monotonic()
        if view is not None and self._same(view):
            fresh = view
        else:
            fresh = open_view(self.store)
        with self._lock:
            if self._checked == seen:  # else invalidate() came meanwhile: the next read checks again
                self._checked = checked
            self._stamp = stamp
            old, self._view = self._view, fresh
            if old is not None and old is not fresh:
                _retire(old)
            fresh.users += 1
            return fresh

    def _same(self, view: View) -> bool:
        try:
            return self.store.current_path() == view.path and bool(view.searcher.up_to_date())
        except IndexMissingError:
            return True  # the index went away under us; keep serving what we have open

    # -- search --------------------------------------------------------------------------------

    @_retry_torn_reads
    def search(self, req: SearchRequest) -> Page:
        """Return one page of matches with exact total, facets and highlights.

        Raises QueryError for a query or parameter the engine cannot honour.
        """
        check_request(req)
        with self._use() as view:
            reader = view.searcher.reader()
            q = self._parse(view, req.q, match_all=req.match == "all") if req.q.strip() else None
            matched = self._matches(view, q)
            dated = _select(matched, self._date_mask(view, matched.docs, req.since, req.until))
            source_facets = self._source_facets(view, dated.docs, works=req.collapse)
            wanted = [view.source_name(s) for s in req.sources]
            if req.sources:
                ords = np.array([view.source_names.index(n) for n in wanted if n is not None], dtype=np.int32)
                final = _select(dated, np.isin(view.source_ord[dated.docs], ords))
            else:
                final = dated
            matching = final
            pick = pick_for(req.sort, ranked=q is not None)
            if req.collapse:
                final = _select(final, view.works.leads(final.docs, final.scores, pick=pick))
            total = final.size
            start = (req.page - 1) * req.per_page
            scored = self._order(view, final, req, start, ranked=q is not None)
            if req.collapse and pick == "oldest":
                # Oldest first places a work by its oldest copy, but shows its newest, as the other sorts do.
                scored = [(view.works.newest_among(docnum, matching.docs), score) for docnum, score in scored]
            terms = highlight_terms(q, reader) if q is not None else set()
            hits = [self._hit(view, docnum, score, terms) for docnum, score in scored]
            did_you_mean = self._did_you_mean(view, req.q) if q is not None and total < 3 else None
            return Page(
                total=total,
                page=req.page,
                per_page=req.per_page,
                hits=hits,
                source_facets=source_facets,
                month_facets=self._month_facets(view, final.docs, works=req.collapse),
                did_you_mean=did_you_mean,
            )

    def _parse(self, view: View, text: str, *, match_all: bool) -> Any:
        reader = view.searcher.reader()
        parsed = parse_query(text, view.schema, reader, match_all=match_all, source_names=view.source_name)
        return _keep_rarest(parsed, reader)

    def _matches(self, view: View, q: Any) -> Matches:
        """Return the live documents ``q`` matches, with their scores (every live document for no query)."""
        if q is None:
            return Matches(view.all_docs, np.zeros(view.all_docs.size, dtype=np.float64))
        found = view.scorer.matches(q)
        return _select(found, view.live[found.docs])

    def _date_mask(self, view: View, docs: np.ndarray[Any, Any], since: datetime | None,
                   until: datetime | None) -> np.ndarray[Any, Any]:
        mask = np.ones(docs.size, dtype=bool)
        dates = view.sort_date[docs]
        if since is not None:
            mask &= dates >= int(since.timestamp())
        if until is not None:
            mask &= dates <= int(until.timestamp())
        return mask

    def _source_facets(self, view: View, docs: np.ndarray[Any, Any], *, works: bool) -> list[FacetCount]:
        if works:
            counts = view.works.per_source(docs, len(view.source_names))
        else:
            counts = np.bincount(view.source_ord[docs], minlength=len(view.source_names))
        pairs = zip(view.source_names, counts, strict=True)
        order = sorted(((int(c), name) for name, c in pairs if c), key=lambda pair: (-pair[0], pair[1]))
        return [FacetCount(value=name, count=count) for count, name in order]

    def _month_facets(self, view: View, docs: np.ndarray[Any, Any], *, works: bool) -> list[FacetCount]:
        if docs.size == 0:
            return []
        # A work counts once, in the month of its newest copy: a month both engines can count.
        months = view.works.month[docs] if works else view.month_ord[docs]
        low = int(months.min())
        counts = np.bincount(months - low)
        return [
            FacetCount(value=f"{(low + i) // 12:04d}-{(low + i) % 12 + 1:02d}", count=int(c))
            for i, c in enumerate(counts) if c
        ]

    def _order(self, view: View, found: Matches, req: SearchRequest, start: int, *,
               ranked: bool) -> list[tuple[int, float]]:
        end = start + req.per_page
        docs, scores = found.docs, found.scores
        if docs.size == 0 or start >= docs.size:
            return []
        if not ranked or req.sort != "relevance":
            ordered = view.by_date(docs)
            # Newest first breaks ties by higher docnum (later indexed), oldest first by lower.
            page = ordered[::-1][start:end] if req.sort != "oldest" else ordered[start:end]
            picked = np.searchsorted(docs, page)
        else:
            picked = _top(scores, docs, end)[start:end]
        return [(int(docs[i]), float(scores[i])) for i in picked]

    def _hit(self, view: View, docnum: int, score: float, terms: set[str]) -> Hit:
        stored = view.searcher.stored_fields(docnum)
        analyzer = view.schema["content"].analyzer
        title = stored.get("title", "")
        summary = stored.get("summary", "")
        snippet, summary_html = snippet_and_highlight(summary, terms, analyzer)
        return Hit(
            id=stored["id"],
            title=title,
            link=stored.get("link", ""),
            source=stored.get("source", ""),
            published=from_timestamp(stored.get("published")),
            score=round(score, 4),
            snippet=snippet,
            highlights={"title": mark(title, match_spans(title, terms, analyzer)), "summary": summary_html},
            first_seen=from_timestamp(stored.get("first_seen")),
            also=copies_of(view.works, view.searcher, docnum),
        )

    def _did_you_mean(self, view: View, text: str) -> str | None:
        """Suggest the query with each unknown bare word replaced by the nearest indexed word.

        Within a fixed budget (``suggestions.correctable``, ``spelling.MAX_CANDIDATES``); of equally
        near words, the one most items hold.
        """
        reader = view.searcher.reader()
        fixes: dict[str, str] = {}
        unknown = correctable(bare_words(text), lambda w: reader.frequency("content", stem_word(w)) > 0)
        for word in unknown:
            nearest = view.spelling().nearest(word.lower())
            if nearest:
                # The spelling field's total weight, not its document frequency: the writer files one
                # posting per word and segment, weighted by how many items have the word (termpool).
                fixes[word] = max(nearest, key=lambda w: (reader.frequency(SPELLING_FIELD, w), w))
        return with_corrections(text, fixes)

    # -- lookup ----------------------------------------------------------------------------------

    @_retry_torn_reads
    def get(self, item_id: str) -> FeedItem | None:
        """Return the whole item with this id, or None."""
        with self._use() as view:
            docnum = view.searcher.document_number(id=item_id)
            if docnum is None:
                return None
            return replace(_item(view.searcher.stored_fields(docnum)),
                           also=copies_of(view.works, view.searcher, docnum))

    @_retry_torn_reads
    def similar(self, item_id: str, limit: int = 10) -> list[Hit] | None:
        """Return the items most like this one (never itself), or None when the id is unknown."""
        with self._use() as view:
            docnum = view.searcher.document_number(id=item_id)
            if docnum is None:
                return None
            stored = view.searcher.stored_fields(docnum)
            # Analysing the text is the cost that grows with the item: only its start picks the words.
            text = (stored.get("title", "") + "\n" + stored.get("summary", ""))[:SIMILAR_TEXT_CHARS]
            # Whoosh's more_like() queries the item's highest-weighted words, which are often words no
            # other item has, and then finds nothing; like Lucene's MoreLikeThis (minDocFreq), keep only
            # words that at least one other item shares.
            chosen = key_terms(view.searcher, "content", text, numterms=100, min_docs=2, limit=SIMILAR_TERMS)
            if not chosen:
                return []
            q = query.Or([query.Term("content", term, boost=weight) for term, weight in chosen])
            found = self._matches(view, q)
            # Never the item's own work, and one hit per work among the rest.
            others = _select(found, view.works.ord[found.docs] != view.works.ord[docnum])
            lead = view.works.leads(others.docs, others.scores, pick="score")
            others = _select(others, lead)
            return [
                self._hit(view, int(others.docs[i]), float(others.scores[i]), set())
                for i in _top(others.scores, others.docs, limit)
            ]

    @_retry_torn_reads
    def sources(self, q: str | None = None) -> tuple[list[SourceCount], int]:
        """Return every source with its item count and newest date (over a query's matches if given)."""
        with self._use() as view:
            return self._sources(view, q)

    def _sources(self, view: View, q: str | None) -> tuple[list[SourceCount], int]:
        parsed = self._parse(view, q, match_all=False) if q and q.strip() else None
        docs = self._matches(view, parsed).docs
        counts = np.bincount(view.source_ord[docs], minlength=len(view.source_names))
        newest = np.full(len(view.source_names), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(newest, view.source_ord[docs], view.sort_date[docs])
        rows = [
            SourceCount(name=name, count=int(counts[i]), newest=from_timestamp(int(newest[i])))
            for i, name in enumerate(view.source_names) if counts[i]
        ]
        rows.sort(key=lambda r: (-r.count, r.name))
        return rows, int(docs.size)

    @_retry_torn_reads
    def stats(self) -> IndexStats:
        """Return item counts overall and per source, the size on disk and the time of the last write."""
        with self._use() as view:
            rows, total = self._sources(view, None)
            path, works = view.path, view.works.count
        size = 0
        newest_mtime = 0.0
        for entry in Path(path).iterdir():
            if entry.is_file():
                st = entry.stat()
                size += st.st_size
                newest_mtime = max(newest_mtime, st.st_mtime)
        return IndexStats(
            items=total,
            works=works,
            sources={r.name: r.count for r in rows},
            size_bytes=size,
            last_update=datetime.fromtimestamp(newest_mtime, tz=UTC) if newest_mtime else None,
            path=str(path),
        )

    @_retry_torn_reads
    def count(self) -> int:
        """Return the number of live items."""
        with self._use() as view:
            return int(view.all_docs.size)

    # -- for people: suggestions and feed dates ------------------------------------------------

    @_retry_torn_reads
    def suggest(self, text: str, limit: int = 8) -> Suggestions:
        """Return title completions and matching sources for what someone has typed (see ``suggest``)."""
        with self._use() as view:
            return suggest_from_view(view, text, limit=limit)

    @_retry_torn_reads
    def dates(self, item_ids: list[str]) -> dict[str, datetime]:
        """Return each known item's date as the newest sort sees it: published, else first seen."""
        with self._use() as view:
            found = {}
            for item_id in item_ids:
                docnum = view.searcher.document_number(id=item_id)
                stamp = from_timestamp(int(view.sort_date[docnum])) if docnum is not None else None
                if stamp is not None:
                    found[item_id] = stamp
            return found


def _keep_rarest(q: Any, reader: Any) -> Any:
    """Return ``q`` with every OR of more than MAX_SCORED_WORDS words cut to its rarest ones.

    Scoring costs a pass over each word's postings: a 10,000-character question of 1,455 common words
    took 1.7 s at 100k items. Lucene's IDF gives the commonest words almost no weight, so dropping
    them barely moves the ranking; what they alone would have matched is no answer to such a query.
    """
    if isinstance(q, query.Or) and len(q.subqueries) > MAX_SCORED_WORDS:
        words = [c for c in q.subqueries if isinstance(c, query.Term)]
        if len(words) > MAX_SCORED_WORDS:
            # Rarity as the largest segment sees it: one lookup a word instead of one per segment.
            leaves = [leaf for leaf, _ in reader.leaf_readers()] or [reader]
            largest = max(leaves, key=lambda leaf: leaf.doc_count_all())
            kept = {id(t) for t in sorted(words, key=lambda t: largest.doc_frequency(t.fieldname, t.text))
                    [:MAX_SCORED_WORDS]}
            copy = q.copy()
            copy.subqueries = [_keep_rarest(c, reader) for c in q.subqueries
                               if not isinstance(c, query.Term) or id(c) in kept]
            return copy
    if isinstance(q, query.BinaryQuery):
        copy = q.copy()
        copy.a, copy.b = _keep_rarest(q.a, reader), _keep_rarest(q.b, reader)
        return copy
    if isinstance(q, query.CompoundQuery):
        copy = q.copy()
        copy.subqueries = [_keep_rarest(c, reader) for c in q.subqueries]
        return copy
    return q


def _retire(view: View) -> None:
    """Mark a view replaced (call with the lock held); it closes once its last reader is done."""
    view.retired = True
    if view.users == 0:
        view.close()


def _select(found: Matches, mask: np.ndarray[Any, Any]) -> Matches:
    return Matches(found.docs[mask], found.scores[mask])


def _top(scores: np.ndarray[Any, Any], docs: np.ndarray[Any, Any], k: int) -> np.ndarray[Any, Any]:
    """Return the positions of the ``k`` best scores, best first, equal scores by lower docnum (as Whoosh)."""
    if k < scores.size:
        cut = np.partition(scores, scores.size - k)[scores.size - k]
        candidates = np.flatnonzero(scores >= cut)
    else:
        candidates = np.arange(scores.size)
    order = np.lexsort((docs[candidates], -scores[candidates]))
    return candidates[order[:k]]


def _item(stored: dict[str, Any]) -> FeedItem:
    authors = stored.get("authors") or ""
    tags = stored.get("tags") or ""
    return FeedItem(
        id=stored["id"],
        title=stored.get("title", ""),
        link=stored.get("link", ""),
        summary=stored.get("summary", ""),
        source=stored.get("source", ""),
        published=from_timestamp(stored.get("published")),
        authors=tuple(a for a in authors.split("\n") if a),
        tags=tuple(t for t in tags.split(",") if t),
        work=stored.get("work", ""),
    )


__all__ = ["SearchIndex", "SearchRequest", "FeedItem", "SourceCount", "IndexStats", "QueryError", "query"]
