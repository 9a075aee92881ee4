"""Segment files read straight from Whoosh's memory map, never copied into each process.

Whoosh maps a segment's compound file (``.seg``) and hands out each file inside it (postings, the
term table, the stored-fields column) as a ``BufferFile``, which wraps the mapped bytes in a
``BytesIO``: and ``BytesIO`` copies a memoryview it is given. So every process that opened the index
held a private copy of nearly all of it (630 MB per gunicorn worker at 100k items, docs/speed-notes.md),
where the mapped pages would have been shared by every worker through the page cache. The file here
reads the same bytes through the memoryview itself: the pages stay the kernel's, shared, and only
what a search actually reads is ever brought in.

:func:`install` points Whoosh's compound storage at it; the segment store calls it before opening an
index. Nothing else in Whoosh changes: every read returns the same bytes (tests/index/test_segmentfiles.py).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile

# How far readline looks at a time for the end of a line (pickles of protocol 0 are the only reader).
_LINE_CHUNK = 256


class MappedReader:
    """A read-only, seekable file over a memoryview that copies only the bytes each read returns."""

    __slots__ = ("_buf", "_pos", "_size", "closed")

    def __init__(self, buf: memoryview) -> None:
        self._buf = buf
        self._pos = 0
        self._size = len(buf)
        self.closed = False

    def read(self, size: int | None = -1) -> bytes:
        pos = self._pos
        if pos >= self._size:  # past the end a read finds nothing and, as in BytesIO, leaves the position
            return b""
        end = self._size if size is None or size < 0 else min(pos + size, self._size)
        self._pos = end
        return self._buf[pos:end].tobytes()

    def readinto(self, target: Any) -> int:
        out = memoryview(target).cast("B")
        pos = self._pos
        if pos >= self._size:
            return 0
        n = min(len(out), self._size - pos)
        out[:n] = self._buf[pos:pos + n]
        self._pos = pos + n
        return n

    def readline(self, size: int | None = -1) -> bytes:
        pos = self._pos
        if pos >= self._size:
            return b""
        limit = self._size if size is None or size < 0 else min(pos + size, self._size)
        end = pos
        while end < limit:
            chunk = self._buf[end:min(end + _LINE_CHUNK, limit)].tobytes()
            newline = chunk.find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += len(chunk)
        self._pos = end
        return self._buf[pos:end].tobytes()

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._size)[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class MappedBufferFile(BufferFile):  # type: ignore[misc]
    """Whoosh's ``BufferFile`` over a mapped segment, reading through :class:`MappedReader`."""

    def __init__(self, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        self._buf = buf
        self._name = name
        # BytesIO shares a bytes object it is given (it copies only on write): only views need the reader.
        self.file = MappedReader(buf) if isinstance(buf, memoryview) else BytesIO(buf)
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False


def install() -> None:
    """Make Whoosh's compound (segment) storage hand out mapped files instead of copies."""
    compound.BufferFile = MappedBufferFile


__all__ = ["MappedBufferFile", "MappedReader", "install"]
