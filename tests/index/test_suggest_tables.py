"""The title tables the writer leaves beside each segment hold what suggestions would read from the titles."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.search.whoosh import suggest
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import delete_items, write_items
from tests.support.indexes import SAMPLE_FILES, items_from
from tests.support.paths import DIGEST, FEEDS

TYPED = ["dif", "reinforcement lea", "language model", "a", "galax", "the ", "zzqx", "deep learning "]


def _suggestions(root: Path) -> list[object]:
    suggest._CACHE.clear()
    index = SearchIndex(root)
    try:
        return [index.suggest(text, limit=8) for text in TYPED]
    finally:
        index.close()


def test_written_tables_equal_tables_read_from_titles(tmp_path: Path) -> None:
    items = items_from([*SAMPLE_FILES, *FEEDS, DIGEST])
    store = IndexStore(tmp_path)
    write_items(store, items, batch_size=150)  # several segments, each with its table
    delete_items(store, [item.id for item in items[:5]])
    folder = store.current_path()
    ix = store.open()
    checked = 0
    with ix.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            segment_id = leaf.segment().segment_id()
            written = suggest._SegmentWords.load(folder, segment_id, leaf.doc_count_all())
            assert written is not None, "the writer gives every segment its table"
            read = suggest._SegmentWords.read(leaf)
            assert written.words == read.words and written.size == read.size
            assert np.array_equal(written.docs, read.docs) and np.array_equal(written.starts, read.starts)
            checked += len(read.words)
    ix.close()
    assert checked > 1000

    with_tables = _suggestions(tmp_path)
    for path in folder.glob("*.fss.*"):
        path.unlink()  # as an index written before the tables: suggestions read the titles instead
    assert _suggestions(tmp_path) == with_tables
    assert sum(len(s.titles) for s in with_tables) > 10  # type: ignore[attr-defined]


def test_tables_go_with_their_segments_when_merged(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    write_items(store, items_from([*SAMPLE_FILES, *FEEDS, DIGEST]), batch_size=60)

    def tabled() -> set[str]:
        return {p.name.split(".")[0] for p in store.current_path().glob("*.fss.words")}

    before = tabled()
    assert len(before) >= 3
    writer = store.open().writer()
    writer.commit(optimize=True)  # a merge made by Whoosh itself: the old segments' tables go with them
    assert not tabled() & before
