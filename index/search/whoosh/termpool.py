"""A commit's postings grouped by field and term as they arrive, and the segment writer that writes them.

Whoosh's own pool keeps every posting as a tuple in one list, sorts the whole list at commit (about
250 postings an item here), then hands the postings one by one to the codec, which checks and appends
each to its block: at 100k items that per-posting path was most of the indexing time
(docs/speed-notes.md). Grouped by term as they arrive, the postings need no sort but of each field's
terms, and each term's blocks are filled a block at a time; the bytes written are Whoosh's own
(compared posting by posting in tests/index/test_termpool.py).

Spelling words are counted, not listed: Whoosh files every spelling posting under document 0, one per
item that has the word, so a segment held a quarter of its postings for words only ever read from
the lexicon. Here each word gets one posting whose weight is that count, so the term's total weight
(``reader.frequency``) is still how many items have the word; its document frequency is the number
of segments that do.

The pool keeps the whole commit in memory (a 10,000-item batch holds ~2.5 million postings), so only
writers whose commits are bounded use it; a rebuild's one writer of any number of items keeps
Whoosh's pool, which sorts runs on disk.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

from whoosh.codec.whoosh3 import W3TermInfo, _lenfield
from whoosh.writing import SegmentWriter

from index.search.schema import UNSEARCHED_FIELDS

# One posting as Whoosh's writer hands it to the pool: (field name, term bytes, document, weight, value).
Posting = tuple[str, bytes, int, float, bytes | None]
# A posting as the pool keeps it, under its field and term: (document, weight, value).
Entry = tuple[int, float, bytes | None]
# The value of a spelling word's one posting: its count, as the spelling field's Frequency format packs it.
_COUNT = struct.Struct("!I")
# Blocks of fewer postings are written uncompressed: zlib's header and checksum make a block of a few
# postings larger, not smaller, and compressing costs a call per term. Both readers (Whoosh's block
# reader and ``postings``) read each block's compression from its header.
COMPRESS_FROM = 8


class TermPool:
    """Postings of one commit, grouped by field and term in the order they arrive (by document)."""

    def __init__(self, spelling_fields: set[str]) -> None:
        self.fieldnames: set[str] = set()
        self._terms: dict[str, dict[bytes, list[Entry]]] = {}
        self._counts: dict[str, dict[bytes, float]] = {}
        self._spelling = spelling_fields

    def add(self, item: Posting) -> None:
        """Add one posting (Whoosh's merges hand a merged segment's postings over this way)."""
        fieldname, term, docnum, weight, value = item
        if fieldname in self._spelling:
            counts = self._field_counts(fieldname)
            counts[term] = counts.get(term, 0.0) + weight
            return
        terms = self._field_terms(fieldname)
        entries = terms.get(term)
        if entries is None:
            terms[term] = [(docnum, weight, value)]
        else:
            entries.append((docnum, weight, value))

    def add_document_postings(self, fieldname: str, docnum: int, postings: Any) -> int:
        """Add a document's ``(term, frequency, weight, value)`` postings of one field; return its length."""
        terms = self._field_terms(fieldname)
        length = 0
        for term, freq, weight, value in postings:
            length += freq
            entries = terms.get(term)
            if entries is None:
                terms[term] = [(docnum, weight, value)]
            else:
                entries.append((docnum, weight, value))
        return length

    def count_words(self, fieldname: str, words: Any) -> None:
        """Count one document's spelling words."""
        counts = self._field_counts(fieldname)
        for word in words:
            term = word.encode("utf-8")
            counts[term] = counts.get(term, 0.0) + 1.0

    def fields(self) -> list[str]:
        return sorted(self.fieldnames)

    def terms(self, fieldname: str) -> Iterator[tuple[bytes, list[Entry]]]:
        """Yield each term of a field in byte order with its postings in document order."""
        counts = self._counts.get(fieldname)
        if counts is not None:
            for term in sorted(counts):
                weight = counts[term]
                yield term, [(0, weight, _COUNT.pack(int(weight)))]
            return
        terms = self._terms.get(fieldname, {})
        for term in sorted(terms):
            yield term, terms[term]

    def iter_postings(self) -> Iterator[Posting]:
        """Yield every posting in Whoosh's order, for code that reads a pool posting by posting."""
        for fieldname in self.fields():
            for term, entries in self.terms(fieldname):
                for docnum, weight, value in entries:
                    yield fieldname, term, docnum, weight, value

    def cleanup(self) -> None:
        self._terms.clear()
        self._counts.clear()

    def _field_terms(self, fieldname: str) -> dict[bytes, list[Entry]]:
        terms = self._terms.get(fieldname)
        if terms is None:
            terms = self._terms[fieldname] = {}
            self.fieldnames.add(fieldname)
        return terms

    def _field_counts(self, fieldname: str) -> dict[bytes, float]:
        counts = self._counts.get(fieldname)
        if counts is None:
            counts = self._counts[fieldname] = {}
            self.fieldnames.add(fieldname)
        return counts


