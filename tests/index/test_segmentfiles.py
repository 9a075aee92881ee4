"""Segment files read through the memory map return exactly what Whoosh's own copies returned."""

from __future__ import annotations

import pickle
import random
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile

from index.model import SearchRequest
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.segmentfiles import MappedBufferFile, MappedReader
from index.search.whoosh.store import IndexStore


def test_the_reader_reads_as_bytesio_does() -> None:
    rng = random.Random(18)
    data = bytes(rng.randrange(256) for _ in range(5000)) + b"line one\nline two\n\nlast"
    mapped, copied = MappedReader(memoryview(data)), BytesIO(data)
    for _ in range(3000):
        op = rng.randrange(6)
        if op == 0:
            n = rng.choice([-1, 0, 1, 7, 300, 10_000])
            assert mapped.read(n) == copied.read(n)
        elif op == 1:
            n = rng.choice([-1, 3, 600])
            assert mapped.readline(n) == copied.readline(n)
        elif op == 2:
            size = rng.randrange(1, 90)
            into_a, into_b = bytearray(size), bytearray(size)
            assert mapped.readinto(into_a) == copied.readinto(into_b)
            assert into_a == into_b
        elif op == 3:
            whence = rng.randrange(3)
            offset = rng.randrange(-100, 6000) if whence else rng.randrange(0, 6000)
            if (0, mapped.tell(), len(data))[whence] + offset < 0:
                continue
            assert mapped.seek(offset, whence) == copied.seek(offset, whence)
        else:
            assert mapped.tell() == copied.tell()


def test_pickles_load_from_the_reader() -> None:
    things = [{"a": [1, 2.5, "x"]}, ("tuple", b"bytes"), list(range(1000))]
    data = b"".join(pickle.dumps(t, protocol=p) for t, p in zip(things, (0, 2, 5), strict=True))
    reader = MappedReader(memoryview(data))
    assert [pickle.load(reader) for _ in things] == things  # type: ignore[arg-type]


def _everything(root: Path) -> tuple[list[dict[str, Any]], list[tuple[int, list[str]]]]:
    index = SearchIndex(root)
    try:
        with index._use() as view:
            reader = view.searcher.reader()
            stored = [reader.stored_fields(n) for n in range(reader.doc_count_all())]
        pages = []
        for q in ("search", "model OR data", '"neural network"', "learn*", "title:language", "datas~"):
            page = index.search(SearchRequest(q=q, per_page=50))
            pages.append((page.total, [hit.id for hit in page.hits]))
        return stored, pages
    finally:
        index.close()


def test_an_index_reads_the_same_through_the_map(built_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert compound.BufferFile is MappedBufferFile  # installed by the store, before any index opens
    ix = IndexStore(built_index).open()
    with ix.reader() as reader:
        leaves = [reader] if reader.is_atomic() else [r for r, _ in reader.leaf_readers()]
        assert all(isinstance(leaf._terms._postfile, MappedBufferFile) for leaf in leaves)
    ix.close()
    mapped = _everything(built_index)
    monkeypatch.setattr(compound, "BufferFile", BufferFile)  # Whoosh's own: a copy in each process
    copied = _everything(built_index)
    assert mapped == copied
    assert mapped[1][0][0] > 0
