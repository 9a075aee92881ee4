"""Where a large write's ids and title keys are in the index, known for the whole write from each
segment's terms.

Before writing a batch the writer asks, for every item, whether the index has its id (an update) and
items of the same long title (one work). Whoosh answers each with a query that probes every
segment's term table: at 100 segments (a million items) ~1.6 ms an id and ~1.5 ms a title, so a
20,000-item batch spent ~60 s on them and a load grew quadratic. A write of large batches reads each
segment's id and title-key terms once instead, with the segments holding each term; an item's id or
title is then looked up only in those segments, and a term no segment holds costs one dict lookup.
"""

from __future__ import annotations

from typing import Any

# The fields whose terms are kept: the item id and the folded long title.
FIELDS = ("id", "title_key")


class KnownTerms:
    """The id and title-key terms of every segment seen so far in one write, growing as it commits.

    For each term the segments holding it are kept, so an item's id or title is looked up in those
    segments' postings alone.
    """

    def __init__(self) -> None:
        self._segments: set[str] = set()
        self._terms: dict[str, dict[bytes, list[str]]] = {name: {} for name in FIELDS}

    def update(self, searcher: Any) -> None:
        """Read the terms of the searcher's segments not read before."""
        for leaf, _ in _leaves(searcher):
            segment = leaf.segment() if hasattr(leaf, "segment") else None
            key = segment.segment_id() if segment is not None else ""
            if key and key in self._segments:
                continue
            for name, terms in self._terms.items():
                if name not in leaf.schema:
                    continue
                for term in leaf.lexicon(name):
                    held = terms.get(term)
                    if held is None:
                        terms[term] = [key]
                    else:
                        held.append(key)
            if key:
                self._segments.add(key)

    def documents(self, searcher: Any, fieldname: str, text: str) -> list[dict[str, Any]]:
        """Return the stored fields of the live items with the term, reading only the segments that
        hold it (Whoosh's query probes every segment's term table: ~15 us each)."""
        term = text.encode("utf-8")
        held = self._terms[fieldname].get(term)
        if not held:
            return []
        found = []
        for leaf, _ in _leaves(searcher):
            segment = leaf.segment() if hasattr(leaf, "segment") else None
            if segment is not None and segment.segment_id() not in held:
                continue
            if (fieldname, term) not in leaf:
                continue
            for docnum in leaf.postings(fieldname, term).all_ids():
                if not leaf.is_deleted(docnum):
                    found.append(leaf.stored_fields(docnum))
        return found


def _leaves(searcher: Any) -> list[tuple[Any, int]]:
    reader = searcher.reader()
    return [(reader, 0)] if reader.is_atomic() else list(reader.leaf_readers())
