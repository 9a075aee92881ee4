"""The grouping writer writes what Whoosh's own segment writer writes, term by term and block by block.

Ranking reads each term's statistics (document frequency, total weight, shortest and longest field
length, highest weight) and each block's, to skip blocks; the writer builds them from whole lists
instead of posting by posting, so they are compared here with Whoosh's own on the same documents.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.writing import SegmentWriter

from index.search.schema import SPELLING_FIELD, UNSEARCHED_FIELDS, build_schema
from index.search.whoosh.termpool import COMPRESS_FROM, GroupingWriter
from index.search.whoosh.writer import to_document
from tests.index.test_index_terms import real_and_awkward_items

# Enough copies of the real items that common terms fill several 128-posting blocks.
COPIES = 2


def documents(copies: int) -> list[dict[str, Any]]:
    now = int(time.time())
    docs = []
    for copy in range(copies):
        for item in real_and_awkward_items():
            doc = to_document(item, first_seen=now)
            doc["id"] = f"{doc['id']}-{copy}"
            docs.append(doc)
    return docs


def build(folder: Path, writer_class: Any, batches: int = 1, *, optimize: bool = False,
          copies: int = COPIES) -> Any:
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    docs = documents(copies)
    size = -(-len(docs) // batches)
    for start in range(0, len(docs), size):
        writer = writer_class(ix)
        for doc in docs[start:start + size]:
            writer.add_document(**doc)
        writer.commit(merge=False)
    if optimize:
        writer = writer_class(ix)
        writer.commit(optimize=True)
    return ix


def every_field(ix: Any) -> GroupingWriter:
    """The grouping writer with postings for every indexed field, as Whoosh's writer gives them."""
    return GroupingWriter(ix, unsearched=frozenset())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each writer's index of the same documents: in one segment, and three segments merged into one."""
    root = tmp_path_factory.mktemp("termpool")
    return {
        "plain": build(root / "plain", SegmentWriter),
        "grouped": build(root / "grouped", every_field),
        "plain merged": build(root / "plain-merged", SegmentWriter, batches=3, optimize=True, copies=1),
        "grouped merged": build(root / "grouped-merged", every_field, batches=3, optimize=True, copies=1),
        "product": build(root / "product", GroupingWriter, copies=1),
    }


def term_stats(reader: Any) -> dict[tuple[str, bytes], Any]:
    stats = {}
    for fieldname, text in reader.all_terms():
        info = reader.term_info(fieldname, text)
        stats[fieldname, text] = (info.doc_frequency(), info.weight(), info.min_length(), info.max_length(),
                                  info.max_weight(), info.min_id(), info.max_id())
    return stats


def block_stats(reader: Any, fieldname: str, text: bytes) -> list[tuple[Any, ...]]:
    matcher = reader.postings(fieldname, text)
    assert isinstance(matcher, W3LeafMatcher)
    blocks = []
    while matcher.is_active():
        blocks.append((matcher.block_min_id(), matcher.block_max_id(), matcher.block_min_length(),
                       matcher.block_max_length(), matcher.block_max_weight(), matcher._blocklength))
        matcher._next_block()
    return blocks


def test_every_term_and_block_has_whooshs_statistics(built: dict[str, Any]) -> None:
    plain, grouped = built["plain"], built["grouped"]
    with plain.reader() as want_reader, grouped.reader() as got_reader:
        want, got = term_stats(want_reader), term_stats(got_reader)
        assert got.keys() == want.keys()
        many = 0
        for key, stats in want.items():
            if key[0] == SPELLING_FIELD:
                continue
            assert got[key] == stats, key
            if stats[0] > 128:
                many += 1
                assert block_stats(got_reader, *key) == block_stats(want_reader, *key), key
        assert many > 20  # terms of several blocks were compared block by block
        assert want_reader.doc_count() == got_reader.doc_count() > 800


def test_a_spelling_word_has_one_posting_weighted_by_its_items(built: dict[str, Any]) -> None:
    plain, grouped = built["plain"], built["grouped"]
    with plain.reader() as want, grouped.reader() as got:
        words = list(want.lexicon(SPELLING_FIELD))
        assert list(got.lexicon(SPELLING_FIELD)) == words and len(words) > 1000
        assert len(got.leaf_readers()) == 1
        for word in words:
            assert got.doc_frequency(SPELLING_FIELD, word) == 1
            assert got.frequency(SPELLING_FIELD, word) == want.frequency(SPELLING_FIELD, word)
            assert want.doc_frequency(SPELLING_FIELD, word) == want.frequency(SPELLING_FIELD, word)
        common = max(words, key=lambda w: want.frequency(SPELLING_FIELD, w))
        assert got.frequency(SPELLING_FIELD, common) > 100


def test_merging_segments_through_the_pool_keeps_every_statistic(built: dict[str, Any]) -> None:
    # Three segments merged into one by each writer: Whoosh hands a merged segment's postings to the
    # pool one by one, spelling postings included.
    plain, grouped = built["plain merged"], built["grouped merged"]
    with plain.reader() as want_reader, grouped.reader() as got_reader:
        assert len(want_reader.leaf_readers()) == len(got_reader.leaf_readers()) == 1
        want, got = term_stats(want_reader), term_stats(got_reader)
        assert got.keys() == want.keys()
        for key, stats in want.items():
            if key[0] == SPELLING_FIELD:
                assert got[key][1] == stats[1], key  # how many items have the word
                assert got[key][0] == 1, key
            else:
                assert got[key] == stats, key


def test_small_blocks_are_stored_uncompressed_and_large_ones_compressed(built: dict[str, Any]) -> None:
    grouped = built["grouped"]
    with grouped.reader() as reader:
        small = large = 0
        for fieldname, text in reader.all_terms():
            matcher = reader.postings(fieldname, text)
            if not isinstance(matcher, W3LeafMatcher):
                continue
            while matcher.is_active():
                if matcher._blocklength < COMPRESS_FROM:
                    assert matcher._compression == 0, (fieldname, text)
                    small += 1
                else:
                    assert matcher._compression > 0, (fieldname, text)
                    large += 1
                matcher._next_block()
        assert small > 1000 and large > 10


def test_fields_nothing_looks_up_by_term_are_stored_without_postings(built: dict[str, Any]) -> None:
    with built["product"].reader() as reader:
        fields = {fieldname for fieldname, _ in reader.all_terms()}
        assert fields.isdisjoint(UNSEARCHED_FIELDS)
        assert {"id", "title_key", "content"} <= fields
        stored = [stored for _, stored in reader.iter_docs()]
        assert all(s["fingerprint"] and s["work"] for s in stored)
        assert sum(1 for s in stored if s["link"].startswith("http")) > 400
        assert list(reader.column_reader("work")) == [s["work"] for s in stored]
