"""A write the OS refuses (disk full, file too large, read-only) fails clearly and loses nothing.

The failures are real: a size-limited tmpfs that fills up (ENOSPC), RLIMIT_FSIZE with SIGXFSZ ignored
(EFBIG), and a tmpfs remounted read-only (EROFS; root ignores permission bits, so chmod would prove
nothing). Mounting needs root and CAP_SYS_ADMIN; without them those tests skip and the RLIMIT_FSIZE one
still runs. In every case: IndexWriteError naming the index directory and the OS error, `feedsift add`
exits 1 with that message and no traceback, readers keep the previous index, and the next write after
the cause is gone succeeds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.model import FeedItem, SearchRequest
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.support import disks
from tests.support.disks import fill
from tests.support.paths import REPO


def items(count: int, *, start: int = 0, words: int = 150) -> list[FeedItem]:
    return [
        FeedItem(id=f"w-{n}", title=f"item {n} telescope", link=f"https://example.org/{n}", source="s",
                 summary=" ".join(f"word{n}x{k}" for k in range(words)))
        for n in range(start, start + count)
    ]


def write_jsonl(path: Path, records: list[FeedItem]) -> Path:
    path.write_text("\n".join(json.dumps({"id": i.id, "title": i.title, "link": i.link, "summary": i.summary,
                                          "source": i.source}) for i in records) + "\n")
    return path


def feedsift(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, after ``prelude`` (Python run first, e.g. to set a limit)."""
    code = f"{prelude}\nimport sys\nfrom index.cli import main\nmain(sys.argv[1:], prog_name='feedsift')"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def snapshot(index: SearchIndex) -> tuple[int, list[str], int]:
    page = index.search(SearchRequest(q="telescope", per_page=100))
    return index.count(), [h.id for h in page.hits], page.total


def assert_refused_cleanly(result: subprocess.CompletedProcess[str], root: Path, reason: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"Error: cannot write to the index at {root}: " in result.stderr
    assert reason in result.stderr, result.stderr


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs of this test's own, unmounted afterwards; skip where mounting is not allowed."""
    with disks.tmpfs(tmp_path / "fs") as mount_point:
        yield mount_point


def test_disk_full_during_add_is_a_clear_error_and_the_old_index_is_still_served(tmpfs: Path,
                                                                                  tmp_path: Path) -> None:
    root = tmpfs / "index"
    write_items(IndexStore(root), items(20, words=20))
    reader = SearchIndex(root, check_interval=0)
    before = snapshot(reader)
    assert before[0] == 20
    big = write_jsonl(tmp_path / "big.jsonl", items(100, start=100, words=30))
    filler = fill(tmpfs, leave=64 * 1024)

    result = feedsift("add", "--index", str(root), str(big))

    assert_refused_cleanly(result, root, "No space left on device (ENOSPC)")
    assert snapshot(reader) == before
    fresh = SearchIndex(root)
    assert snapshot(fresh) == before
    fresh.close()
    filler.unlink()
    again = feedsift("add", "--index", str(root), str(big))
    assert again.returncode == 0, again.stderr
    assert "100 added" in again.stdout
    assert reader.count() == 120
    reader.close()


# Whoosh leaves the failed segment's files to the garbage collector, whose ResourceWarnings would fail
# this suite (-W error) in whichever later test they surface: these failures happen in a child process.
IN_CHILD = r"""
import json, sys
from pathlib import Path
from index.errors import IndexWriteError
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.index.test_write_failures import fill, items

fs, first = Path(sys.argv[1]), int(sys.argv[2])
root = fs / "index"
if first:
    write_items(IndexStore(root), items(first, words=20))
filler = fill(fs, leave=int(sys.argv[3]))
try:
    write_items(IndexStore(root), items(60, start=100, words=30), lock_timeout=1)
    print(json.dumps({"error": None}))
except IndexWriteError as exc:
    print(json.dumps({"error": str(exc), "exists": IndexStore(root).exists(),
                      "generations": len(list(root.glob("gen-*"))) if root.exists() else 0}))
filler.unlink()
report = write_items(IndexStore(root), items(60, start=100, words=30), lock_timeout=1)
names = [p.name for p in IndexStore(root).current_path().iterdir()]
print(json.dumps({"added": report.added, "segments": len([n for n in names if n.endswith(".seg")])}))
"""


def fail_then_write_in_child(fs: Path, *, first: int, leave: int) -> tuple[dict[str, Any], dict[str, Any]]:
    done = subprocess.run([sys.executable, "-c", IN_CHILD, str(fs), str(first), str(leave)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    failed, succeeded = (json.loads(line) for line in done.stdout.splitlines())
    return failed, succeeded


def test_a_failed_commit_frees_the_lock_for_the_next_write_in_the_same_process(tmpfs: Path) -> None:
    # The poll worker writes again in the same process: a lock kept by the failed commit would stop it.
    failed, succeeded = fail_then_write_in_child(tmpfs, first=10, leave=32 * 1024)
    expected = f"cannot write to the index at {tmpfs / 'index'}: No space left on device (ENOSPC)"
    assert failed["error"].startswith(expected), failed
    assert succeeded["added"] == 60
    # The files the failed commit had written were deleted, not left to fill the disk again.
    assert succeeded["segments"] <= 2, succeeded


def test_a_disk_full_while_creating_the_first_index_leaves_nothing_half_made(tmpfs: Path) -> None:
    failed, succeeded = fail_then_write_in_child(tmpfs, first=0, leave=0)
    assert "No space left on device" in failed["error"]
    assert failed["exists"] is False and failed["generations"] == 0, failed
    assert succeeded["added"] == 60


def test_file_too_large_under_rlimit_fsize_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "index"
    write_items(IndexStore(root), items(20, words=20))
    reader = SearchIndex(root, check_interval=0)
    before = snapshot(reader)
    big = write_jsonl(tmp_path / "big.jsonl", items(100, start=100, words=30))
    # SIGXFSZ would kill the process; ignored, the write fails with EFBIG instead, as on a quota.
    limit = ("import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))")

    result = feedsift("add", "--index", str(root), str(big), prelude=limit)

    assert_refused_cleanly(result, root, "File too large (EFBIG)")
    assert snapshot(reader) == before
    again = feedsift("add", "--index", str(root), str(big))
    assert again.returncode == 0, again.stderr
    assert reader.count() == 120
    reader.close()


def test_a_read_only_index_directory_is_a_clear_error(tmpfs: Path, tmp_path: Path) -> None:
    root = tmpfs / "index"
    write_items(IndexStore(root), items(20, words=20))
    reader = SearchIndex(root, check_interval=0)
    before = snapshot(reader)
    more = write_jsonl(tmp_path / "more.jsonl", items(5, start=100))
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        result = feedsift("add", "--index", str(root), str(more))
        rebuilt = feedsift("rebuild", "--index", str(root), str(more))
        assert snapshot(reader) == before
        fresh = SearchIndex(root)
        assert snapshot(fresh) == before
        fresh.close()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    assert_refused_cleanly(result, root, "Read-only file system (EROFS)")
    assert_refused_cleanly(rebuilt, root, "Read-only file system (EROFS)")
    again = feedsift("add", "--index", str(root), str(more))
    assert again.returncode == 0, again.stderr
    assert reader.count() == 25
    reader.close()
