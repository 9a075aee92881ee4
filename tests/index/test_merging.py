"""The tiered merge policy: small segments merge a tier at a time; large ones are never merged by a write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb.filestore import RamStorage

from index.search.whoosh.merging import MAX_MERGED, MERGE_AT, choose, tier
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import delete_items, write_items
from tests.support.indexes import jsonl_items


def segments(*sizes: int) -> list[Any]:
    """Whoosh's own segment objects of the given item counts (their files are never read)."""
    storage = RamStorage()
    made = []
    for size in sizes:
        segment = W3Codec().new_segment(storage, "MAIN")
        segment.set_doc_count(size)
        made.append(segment)
    return made


def items(start: int, count: int) -> list[Any]:
    return jsonl_items(
        {"title": f"Item number {n} about segments", "link": f"https://merge.example/{n}",
         "summary": f"Words of item {n}: tiered merging keeps the segment count bounded."}
        for n in range(start, start + count)
    )


def test_tiers_are_a_factor_of_ten_apart_above_the_smallest() -> None:
    assert [tier(n) for n in (1, 999, 1_000, 9_999, 10_000, 99_999, 100_000)] == [0, 0, 1, 1, 2, 2, 3]


def test_a_full_tier_of_small_segments_is_merged_smallest_first() -> None:
    small = segments(*range(10, 10 + MERGE_AT + 2))
    chosen = choose(small)
    assert [s.doc_count() for s in chosen] == list(range(10, 10 + MERGE_AT))
    assert choose(small[: MERGE_AT - 1]) == []


def test_segments_of_a_large_load_are_never_merged_by_a_write() -> None:
    # A million items committed 10,000 at a time: Whoosh's own policy would merge 24 of them
    # (240,000 items) on the next commit; a tier of them is over what one commit may merge.
    big = segments(*[10_000] * 100)
    assert choose(big) == []
    assert MERGE_AT * 10_000 > MAX_MERGED
    # Small segments beside them still merge.
    chosen = choose(big + segments(*[50] * MERGE_AT))
    assert [s.doc_count() for s in chosen] == [50] * MERGE_AT


def test_many_small_writes_keep_the_segment_count_bounded(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    for n in range(40):
        write_items(store, items(n * 3, 3))
    ix = store.open()
    try:
        counts = [s.doc_count() for s in ix._segments()]
        assert sum(counts) == 120
        assert len(counts) < 2 * MERGE_AT  # 40 commits, bounded by merges
        assert max(counts) > 3  # some segments are merged ones
    finally:
        ix.close()


def test_a_segment_whose_items_were_all_deleted_is_dropped(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    first = items(0, 5)
    write_items(store, first)
    write_items(store, items(100, 5))
    assert delete_items(store, [i.id for i in first]) == 5
    ix = store.open()
    try:
        assert [s.doc_count_all() for s in ix._segments()] == [5]
        assert ix.doc_count() == 5
    finally:
        ix.close()
