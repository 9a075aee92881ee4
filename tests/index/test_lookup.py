"""A write of large batches finds updates and same-titled copies from each segment's terms, read once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from index.model import FeedItem
from index.search.whoosh.builder import PARALLEL_FROM
from index.search.whoosh.lookup import KnownTerms
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import delete_items, write_items
from tests.support.indexes import count_lexicon_reads, jsonl_items

COUNT = PARALLEL_FROM + 50


def posts(source: str, count: int = COUNT, start: int = 0) -> list[FeedItem]:
    return jsonl_items(
        {"title": f"A long enough title for post number {n} of the series", "source": source,
         "link": f"https://{source}.example/posts/{n}", "summary": f"post {n}",
         "published": "2026-11-01T00:00:00Z"}
        for n in range(start, start + count)
    )


def stored_by_id(store: IndexStore) -> dict[str, dict[str, Any]]:
    ix = store.open()
    try:
        with ix.searcher() as searcher:
            return {fields["id"]: fields for fields in searcher.all_stored_fields()}
    finally:
        ix.close()


def test_copies_in_a_later_large_batch_take_the_works_of_same_titled_items(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    first, copies = posts("blog"), posts("mirror")
    write_items(store, first)
    report = write_items(store, copies)
    assert report.added == COUNT
    stored = stored_by_id(store)
    assert all(stored[c.id]["work"] == stored[f.id]["work"] for f, c in zip(first, copies, strict=True))
    assert len({stored[f.id]["work"] for f in first}) == COUNT


def test_a_deleted_item_written_again_in_a_large_batch_is_added(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    items = posts("blog")
    write_items(store, items)
    assert delete_items(store, [i.id for i in items[:10]]) == 10
    report = write_items(store, items)  # its ids are still terms of their segment, deleted
    assert (report.added, report.unchanged) == (10, COUNT - 10)
    assert len(stored_by_id(store)) == COUNT


def test_each_segments_terms_are_read_once_in_a_write(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = IndexStore(tmp_path / "index")
    write_items(store, posts("blog", 30), batch_size=10)  # three segments
    read = count_lexicon_reads(monkeypatch)
    known = KnownTerms()
    ix = store.open()
    try:
        with ix.searcher() as searcher:
            known.update(searcher)
            known.update(searcher)
            assert read == ["id", "title_key"] * 3
            item = posts("blog", 1)[0]
            assert [d["id"] for d in known.documents(searcher, "id", item.id)] == [item.id]
            assert known.documents(searcher, "id", posts("other", 1)[0].id) == []
            title = "a long enough title for post number 0 of the series"
            titled = known.documents(searcher, "title_key", title)
            assert [d["id"] for d in titled] == [item.id]
    finally:
        ix.close()
