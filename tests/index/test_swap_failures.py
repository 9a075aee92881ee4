"""A rebuild's swap failing at each step never deletes the live index (index/search/whoosh/store.py).

The faults are injected (monkeypatched ``os.replace``, directory fsync, prune) because a real rename
or fsync failure cannot be produced on demand in a test; everything else is a real index on disk.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from index.errors import IndexWriteError
from index.model import FeedItem, SearchRequest
from index.search.whoosh import store as store_module
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import rebuild, write_items


def _items(prefix: str, n: int) -> list[FeedItem]:
    return [FeedItem(id=f"{prefix}-{i}", title=f"{prefix} item {i}", link=f"https://example.org/{prefix}/{i}",
                     source="swap", summary=f"words about {prefix} number {i}") for i in range(n)]


def _ids(root: Path) -> set[str]:
    index = SearchIndex(root)
    try:
        return {hit.id for hit in index.search(SearchRequest(q="", per_page=1000)).hits}
    finally:
        index.close()


def _generations(root: Path) -> set[str]:
    return {p.name for p in root.glob("gen-*")}


@pytest.fixture
def live(tmp_path: Path) -> Path:
    root = tmp_path / "index"
    write_items(IndexStore(root), _items("old", 20))
    return root


def _fail(*args: object, **kwargs: object) -> None:
    raise OSError(errno.EIO, "Input/output error (injected)")


def test_a_failed_rename_leaves_the_old_index_live_and_the_new_one_gone(
        live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _generations(live)
    monkeypatch.setattr(store_module.os, "replace", _fail)  # injected: a rename cannot be made to fail
    with pytest.raises(IndexWriteError):
        rebuild(IndexStore(live), _items("new", 5))
    monkeypatch.undo()
    assert _ids(live) == {f"old-{i}" for i in range(20)}
    assert _generations(live) == before
    assert not [p for p in live.iterdir() if p.name.startswith(".current")]


def test_a_failed_fsync_after_the_rename_keeps_the_new_index_live(live: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_fsync_dir", _fail)  # injected: fsync cannot be made to fail
    with pytest.raises(IndexWriteError, match="is live"):
        rebuild(IndexStore(live), _items("new", 5))
    monkeypatch.undo()
    name = IndexStore(live).live_name()
    assert name is not None and (live / name).is_dir()
    assert _ids(live) == {f"new-{i}" for i in range(5)}


def test_a_failed_prune_after_the_rename_keeps_the_new_index_live(live: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IndexStore, "prune", _fail)  # injected: rmtree ignores its own errors
    with pytest.raises(IndexWriteError, match="is live"):
        rebuild(IndexStore(live), _items("new", 5))
    monkeypatch.undo()
    assert _ids(live) == {f"new-{i}" for i in range(5)}
    # The next write works on it and its prune tidies what the failed one left.
    write_items(IndexStore(live), _items("more", 2))
    assert _ids(live) == {f"new-{i}" for i in range(5)} | {"more-0", "more-1"}


def test_discard_and_prune_never_delete_what_current_points_at(live: Path) -> None:
    store = IndexStore(live)
    name = store.live_name()
    assert name is not None
    assert store.discard(live / name) is False
    other = live / "gen-elsewhere"
    other.mkdir()
    store.prune(keep=other)  # told to keep another: the live one is spared all the same
    assert (live / name).is_dir() and other.is_dir()
    assert _ids(live) == {f"old-{i}" for i in range(20)}


def test_the_first_index_survives_a_failed_fsync_of_its_swap(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "index"
    monkeypatch.setattr(store_module, "_fsync_dir", _fail)  # injected, as above
    with pytest.raises(IndexWriteError):
        write_items(IndexStore(root), _items("first", 3))
    monkeypatch.undo()
    store = IndexStore(root)
    name = store.live_name()
    assert name is not None and (root / name).is_dir()
    write_items(store, _items("first", 3))
    assert _ids(root) == {"first-0", "first-1", "first-2"}
    assert os.readlink(root / "current") in _generations(root)
