"""The index's ``changed`` stamp: every write moves it, and a reader that holds an open view sees the
write on its next read, however long its reopen interval (another process's engine stands in for
another gunicorn worker: a second WhooshEngine on the same directory shares nothing in memory)."""

from __future__ import annotations

from pathlib import Path

from index.model import FeedItem, SearchRequest
from index.search.whoosh.engine import WhooshEngine
from index.search.whoosh.store import CHANGED_FILE, IndexStore
from tests.support.indexes import build_index

HOUR = 3600.0


def item(n: int) -> FeedItem:
    return FeedItem(id=f"s-{n}", title=f"quasar survey {n}", link=f"https://example.org/{n}", summary="",
                    source="S")


def test_every_write_moves_the_stamp_forward_even_within_one_clock_tick(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    assert store.changed_stamp() is None
    engine = WhooshEngine(tmp_path)
    stamps = []
    try:
        for n in range(5):
            engine.upsert([item(n)])
            stamps.append(store.changed_stamp())
        engine.delete(["s-0"])
        stamps.append(store.changed_stamp())
    finally:
        engine.close()
    assert None not in stamps
    assert stamps == sorted(set(stamps))
    assert (tmp_path / CHANGED_FILE).stat().st_size == 0


def test_a_write_that_commits_nothing_leaves_the_stamp_alone(tmp_path: Path) -> None:
    build_index(tmp_path, [item(0)])
    store = IndexStore(tmp_path)
    stamp = store.changed_stamp()
    assert stamp is not None
    build_index(tmp_path, [item(0)])  # unchanged: no commit
    with store.write_lock():
        pass
    assert store.changed_stamp() == stamp


def test_a_reader_with_an_open_view_sees_another_engines_writes_on_its_next_read(tmp_path: Path) -> None:
    build_index(tmp_path, [item(0)])
    writer = WhooshEngine(tmp_path, check_interval=HOUR)
    reader = WhooshEngine(tmp_path, check_interval=HOUR)
    try:
        assert reader.count() == 1  # its view is open now, and the interval would keep it for an hour
        writer.upsert([item(1)])
        assert reader.get("s-1") is not None
        assert reader.search(SearchRequest(q="quasar")).total == 2
        writer.delete(["s-0"])
        assert reader.get("s-0") is None
        assert reader.search(SearchRequest(q="quasar")).total == 1
    finally:
        writer.close()
        reader.close()


def test_without_a_stamp_the_reader_keeps_its_view_for_the_interval(tmp_path: Path) -> None:
    # What the stamp is for: an index whose stamp is gone (written by a feedsift before it) is only
    # checked once the interval has passed.
    build_index(tmp_path, [item(0)])
    reader = WhooshEngine(tmp_path, check_interval=HOUR)
    try:
        (tmp_path / CHANGED_FILE).unlink()
        assert reader.count() == 1
        build_index(tmp_path, [item(1)])
        (tmp_path / CHANGED_FILE).unlink()
        assert reader.count() == 1
    finally:
        reader.close()
