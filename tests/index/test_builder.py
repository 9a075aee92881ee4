"""Large batches are written by two processes as two segments of one commit, and lose nothing if one dies."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from index.errors import IndexWriteError
from index.model import FeedItem, SearchRequest
from index.search.whoosh import builder
from index.search.whoosh.builder import PARALLEL_FROM, SegmentBuilder
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.support.indexes import jsonl_items

COUNT = PARALLEL_FROM + 100


def items(summary: str, count: int = COUNT) -> list[FeedItem]:
    return jsonl_items(
        {"title": f"Paper {n} on parallel indexing", "link": f"https://split.example/{n}",
         "summary": f"{summary} item {n}", "published": "2026-11-01T00:00:00Z"}
        for n in range(count)
    )


def segment_sizes(store: IndexStore) -> list[int]:
    ix = store.open()
    try:
        return sorted(s.doc_count() for s in ix._segments())
    finally:
        ix.close()


def test_a_large_batch_is_one_commit_of_two_segments_with_every_item(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    report = write_items(store, items("first words"))
    assert report.added == COUNT
    sizes = segment_sizes(store)
    assert len(sizes) == 2 and sum(sizes) == COUNT and min(sizes) > COUNT // 3
    index = SearchIndex(store.root)
    try:
        assert index.search(SearchRequest(q="first")).total == COUNT
        assert index.get(items("first words")[-1].id) is not None  # from the helper's share
    finally:
        index.close()


def test_a_large_update_replaces_items_in_both_shares(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    write_items(store, items("first words"))
    report = write_items(store, items("second thoughts"))
    assert report.updated == COUNT and report.added == 0
    index = SearchIndex(store.root)
    try:
        assert index.count() == COUNT
        assert index.search(SearchRequest(q="first")).total == 0
        assert index.search(SearchRequest(q="thoughts")).total == COUNT
    finally:
        index.close()


def test_a_helper_that_dies_fails_the_batch_and_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path / "index")
    write_items(store, items("kept words", 50))
    before = sorted(os.listdir(store.current_path()))
    submit = SegmentBuilder.submit

    def submit_then_kill(self: SegmentBuilder, ix: Any, documents: list[dict[str, Any]]) -> Any:
        future = submit(self, ix, documents)
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGKILL)  # a real process, really killed mid-batch
        return future

    monkeypatch.setattr(SegmentBuilder, "submit", submit_then_kill)
    with pytest.raises(IndexWriteError, match="helper process ended"):
        write_items(store, items("lost words"))
    assert sorted(os.listdir(store.current_path())) == before  # nothing of the failed batch is left
    index = SearchIndex(store.root)
    try:
        assert index.count() == 50
        assert index.search(SearchRequest(q="kept")).total == 50
    finally:
        index.close()
    monkeypatch.setattr(SegmentBuilder, "submit", submit)
    assert write_items(store, items("later words")).added == COUNT - 50


def test_small_batches_stay_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []
    monkeypatch.setattr(builder.SegmentBuilder, "submit", lambda self, ix, docs: started.append(len(docs)))
    store = IndexStore(tmp_path / "index")
    write_items(store, items("few words", PARALLEL_FROM - 1))
    assert started == [] and len(segment_sizes(store)) == 1
