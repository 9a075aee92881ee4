"""A view: one opened Whoosh searcher and the per-document arrays (live, source, date, month, work) built
from it.

The reader keeps one view per process and replaces it when the index changes; similar items, facets
and suggestions read these arrays instead of asking Whoosh per document.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.searching import Searcher

from index.search.whoosh.collapse import Works
from index.search.whoosh.scoring import Scorer, weighting
from index.search.whoosh.spelling import Spelling
from index.search.whoosh.store import IndexStore


class View:
    """One opened searcher and the per-document arrays built from it."""

    def __init__(self, store: IndexStore) -> None:
        # The generation is resolved once: the searcher and the posting arrays beside its segments
        # must come from the same one, even when a rebuild swaps ``current`` while this view opens.
        self.path = store.current_path()
        self.ix = store.open(self.path)
        try:
            self.searcher = open_searcher(self.ix, weighting=weighting())
        except BaseException:
            self.ix.close()
            raise
        try:
            self._build()
        except BaseException:
            # A torn read while the arrays are read: the searcher's open files must not outlive it.
            self.close()
            raise

    def _build(self) -> None:
        # The searcher's own schema: ``ix.schema`` re-reads the newest table of contents on every use,
        # which a concurrent commit may just have deleted (FileNotFoundError mid-search).
        self.schema = self.searcher.schema
        self.users = 0
        self.retired = False
        reader = self.searcher.reader()
        n = reader.doc_count_all()
        self.live = np.ones(n, dtype=bool)
        if reader.has_deletions():
            for docnum in range(n):
                if reader.is_deleted(docnum):
                    self.live[docnum] = False
        names = list(reader.column_reader("source")) if n else []
        self.source_names: list[str] = sorted(set(names))
        index_of = {name: i for i, name in enumerate(self.source_names)}
        self.source_ord = np.fromiter((index_of[name] for name in names), dtype=np.int32, count=n)
        self.sort_date = np.fromiter(reader.column_reader("sort_date"), dtype=np.int64, count=n) if n else (
            np.zeros(0, dtype=np.int64))
        stamps = self.sort_date.astype("datetime64[s]")
        years = stamps.astype("datetime64[Y]").astype(np.int64) + 1970
        months = stamps.astype("datetime64[M]").astype(np.int64) % 12
        self.month_ord = (years * 12 + months).astype(np.int64)
        self.by_lower = {name.lower(): name for name in self.source_names}
        self.all_docs = np.flatnonzero(self.live)
        self.works = Works(list(reader.column_reader("work")) if n else [], self.all_docs, self.sort_date,
                           self.month_ord, self.source_ord)
        self.scorer = Scorer(self.searcher, self.path)
        self._date_order: np.ndarray[Any, Any] | None = None
        self._spelling: Spelling | None = None
        self._spelling_lock = threading.Lock()

    def spelling(self) -> Spelling:
        """Return the spelling words as arrays, read on first use (most views never correct a word)."""
        with self._spelling_lock:
            if self._spelling is None:
                self._spelling = Spelling.of(self.searcher.reader(), self.path)
            return self._spelling

    def by_date(self, docs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Return ``docs`` (sorted docnums) ordered by date, then docnum.

        Browsing everything by newest is a common request; sorting 100k dates for it took ~10 ms, so
        the order of every live document is worked out once per view, and a large subset is read
        off it with a mask instead of being sorted again.
        """
        if docs.size * 8 < self.all_docs.size:
            return docs[np.lexsort((docs, self.sort_date[docs]))]
        if self._date_order is None:
            everything = self.all_docs
            self._date_order = everything[np.lexsort((everything, self.sort_date[everything]))]
        member = np.zeros(self.live.size, dtype=bool)
        member[docs] = True
        order = self._date_order
        return order[member[order]]

    def source_name(self, text: str) -> str | None:
        return self.by_lower.get(text.strip().lower())

    def close(self) -> None:
        self.searcher.close()
        self.ix.close()


def open_view(store: IndexStore) -> View:
    """Open a view of the live generation; a torn read is raised for the reader's one retry loop."""
    return View(store)


def open_searcher(ix: Any, **options: Any) -> Any:
    """Open a searcher over the newest commit of ``ix`` in one try, closing what it opened if it fails.

    Whoosh's own ``ix.searcher()`` tries ten times, 50 ms apart, when a file vanishes, and each
    failed try leaves the segment readers it had opened to the garbage collector: their files stay
    open (and a deleted file's space in use) until then. Here a failure closes them and is raised
    at once, for the reader's one retry loop.
    """
    toc = ix._read_toc()
    readers: list[Any] = []
    try:
        for segment in toc.segments:
            readers.append(SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation))
    except BaseException:
        for opened in readers:
            opened.close()
        raise
    if not readers:
        reader: Any = EmptyReader(toc.schema)
    elif len(readers) == 1:
        reader = readers[0]
    else:
        reader = MultiReader(readers, generation=toc.generation)
    return Searcher(reader, fromindex=ix, **options)
