"""Posting arrays beside each segment: the long posting lists of the searched fields, ready for numpy.

Whoosh stores postings as pickled tuples of Python numbers, in blocks of 128: decoding them costs
~660 ns a posting (docs/speed-notes.md), and a common word at 100k items has tens of thousands, so
decoding was most of a search. A segment never changes once written, so when a commit makes one,
the writer also writes the long lists of its searched fields as two flat arrays (document numbers,
term frequencies) that a search maps into memory and slices. Short lists (one block) are read from
Whoosh's blocks as before, and so is every list of a segment without arrays (an index written by an
older feedsift, or a writer that died between its commit and the arrays): the arrays only ever make
reading faster, never different; tests/index/test_postings.py checks them against the blocks.

The long lists of ``content`` also carry their positions (every posting's word positions, flat, and
where each posting's start), so a phrase of two common words is checked over whole arrays instead of
unpickling every block of both words (163 ms for ``"language models"`` at 100k items). Arrays written
before positions were kept simply have none, and phrases read those segments' blocks as before.

The files are named after their segment (``MAIN_<id>.fsp.*``), so Whoosh's own clean-up deletes them
with the segment when a merge replaces it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermsReader

# The fields whose long lists get arrays: what plain words and title:/summary: words search.
ARRAY_FIELDS = ("content", "title", "summary")
# The fields whose long lists keep their positions too: what plain-word phrases search. Decoding each
# posting's positions is the writer's dearest part of the arrays, so the fielded ones go without.
POSITION_FIELDS = ("content",)
# Lists longer than one of Whoosh's blocks; shorter ones cost one block read either way.
MIN_POSTINGS = 129
FORMAT_VERSION = 1
_SUFFIX = ".fsp"
_OPEN_LIMIT = 256
_BLOCK_LENGTH = struct.Struct("!i")


@dataclass(frozen=True)
class SegmentArrays:
    """One segment's posting arrays: where each long term's postings are in ``ids`` and ``tf``."""

    terms: dict[tuple[str, bytes], tuple[int, int]]
    fields: frozenset[str]
    ids: np.ndarray[Any, Any]
    tf: np.ndarray[Any, Any]
    # Where each positioned long list's postings begin in ``starts``, whose entries i and i + 1 bound
    # that posting's slice of ``positions``.
    positioned: dict[tuple[str, bytes], int] = field(default_factory=dict)
    starts: np.ndarray[Any, Any] | None = None
    positions: np.ndarray[Any, Any] | None = None

    def covers(self, fieldname: str) -> bool:
        return fieldname in self.fields

    def position_spans(
        self, fieldname: str, btext: bytes, local: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
        """Return where the positions of ``local`` (sorted segment docnums, each holding the term) start
        and end in ``positions``, or None when this long list has no positions here."""
        span = self.terms.get((fieldname, btext))
        first = self.positioned.get((fieldname, btext))
        if span is None or first is None or self.starts is None:
            return None
        start, end = span
        at = first + np.searchsorted(self.ids[start:end], local)
        return self.starts[at], self.starts[at + 1]

    def postings(
        self, fieldname: str, btext: bytes
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
        """Return (segment docnums, term frequencies) of a long list, or None for a short one."""
        span = self.terms.get((fieldname, btext))
        if span is None:
            return None
        start, end = span
        return self.ids[start:end], self.tf[start:end]


def read_blocks(
    reader: Any, fieldname: str, btext: bytes, wanted: np.ndarray[Any, Any] | None = None,
    terminfo: Any = None,
) -> Any:
    """Yield (ids, weights, values) per posting block of one segment's term, reading the blocks directly.

    With ``wanted`` (sorted segment docnums), blocks that can hold none of them are skipped unread:
    each block's header says the last docnum it holds. Reads by position only (``postfile.get``),
    never by seek-then-read as Whoosh's matcher does, so threads sharing a segment's memory map
    cannot move each other's file position. A caller that has the term's ``terminfo`` passes it: each
    lookup probes Whoosh's hash table in Python.
    """
    terms = reader._terms
    if terminfo is None:
        terminfo = reader.term_info(fieldname, btext)
    if not isinstance(terms, W3TermsReader) or terminfo.is_inlined():
        m = reader.postings(fieldname, btext)  # not the block layout read below: Whoosh's own way
        ids_list: list[int] = []
        weights_list: list[float] = []
        values_list: list[Any] = []
        while m.is_active():
            ids_list.append(m.id())
            weights_list.append(m.weight())
            values_list.append(m.value())
            m.next()
        yield np.array(ids_list, dtype=np.int64), np.array(weights_list, dtype=np.float64), values_list
        return
    postfile = terms._postfile
    start, _ = terminfo.extent()
    if postfile.get(start, len(WHOOSH3_HEADER_MAGIC)) != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"posting block header missing for {fieldname}:{btext!r}")
    pos = start + len(WHOOSH3_HEADER_MAGIC)
    lowest = -1
    while True:
        (length,) = _BLOCK_LENGTH.unpack(postfile.get(pos, _BLOCK_LENGTH.size))
        last = length < 0
        length = abs(length)
        block = BytesIO(postfile.get(pos + _BLOCK_LENGTH.size, length))
        count, maxid, _maxweight, compression, _minlen, _maxlen = pickle.load(block)
        if wanted is not None:
            # No wanted docnum in (lowest, maxid]: the block holds none of them.
            skip = np.searchsorted(wanted, maxid, "right") == np.searchsorted(wanted, lowest, "right")
            lowest = maxid
            if skip:
                if last:
                    return
                pos += _BLOCK_LENGTH.size + length
                continue
        data = block.read()
        if compression:
            data = zlib.decompress(data)
        deltas, weights, values = pickle.loads(data)
        ids = np.cumsum(np.array(deltas, dtype=np.int64))
        if weights is None:
            w = np.ones(count, dtype=np.float64)
        elif isinstance(weights, float):
            w = np.full(count, weights, dtype=np.float64)
        else:
            # Whoosh's matcher hands out weights from an array('f'): float32, like these.
            w = np.array(weights, dtype=np.float32).astype(np.float64)
        yield ids, w, values if values is not None else (None,) * count
        if last:
            return
        pos += _BLOCK_LENGTH.size + length


def _paths(folder: Path, segment_id: str) -> tuple[Path, Path, Path]:
    base = folder / f"{segment_id}{_SUFFIX}"
    return Path(f"{base}.ids.npy"), Path(f"{base}.tf.npy"), Path(f"{base}.terms")


def _position_paths(folder: Path, segment_id: str) -> tuple[Path, Path]:
    base = folder / f"{segment_id}{_SUFFIX}"
    return Path(f"{base}.starts.npy"), Path(f"{base}.pos.npy")


def write_arrays(folder: Path, reader: Any) -> bool:
    """Write the posting arrays of one segment unless they exist; return whether it wrote them.

    The terms file is renamed into place last, so arrays without it are never read.
    """
    segment = reader.segment()
    ids_path, tf_path, terms_path = _paths(folder, segment.segment_id())
    if terms_path.exists():
        return False
    starts_path, pos_path = _position_paths(folder, segment.segment_id())
    terms: dict[tuple[str, bytes], tuple[int, int]] = {}
    ids_parts: list[np.ndarray[Any, Any]] = []
    tf_parts: list[np.ndarray[Any, Any]] = []
    fields = [f for f in ARRAY_FIELDS if f in reader.schema]
    positioned = {f for f in POSITION_FIELDS if f in fields and reader.schema[f].format.supports("positions")}
    # Per posting of the positioned lists, how many positions it has, and the positions, flat.
    pterms: dict[tuple[str, bytes], int] = {}
    counts: list[int] = []
    flat: list[int] = []
    at = 0
    for fieldname in fields:
        decode = reader.schema[fieldname].format.decode_positions if fieldname in positioned else None
        for btext, info in reader.iter_field(fieldname):
            if info.doc_frequency() < MIN_POSTINGS:
                continue
            blocks = list(read_blocks(reader, fieldname, btext))
            term_ids = np.concatenate([b[0] for b in blocks]).astype(np.int32)
            term_tf = np.concatenate([b[1] for b in blocks]).astype(np.float32)
            terms[(fieldname, btext)] = (at, at + term_ids.size)
            at += term_ids.size
            ids_parts.append(term_ids)
            tf_parts.append(term_tf)
            if decode is None:
                continue
            pterms[(fieldname, btext)] = len(counts)
            for block in blocks:
                for value in block[2]:
                    found = decode(value)
                    counts.append(len(found))
                    flat.extend(found)
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int32)
    tf = np.concatenate(tf_parts) if tf_parts else np.zeros(0, dtype=np.float32)
    meta = {"version": FORMAT_VERSION, "fields": fields, "terms": terms, "positioned": pterms}
    files: list[tuple[Path, Any]] = []
    if pterms:
        starts = np.zeros(len(counts) + 1, dtype=np.int32 if len(flat) < 2**31 else np.int64)
        np.cumsum(np.array(counts, dtype=starts.dtype), out=starts[1:])
        files += [(starts_path, starts), (pos_path, np.array(flat, dtype=np.int32))]
    files += [(ids_path, ids), (tf_path, tf), (terms_path, meta)]
    for path, content in files:
        write_file(path, content)
    return True


def write_file(path: Path, content: Any) -> None:
    """Write an array (``.npy``) or a pickled value beside a segment, whole or not at all."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        if isinstance(content, np.ndarray):
            np.save(out, content)
        else:
            pickle.dump(content, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def has_arrays(folder: Path, segment_id: str) -> bool:
    """Return whether a segment's arrays are written (the terms file is renamed into place last)."""
    return _paths(folder, segment_id)[2].exists()


_open: OrderedDict[tuple[str, str], SegmentArrays] = OrderedDict()
_open_lock = threading.Lock()


def open_arrays(folder: Path, segment_id: str) -> SegmentArrays | None:
    """Return a segment's arrays mapped into memory, or None when it has none (or they are unreadable)."""
    key = (str(folder), segment_id)
    with _open_lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key]
    found = _load(folder, segment_id)
    if found is not None:  # none yet may mean "not yet": the writer writes them just after its commit
        with _open_lock:
            _open[key] = found
            while len(_open) > _OPEN_LIMIT:
                _open.popitem(last=False)
    return found


def _load(folder: Path, segment_id: str) -> SegmentArrays | None:
    ids_path, tf_path, terms_path = _paths(folder, segment_id)
    with contextlib.suppress(OSError, ValueError, EOFError, pickle.UnpicklingError):
        with open(terms_path, "rb") as f:
            meta = pickle.load(f)
        if meta.get("version") != FORMAT_VERSION:
            return None
        positioned = meta.get("positioned") or {}  # arrays written before positions were kept: none
        starts = positions = None
        if not meta["terms"]:  # nothing long enough: an empty file cannot be mapped
            ids, tf = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        else:
            ids = np.load(ids_path, mmap_mode="r")
            tf = np.load(tf_path, mmap_mode="r")
            if positioned:
                starts_path, pos_path = _position_paths(folder, segment_id)
                starts = np.load(starts_path, mmap_mode="r")
                positions = np.load(pos_path, mmap_mode="r")
        return SegmentArrays(meta["terms"], frozenset(meta["fields"]), ids, tf, positioned, starts, positions)
    return None


__all__ = [
    "ARRAY_FIELDS", "MIN_POSTINGS", "POSITION_FIELDS", "SegmentArrays", "open_arrays", "read_blocks",
    "has_arrays", "write_arrays",
]
