"""The on-disk layout of an index directory: generations, the ``current`` pointer and the writer lock.

    INDEX_DIR/
      current -> gen-<stamp>      symlink swapped atomically by rebuild (Warehouse's alias swap)
      gen-<stamp>/                one complete Whoosh index plus feedsift.json (schema version)
      writer.lock                 flock held by whichever process writes; the kernel frees it if
                                  that process dies, so a killed writer never leaves a stale lock
      changed                     empty file whose mtime every writer moves forward as it lets go of
                                  the lock: a reader learns of any write with one ``stat``
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import shutil
import struct
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from index.errors import IndexLockedError, IndexMissingError, IndexVersionError
from index.search.schema import SCHEMA_VERSION, build_schema
from index.search.whoosh import segmentfiles

# Before any index is opened: every process would otherwise hold a private copy of its segments.
segmentfiles.install()

META_FILE = "feedsift.json"
CURRENT = "current"
LOCK_FILE = "writer.lock"
CHANGED_FILE = "changed"

# What a reader sees when another process's commit or merge deletes or replaces index files under it:
# a vanished file, a table of contents or posting block cut short. Reading again from a freshly opened
# index finds the files that replaced them; the reader (``reader.SearchIndex``) is the one place that
# tries again, so attempts never multiply through nested retries.
TORN_READS: tuple[type[BaseException], ...] = (
    FileNotFoundError, zlib.error, EOFError, struct.error, pickle.UnpicklingError,
)

class IndexStore:
    """One index directory: opens the live generation, creates new ones, and serialises writers."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def current_link(self) -> Path:
        return self.root / CURRENT

    def current_path(self) -> Path:
        """Return the live generation's directory; raise IndexMissingError when there is none."""
        try:
            target = os.readlink(self.current_link)
        except FileNotFoundError:
            raise IndexMissingError(
                f"no index at {self.root}: build one with `feedsift add INPUT...`"
            ) from None
        except OSError as exc:
            raise IndexMissingError(f"cannot read the index at {self.root}: {exc.strerror}") from None
        return self.root / target

    def exists(self) -> bool:
        return self.current_link.is_symlink()

    def changed_stamp(self) -> int | None:
        """Return the time of the last write (ns), as :meth:`write_lock` left it; None before the first."""
        try:
            return os.stat(self.root / CHANGED_FILE).st_mtime_ns
        except OSError:
            return None

    def _commits(self) -> tuple[str | None, tuple[str, ...]]:
        """Return the live generation and its tables of contents: they change with every commit or swap."""
        try:
            target = os.readlink(self.current_link)
            return target, tuple(sorted(n for n in os.listdir(self.root / target) if n.endswith(".toc")))
        except OSError:
            return None, ()

    def _mark_changed(self) -> None:
        # Set, not touched: two writes within the file system's clock tick (4 ms on Linux) would
        # otherwise leave the same mtime, and a reader that opened its view between them would miss
        # the second. Writers hold the lock here, so the stamp only ever moves forward.
        path = self.root / CHANGED_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                stamp = max(time.time_ns(), os.fstat(fd).st_mtime_ns + 1)
                os.utime(fd, ns=(stamp, stamp))
            finally:
                os.close(fd)
        except OSError:
            pass  # readers without the stamp still check every reopen interval

    def open(self, path: Path | None = None) -> Any:
        """Open a generation (the live one unless ``path`` names one), checking its schema version.

        A caller that also reads files beside the index (posting arrays) passes the ``path`` it
        resolved once, so a swap in between cannot make it open one generation and read another's.
        A torn read (one of :data:`TORN_READS`: a commit in another process deleted or rewrote the
        table of contents being opened) is raised as it is, for the caller to try again once.
        """
        path = self.current_path() if path is None else path
        check_version(path)
        try:
            return whoosh_index.open_dir(str(path))
        except TORN_READS:
            raise
        except (OSError, whoosh_index.EmptyIndexError) as exc:
            raise IndexMissingError(f"cannot open the index at {path}: {exc}") from None

    def create_generation(self) -> tuple[Path, Any]:
        """Create an empty generation beside the live one (not yet live) and return it open."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.root / f"gen-{stamp}-{os.getpid()}"
        path.mkdir()
        try:
            ix = whoosh_index.create_in(str(path), build_schema())
            write_meta(path, {"schema_version": SCHEMA_VERSION, "created": datetime.now(UTC).isoformat()})
        except BaseException:
            self.discard(path)  # a disk that filled up mid-way must not keep a half-made generation
            raise
        return path, ix

    def live_name(self) -> str | None:
        """Return the name of the generation ``current`` points at, or None when there is none."""
        try:
            return os.readlink(self.current_link)
        except OSError:
            return None

    def make_live(self, path: Path) -> None:
        """Point ``current`` at a generation in one atomic rename, then drop generations no one needs.

        Once the rename is done the new generation is live whatever fails after it (the directory's
        fsync, pruning): an exception from those steps still leaves ``current`` pointing at a whole
        index, and :meth:`discard` and :meth:`prune` refuse to delete the generation it points at.
        """
        previous = self.live_name()
        tmp = self.root / f".{CURRENT}.{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(path.name, tmp)
        try:
            os.replace(tmp, self.current_link)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.root)
        self.prune(keep=path, previous=previous)

    def prune(self, *, keep: Path, previous: str | None = None) -> None:
        """Delete every generation but the live one, ``keep`` and ``previous`` (the one live before).

        The one before is kept a while because a reader that opened it just before the swap may still
        be reading its files. Every other one is a generation that an earlier swap retired or that a
        killed rebuild left half-built (choosing by age would keep that one and delete the one readers
        use). Only called with the writer lock held, so no generation being built is in use. What
        ``current`` points at is read again here, never assumed: it is the one thing never deleted.
        """
        spared = {keep.name, previous, self.live_name()}
        for gen in self.root.glob("gen-*"):
            if gen.is_dir() and gen.name not in spared:
                shutil.rmtree(gen, ignore_errors=True)

    def discard(self, path: Path) -> bool:
        """Delete a generation that never went live (a failed rebuild); return whether it was deleted.

        A generation that ``current`` points at is never deleted: a rebuild that failed after its swap
        (an fsync, say) has a live index, and deleting it would leave ``current`` pointing at nothing.
        """
        if self.live_name() == path.name:
            return False
        shutil.rmtree(path, ignore_errors=True)
        return True

    @contextmanager
    def write_lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold the writer lock, waiting up to ``timeout`` seconds for another writer to finish."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexLockedError(
                            f"another feedsift process is writing to {self.root} "
                            f"(waited {timeout:g} s for its lock); try again when it has finished"
                        ) from None
                    time.sleep(0.05)
            before = self._commits()
            try:
                yield
            finally:
                # Before the lock is let go and before the write's caller answers anyone, so every
                # reader's next check after that answer sees the change (README: "from the next
                # request on", in every worker); a write that committed nothing leaves it alone.
                if self._commits() != before:
                    self._mark_changed()
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def check_version(path: Path) -> None:
    """Raise IndexVersionError unless the generation at ``path`` was built with this schema version."""
    meta = read_meta(path)
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index at {path} was built with schema version {version}, this feedsift reads "
            f"version {SCHEMA_VERSION}: rebuild needed (`feedsift rebuild INPUT...`)"
        )


def read_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / META_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    tmp = path / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta), "utf-8")
    os.replace(tmp, path / META_FILE)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