class GroupingWriter(SegmentWriter):  # type: ignore[misc]
    """Whoosh's segment writer with a :class:`TermPool`, filled by field and flushed by term."""

    def __init__(self, ix: Any, *, unsearched: frozenset[str] = UNSEARCHED_FIELDS, **options: Any) -> None:
        super().__init__(ix, **options)
        self._unsearched = unsearched
        self.pool = TermPool({
            field.spelling_fieldname(name) for name, field in self.schema.items() if field.separate_spelling()
        })
        # Term vectors are not written here; a schema with them keeps Whoosh's own add_document.
        self._plain = not any(field.vector for _, field in self.schema.items())
        # Segments another process writes for this commit (``builder``), as futures: the commit waits
        # for them only once its own segment is written, and lists them with it.
        self.extra_segments: list[Future[Any]] = []

    def _commit_toc(self, segments: list[Any]) -> None:
        super()._commit_toc([*segments, *(future.result() for future in self.extra_segments)])

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``add_document`` for documents without boosts, handing the pool a field at a time.

        Fields in ``unsearched`` are stored and given their columns but no postings.
        """
        if not self._plain or any(name.endswith("_boost") for name in fields if name.startswith("_")):
            super().add_document(**fields)
            return
        self._check_state()
        schema, pool, perdocwriter, docnum = self.schema, self.pool, self.perdocwriter, self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdocwriter.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed and name not in self._unsearched:
                    length = pool.add_document_postings(name, docnum, field.index(value))
                    if not field.scorable:
                        length = 0
                if field.separate_spelling():
                    pool.count_words(field.spelling_fieldname(name), field.spellable_words(value))
                custom = fields.get("_stored_" + name, value)
                perdocwriter.add_field(name, field, custom if field.stored else None, length)
                column = field.column_type
                if column and custom is not None:
                    perdocwriter.add_column_value(name, column, field.to_column_value(custom))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        try:
            write_terms(self.fieldwriter, self.schema, self.pool, lengths)
        finally:
            lengths.close()
        self.fieldwriter.close()


def write_terms(fieldwriter: Any, schema: Any, pool: TermPool, lengths: Any) -> None:
    """Write every term of ``pool`` through the codec's field writer, a block of postings at a time.

    Does what Whoosh's ``FieldWriter.add_postings`` and ``add_posting`` do posting by posting: the same
    blocks, block statistics and term infos, built from whole lists.
    """
    for fieldname in pool.fields():
        fieldobj = schema[fieldname]
        fieldwriter.start_field(fieldname, fieldobj)
        postwriter = fieldwriter._postwriter
        fmt = fieldobj.format
        limit = postwriter._blocklimit
        compression = postwriter._compression
        field_lengths = field_lengths_of(lengths, fieldname)
        for term, entries in pool.terms(fieldname):
            fieldwriter._btext = term
            postwriter.start_postings(fmt, W3TermInfo())
            postwriter._compression = compression
            for start in range(0, len(entries), limit):
                if start:
                    postwriter._write_block()
                block = entries[start:start + limit]
                if len(block) < COMPRESS_FROM:
                    postwriter._compression = 0
                _fill_block(postwriter, block, field_lengths)
            fieldwriter.finish_term()
        postwriter._compression = compression
        fieldwriter.finish_field()


def _fill_block(postwriter: Any, entries: list[Entry], lengths: list[int] | None) -> None:
    ids = [e[0] for e in entries]
    weights = [e[1] for e in entries]
    postwriter._ids = array("I", ids)
    postwriter._weights = array("f", weights)
    postwriter._values = [e[2] for e in entries if e[2]]
    highest = max(weights)
    postwriter._maxweight = float(highest) if highest > 0 else 0  # as Whoosh's boost product leaves it
    # Whoosh's block statistics skip a length of 0 (a field the document lacks) for the minimum.
    found = [n for n in (lengths[d] for d in ids) if n] if lengths is not None else []
    postwriter._minlength = min(found) if found else None
    postwriter._maxlength = max(found) if found else 0


def field_lengths_of(lengths: Any, fieldname: str, default: int = 0) -> list[int] | None:
    """Return every document's length of a field from a per-document reader, read once into a list
    (None for a field with no length column)."""
    if not lengths.has_column(_lenfield(fieldname)):
        return None
    return [lengths.doc_field_length(d, fieldname, default) for d in range(lengths.doc_count_all())]
