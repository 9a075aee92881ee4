"""Opening views (index/search/whoosh/view.py) and reopening them in SearchIndex: torn reads, swaps, locks.

A torn read here is real: a segment file deleted from a real index, as a merge in another process
deletes it. The moments a race needs (a swap between reading ``current`` and opening it, a reopen
in progress) are made by wrapping ``IndexStore.open`` with a hook, because they cannot be timed.
"""

from __future__ import annotations

import gc
import os
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

from index.model import FeedItem, SearchRequest
from index.search.whoosh import reader as reader_module
from index.search.whoosh import view as view_module
from index.search.whoosh.reader import READ_ATTEMPTS, SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.view import View
from index.search.whoosh.writer import rebuild, write_items


def _items(prefix: str, n: int) -> list[FeedItem]:
    return [FeedItem(id=f"{prefix}-{i}", title=f"{prefix} title {i}", link=f"https://example.org/{prefix}/{i}",
                     source="views", summary=f"common words {prefix} {i} " * 3) for i in range(n)]


def _segmented(root: Path) -> Path:
    """Build an index of three segments (one per batch: only a call's first commit may merge)."""
    store = IndexStore(root)
    write_items(store, _items("seg", 30), batch_size=10)
    gen = store.current_path()
    assert len(list(gen.glob("*.seg"))) == 3
    # The writer's own readers may wait for the cyclic collector; collect them now, so what is open
    # afterwards is what the code under test left open.
    gc.collect()
    assert _open_files_under(gen) == []
    return gen


def _open_files_under(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_a_view_torn_while_opening_raises_at_once_and_leaves_no_file_open(tmp_path: Path) -> None:
    gen = _segmented(tmp_path / "index")
    newest = max(gen.glob("*.seg"), key=lambda p: p.stat().st_mtime_ns)
    newest.unlink()  # as a merge in another process deletes a segment between the TOC and its files
    with pytest.raises(FileNotFoundError):
        View(IndexStore(tmp_path / "index"))
    assert _open_files_under(gen) == []


def test_a_read_tries_a_bounded_number_of_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = _segmented(tmp_path / "index")
    next(iter(gen.glob("*.seg"))).unlink()  # torn for good: every try fails the same way
    opens: list[Path] = []
    real_open = IndexStore.open

    def counting_open(self: IndexStore, path: Path | None = None) -> Any:
        opens.append(self.current_path())
        return real_open(self, path)

    monkeypatch.setattr(IndexStore, "open", counting_open)
    index = SearchIndex(tmp_path / "index")
    with pytest.raises(FileNotFoundError):
        index.search(SearchRequest(q="common"))
    assert len(opens) == READ_ATTEMPTS  # one loop, not retries nested inside retries
    index.close()
    assert _open_files_under(gen) == []


def test_a_swap_while_a_view_opens_never_mixes_two_generations(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "index"
    store = IndexStore(root)
    write_items(store, _items("old", 5))
    real_open = IndexStore.open
    swapped: list[str] = []

    def open_after_a_swap(self: IndexStore, path: Path | None = None) -> Any:
        if not swapped:  # the hook: a rebuild swaps `current` after the view read it, before it opens
            swapped.append(str(self.current_path()))
            monkeypatch.setattr(IndexStore, "open", real_open)
            rebuild(store, _items("new", 3))
        return real_open(self, path)

    monkeypatch.setattr(IndexStore, "open", open_after_a_swap)
    view = View(store)
    try:
        assert str(view.path) == swapped[0]
        assert Path(view.ix.storage.folder) == view.path
        ids = {view.searcher.stored_fields(d)["id"] for d in view.all_docs.tolist()}
        assert ids == {f"old-{i}" for i in range(5)}
    finally:
        view.close()
    assert store.current_path() != Path(swapped[0])


def test_a_reopen_in_progress_does_not_hold_the_process_wide_lock(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "index"
    write_items(IndexStore(root), _items("one", 5))
    index = SearchIndex(root, check_interval=3600)
    assert index.count() == 5
    write_items(IndexStore(root), _items("two", 5))
    opening = threading.Event()
    release = threading.Event()
    real_open_view = reader_module.open_view

    def slow_open_view(store: IndexStore) -> View:
        opening.set()
        assert release.wait(30)  # held open until the main thread has checked the lock is free
        return real_open_view(store)

    monkeypatch.setattr(reader_module, "open_view", slow_open_view)
    counts: list[int] = []
    index.invalidate()
    reopening = threading.Thread(target=lambda: counts.append(index.count()))
    reopening.start()
    try:
        assert opening.wait(30)
        # While the reopen is in progress, the process-wide lock is free: this would deadlock otherwise.
        assert index._lock.acquire(timeout=5)
        index._lock.release()
    finally:
        release.set()
        reopening.join(30)
    assert counts == [10]
    index.close()


def test_a_view_torn_while_building_its_arrays_closes_its_searcher(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    gen = _segmented(tmp_path / "index")
    closed: list[bool] = []
    real_close = View.close

    def torn(*args: Any, **kwargs: Any) -> None:
        raise zlib.error("Error -3 while decompressing data (injected: a torn block cannot be timed)")

    def recording_close(self: View) -> None:
        closed.append(True)
        real_close(self)

    monkeypatch.setattr(view_module, "Scorer", torn)
    monkeypatch.setattr(View, "close", recording_close)
    with pytest.raises(zlib.error):
        View(IndexStore(tmp_path / "index"))
    assert closed == [True]
    assert _open_files_under(gen) == []
