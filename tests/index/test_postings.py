"""The posting arrays the writer puts beside each segment hold exactly what Whoosh's blocks hold."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from whoosh.index import TOC

from index.model import SearchRequest
from index.search.whoosh import postings
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.scoring import Scorer
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.support.indexes import SAMPLE_FILES, items_from
from tests.support.paths import DIGEST, FEEDS


@pytest.fixture(scope="module")
def items() -> list:  # type: ignore[type-arg]
    return items_from([*SAMPLE_FILES, *FEEDS, DIGEST])


def _segment_ids(root: Path) -> set[str]:
    store = IndexStore(root)
    toc = TOC.read(store.open().storage, "MAIN")
    return {s.segment_id() for s in toc.segments}


def _array_files(root: Path) -> set[str]:
    return {p.name for p in IndexStore(root).current_path().glob("*.fsp*")}


def test_every_long_list_equals_whooshs_blocks(tmp_path: Path, items: list) -> None:  # type: ignore[type-arg]
    write_items(IndexStore(tmp_path), items, batch_size=150)
    folder = IndexStore(tmp_path).current_path()
    ix = IndexStore(tmp_path).open()
    checked = 0
    with ix.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            arrays = postings.open_arrays(folder, leaf.segment().segment_id())
            assert arrays is not None, "the writer gives every segment its arrays"
            for fieldname in postings.ARRAY_FIELDS:
                assert arrays.covers(fieldname)
                for btext, info in leaf.iter_field(fieldname):
                    found = arrays.postings(fieldname, btext)
                    if info.doc_frequency() < postings.MIN_POSTINGS:
                        assert found is None
                        continue
                    assert found is not None
                    m = leaf.postings(fieldname, btext)  # Whoosh's own matcher (skips deleted: none here)
                    ids, weights = [], []
                    while m.is_active():
                        ids.append(m.id())
                        weights.append(m.weight())
                        m.next()
                    assert np.array_equal(found[0], np.array(ids)), (fieldname, btext)
                    assert np.array_equal(found[1], np.array(weights, dtype=np.float32)), (fieldname, btext)
                    checked += 1
    assert checked >= 20


def test_arrays_go_with_their_segments_when_merged(tmp_path: Path, items: list) -> None:  # type: ignore[type-arg]
    store = IndexStore(tmp_path)
    write_items(store, items, batch_size=60)
    before = _array_files(tmp_path)
    segments = _segment_ids(tmp_path)
    assert len(segments) >= 3
    assert {name.split(".")[0] for name in before} == segments
    writer = store.open().writer()
    writer.commit(optimize=True)  # a merge made by Whoosh itself, not our writer: no arrays for it yet
    assert not {name.split(".")[0] for name in _array_files(tmp_path)} & segments, "old arrays deleted"
    changed = items[0].__class__(**{**items[0].__dict__, "summary": "changed"})
    write_items(store, [changed])  # the next commit of ours gives the merged segment its arrays
    assert {name.split(".")[0] for name in _array_files(tmp_path)} == _segment_ids(tmp_path)


def test_a_segment_without_arrays_is_read_from_blocks(tmp_path: Path, items: list) -> None:  # type: ignore[type-arg]
    """A writer killed between its commit and the arrays leaves a segment without them: same answers."""
    store = IndexStore(tmp_path)
    write_items(store, items, batch_size=120)
    index = SearchIndex(tmp_path)
    texts = ("galaxy", "language model", "\"large language\"", "star -galaxy")
    requests = [SearchRequest(q=q) for q in texts]
    expected = [index.search(r) for r in requests]
    index.close()
    victims = sorted(IndexStore(tmp_path).current_path().glob("*.fsp.terms"))[:2]
    for path in victims:
        os.remove(path)
    postings._open.clear()  # a fresh process
    index = SearchIndex(tmp_path)
    assert [index.search(r) for r in requests] == expected
    index.close()
    assert expected[0].total > 0 and expected[1].total > 0


def test_scorer_without_a_folder_reads_blocks(tmp_path: Path, items: list) -> None:  # type: ignore[type-arg]
    write_items(IndexStore(tmp_path), items, batch_size=400)
    ix = IndexStore(tmp_path).open()
    with ix.searcher() as searcher:
        from whoosh import query

        q = query.Term("content", "galaxi")
        with_arrays = Scorer(searcher, IndexStore(tmp_path).current_path()).matches(q)
        without = Scorer(searcher).matches(q)
        assert with_arrays.size > postings.MIN_POSTINGS
        assert np.array_equal(with_arrays.docs, without.docs)
        assert np.array_equal(with_arrays.scores, without.scores)


def test_positions_of_long_content_lists_equal_whooshs(tmp_path: Path, items: list) -> None:  # type: ignore[type-arg]
    write_items(IndexStore(tmp_path), items, batch_size=150)
    folder = IndexStore(tmp_path).current_path()
    ix = IndexStore(tmp_path).open()
    checked = 0
    with ix.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            arrays = postings.open_arrays(folder, leaf.segment().segment_id())
            assert arrays is not None
            if not arrays.terms:  # no list long enough in this segment: no arrays at all
                continue
            assert arrays.positions is not None and arrays.starts is not None
            decode = leaf.schema["content"].format.decode_positions
            for fieldname in postings.ARRAY_FIELDS:
                for btext, info in leaf.iter_field(fieldname):
                    if info.doc_frequency() < postings.MIN_POSTINGS:
                        continue
                    ids = np.asarray(arrays.postings(fieldname, btext)[0])  # type: ignore[index]
                    spans = arrays.position_spans(fieldname, btext, ids)
                    if fieldname not in postings.POSITION_FIELDS:
                        assert spans is None
                        continue
                    assert spans is not None
                    m = leaf.postings(fieldname, btext)
                    for begin, end in zip(*spans, strict=True):
                        assert list(arrays.positions[begin:end]) == decode(m.value()), (btext, m.id())
                        m.next()
                        checked += 1
                    assert not m.is_active()
    assert checked > 1000
