"""Tests for index/search/whoosh/writer.py and store.py: upserts, idempotence, locking, rebuild-and-swap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.errors import IndexLockedError, IndexMissingError, IndexVersionError
from index.model import SearchRequest
from index.search.schema import SCHEMA_VERSION
from index.search.whoosh.merging import MERGE_AT
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore, read_meta, write_meta
from index.search.whoosh.writer import delete_items, rebuild, write_items
from tests.support.indexes import SAMPLE_FILES, items_from, jsonl_items
from tests.support.paths import DIGEST, FEEDS


def test_shared_data_ingests_409_items_then_nothing_changes(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    items = items_from([DIGEST, *FEEDS])
    first = write_items(store, items)
    assert (first.added, first.updated, first.unchanged) == (409, 0, 0)
    gen_files = sorted(p.name for p in store.current_path().iterdir())
    again = write_items(store, items_from([DIGEST, *FEEDS]))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 409)
    # An unchanged re-ingest costs no index write: no new segment, no new table of contents.
    assert sorted(p.name for p in store.current_path().iterdir()) == gen_files
    index = SearchIndex(store.root)
    try:
        assert index.count() == 409
    finally:
        index.close()


def test_changed_item_is_updated_in_place(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    record = {"title": "Original title", "summary": "old words", "link": "https://a.example/1"}
    write_items(store, jsonl_items([record, {"title": "Other", "link": "https://a.example/2"}]))
    report = write_items(store, jsonl_items([{**record, "summary": "fresh words"}]))
    assert (report.added, report.updated, report.unchanged) == (0, 1, 0)
    index = SearchIndex(store.root)
    try:
        assert index.count() == 2
        assert index.search(SearchRequest(q="fresh")).total == 1
        assert index.search(SearchRequest(q="old")).total == 0
    finally:
        index.close()


def test_duplicate_ids_within_one_batch_keep_the_last(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    items = jsonl_items([
        {"id": "same", "title": "first version"},
        {"id": "same", "title": "second version"},
    ])
    report = write_items(store, items)
    assert report.added == 1
    index = SearchIndex(store.root)
    try:
        item = index.get("same")
        assert item is not None and item.title == "second version"
        assert index.count() == 1
    finally:
        index.close()


def test_delete_items(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    write_items(store, jsonl_items([{"id": "a", "title": "alpha"}, {"id": "b", "title": "beta"}]))
    assert delete_items(store, ["a", "missing"]) == 1
    index = SearchIndex(store.root)
    try:
        assert index.get("a") is None and index.count() == 1
    finally:
        index.close()


def test_second_writer_waits_a_bounded_time_then_fails_clearly(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    write_items(store, jsonl_items([{"id": "a", "title": "alpha"}]))
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.write_lock():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        with pytest.raises(IndexLockedError, match="another feedsift process is writing"):
            write_items(store, jsonl_items([{"id": "b", "title": "beta"}]), lock_timeout=0.5)
        waited = time.monotonic() - started
        assert 0.4 <= waited < 3
    finally:
        release.set()
        holder.join()
    # Once the first writer is done, the second gets in, and nothing was lost meanwhile.
    assert write_items(store, jsonl_items([{"id": "b", "title": "beta"}]), lock_timeout=2).added == 1


def test_lock_of_a_killed_writer_is_recovered(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    code = (
        "import sys, time; from index.search.whoosh.store import IndexStore\n"
        f"s = IndexStore({str(root)!r})\n"
        "with s.write_lock():\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLockedError):
            write_items(IndexStore(root), jsonl_items([{"id": "a", "title": "a"}]), lock_timeout=0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert write_items(IndexStore(root), jsonl_items([{"id": "a", "title": "a"}]), lock_timeout=2).added == 1


def test_rebuild_swaps_in_a_fresh_index(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    write_items(store, jsonl_items([{"id": "old", "title": "old item"}]))
    old_path = store.current_path()
    index = SearchIndex(store.root, check_interval=0)
    try:
        assert index.count() == 1
        report = rebuild(store, items_from(SAMPLE_FILES))
        assert report.added == 40
        assert store.current_path() != old_path
        # An open reader moves to the new generation on its next request.
        assert index.count() == 40 and index.get("old") is None
    finally:
        index.close()


def test_failed_rebuild_leaves_the_old_index_live(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    write_items(store, items_from(SAMPLE_FILES))
    live = store.current_path()

    def exploding():  # type: ignore[no-untyped-def]
        yield from items_from(SAMPLE_FILES)[:5]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        rebuild(store, exploding(), batch_size=2)
    assert store.current_path() == live
    assert sorted(p.name for p in store.root.glob("gen-*")) == [live.name]
    index = SearchIndex(store.root)
    try:
        assert index.count() == 40
    finally:
        index.close()


def test_killed_rebuild_leaves_the_old_index_usable(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    write_items(IndexStore(root), items_from(SAMPLE_FILES))
    live = IndexStore(root).current_path()
    big = tmp_path / "big.jsonl"
    with big.open("w") as out:
        for n in range(30000):
            out.write(f'{{"id": "n{n}", "title": "item number {n}", "summary": "words {n % 97}"}}\n')
    feedsift = Path(sys.executable).with_name("feedsift")
    proc = subprocess.Popen([str(feedsift), "rebuild", "--index", str(root), str(big)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(list(root.glob("gen-*"))) < 2:
            time.sleep(0.02)
        assert len(list(root.glob("gen-*"))) == 2, "the rebuild never started a new generation"
        time.sleep(0.3)
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert IndexStore(root).current_path() == live
    index = SearchIndex(root)
    try:
        assert index.count() == 40
        assert index.search(SearchRequest(q="reinforcement learning")).total > 0
    finally:
        index.close()
    # The next write proceeds without manual steps, and the next rebuild clears the stray generation.
    after = jsonl_items([{"id": "z", "title": "after"}])
    assert write_items(IndexStore(root), after, lock_timeout=2).added == 1
    rebuild(IndexStore(root), items_from(SAMPLE_FILES))
    assert len(list(root.glob("gen-*"))) == 2


def test_incompatible_schema_version_says_rebuild_needed(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    write_items(store, jsonl_items([{"id": "a", "title": "a"}]))
    meta = read_meta(store.current_path())
    write_meta(store.current_path(), {**meta, "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(IndexVersionError, match="rebuild needed"):
        store.open()
    index = SearchIndex(store.root)
    try:
        with pytest.raises(IndexVersionError):
            index.count()
    finally:
        index.close()
    # rebuild is the way out.
    rebuild(store, jsonl_items([{"id": "a", "title": "a"}]))
    assert store.open().doc_count() == 1


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="no index at"):
        IndexStore(tmp_path / "nothing").open()


def test_a_load_of_many_small_commits_merges_a_tier_at_a_time(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "ix")
    records = [{"title": f"item {n} words", "link": f"https://a.example/{n}"} for n in range(75)]
    report = write_items(store, jsonl_items(records), batch_size=3)  # 25 commits
    assert report.added == 75
    ix = store.open()
    try:
        # Each commit merges the small segments once MERGE_AT of them are there (index.search.whoosh.merging).
        sizes = sorted(s.doc_count_all() for s in ix._segments())
        assert sum(sizes) == 75 and len(sizes) < MERGE_AT + 3
        assert sizes[-1] >= 3 * MERGE_AT
    finally:
        ix.close()
    index = SearchIndex(store.root)
    try:
        assert index.search(SearchRequest(q="words")).total == 75
    finally:
        index.close()
