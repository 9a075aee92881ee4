"""A second process that writes part of a large batch as a segment of its own, so a write uses two cores.

Indexing is Python work on one core: analysing each item and writing its postings. A large batch is
split: this process writes one part and a helper process writes the other into the same index folder,
as a segment no table of contents names yet. The writer's commit then lists both segments in one
table of contents, so the batch is still one atomic commit; if anything fails before it, the helper's
files are in no table of contents and are deleted with the failed writer's (``writer._abandon``).

The helper is a Python process running :func:`serve`, started once per write and fed pickled batches
over a pipe: not ``multiprocessing``, whose ``spawn`` re-runs the caller's main script (a
script without a ``__main__`` guard would index itself again) and whose ``fork`` copies a server's
threads and locks.
"""

from __future__ import annotations

import contextlib
import pickle
import struct
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from whoosh import index as whoosh_index
from whoosh.reading import SegmentReader

from index.errors import IndexWriteError
from index.search.whoosh import postings, spelling, suggest
from index.search.whoosh.termpool import GroupingWriter

# Batches of fewer writes are written in one process: starting the helper costs ~0.5 s of a core.
PARALLEL_FROM = 2_000
# The helper's share of a split batch: a little over half, as this process also reads and plans each
# batch while the helper waits for it (100k items through `feedsift add`: 0.45 gave 1,078 items/s,
# 0.52 gave 1,177).
HELPER_SHARE = 0.52
_LENGTH = struct.Struct("!Q")
# The helper's program: this module's ``serve``, imported from the folder holding the ``index`` package
# wherever the writer was started from.
_PROJECT = repr(str(Path(__file__).resolve().parents[3]))
_HELPER = ("import sys; sys.path.insert(0, {project}); from index.search.whoosh.builder import serve; "
           "serve(sys.stdin.buffer, sys.stdout.buffer)")


class SegmentBuilder:
    """One helper process for a write, started on first use; close it when the write ends."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: ThreadPoolExecutor | None = None

    def submit(self, ix: Any, documents: list[dict[str, Any]]) -> Future[Any]:
        """Start writing ``documents`` as a new segment of ``ix``'s folder; the future gives the segment."""
        if self._process is None or self._thread is None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _HELPER.format(project=_PROJECT)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-builder")
        request = pickle.dumps((ix.storage.folder, ix.indexname, documents), protocol=pickle.HIGHEST_PROTOCOL)
        return self._thread.submit(self._exchange, self._process, request)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._process is not None:
            process, self._process = self._process, None
            try:
                if process.stdin is not None:
                    process.stdin.close()  # the helper's cue to exit
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            finally:
                if process.stdout is not None:
                    process.stdout.close()

    @staticmethod
    def _exchange(process: subprocess.Popen[bytes], request: bytes) -> Any:
        assert process.stdin is not None and process.stdout is not None
        try:
            _send(process.stdin, request)
            reply = _receive(process.stdout)
        except (BrokenPipeError, EOFError) as exc:
            status = process.poll()
            raise IndexWriteError(f"the indexing helper process ended (exit status {status})") from exc
        ok, value = pickle.loads(reply)
        if not ok:
            raise value
        return value


def build_segment(folder: str, indexname: str, documents: list[dict[str, Any]]) -> Any:
    """Write ``documents`` as one finished segment in the index at ``folder`` and return it (in the helper).

    The writer takes no lock (the process that asked holds it) and writes no table of contents. Nor
    does it finish or cancel as a writer would: that deletes the index's temporary folder, which the
    asking process's writer is using too.
    """
    ix = whoosh_index.open_dir(folder, indexname=indexname)
    try:
        writer = GroupingWriter(ix, _lk=False)
        try:
            for document in documents:
                writer.add_document(**document)
            segment = writer._finalize_segment()
        except BaseException:
            with contextlib.suppress(Exception):
                writer._close_segment()
            raise
        finally:
            writer.is_closed = True
        # The segment's posting arrays, title table and spelling words too, on this core; if they cannot
        # be written (a full disk), the writer writes what is missing after its commit, as for its own.
        with contextlib.suppress(OSError), SegmentReader(ix.storage, writer.schema, segment) as reader:
            write_segment_files(Path(folder), reader)
        return segment
    finally:
        ix.close()


def write_segment_files(folder: Path, reader: Any) -> None:
    """Write what searches read beside a finished segment, each unless it is there: its posting
    arrays (``postings``), its title table for suggestions (``suggest``) and its spelling words."""
    postings.write_arrays(folder, reader)
    suggest.write_table(folder, reader)
    spelling.write_words(folder, reader)


def has_segment_files(folder: Path, segment_id: str) -> bool:
    """Return whether every file :func:`write_segment_files` writes is there for a segment."""
    written = (postings.has_arrays, suggest.has_table, spelling.has_words)
    return all(has(folder, segment_id) for has in written)


def _send(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> bytes:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return payload


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer each pickled request with the segment it asked for, or the error it raised, until EOF."""
    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, build_segment(*pickle.loads(request)))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the writer, which raises it
            reply = (False, exc)
        _send(replies, pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))

