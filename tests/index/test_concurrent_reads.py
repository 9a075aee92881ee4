"""SearchIndex read from several threads while another process commits, deletes, merges and optimizes.

Every answer must be whole: no error, no item twice, no item whose deletion had finished before the
search began, and a total equal to the hits a page can hold. The writer is a real subprocess that
prints the ids of each delete once its commit is done.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import traceback
from pathlib import Path

from index.model import FeedItem, SearchRequest
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.support.paths import REPO

START = 200
READERS = 4
# Bounds the test: the writer's work decides how long readers run, this how long at most.
DEADLINE = 90.0

WRITER = r"""
import sys
from index.model import FeedItem
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import delete_items, open_writer, write_items

root, rounds = sys.argv[1], int(sys.argv[2])
store = IndexStore(root)
words = "alpha beta gamma delta epsilon zeta eta theta".split()

def item(n, version):
    summary = f"v{version} " + " ".join(words[(n + k) % 8] for k in range(12))
    return FeedItem(id=f"c-{n}", title=f"item {n} {words[n % 8]}", link=f"https://example.org/{n}",
                    source=f"source-{n % 3}", summary=summary)

next_id = 200
for r in range(rounds):
    # Many small commits: new items, rewrites of live ones (a delete plus an add each), and deletions.
    new = [item(next_id + k, r) for k in range(5)]
    next_id += 5
    rewritten = [item(n, r) for n in range(r * 3 % 150 + 50, r * 3 % 150 + 53)]
    write_items(store, new + rewritten, batch_size=4)
    gone = [f"c-{n}" for n in (r * 2, r * 2 + 1)]
    delete_items(store, gone)
    print("deleted", *gone, flush=True)
with store.write_lock():
    ix = store.open()
    open_writer(ix).commit(optimize=True)
    ix.close()
print("done", flush=True)
"""


def initial_items() -> list[FeedItem]:
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    return [
        FeedItem(id=f"c-{n}", title=f"item {n} {words[n % 8]}", link=f"https://example.org/{n}",
                 source=f"source-{n % 3}", summary="v-1 " + " ".join(words[(n + k) % 8] for k in range(12)))
        for n in range(START)
    ]


def test_readers_see_whole_answers_while_another_process_commits_and_merges(tmp_path: Path) -> None:
    root = tmp_path / "index"
    write_items(IndexStore(root), initial_items())
    deleted: set[str] = set()
    guard = threading.Lock()
    failures: list[str] = []
    writer_done = threading.Event()
    checks = [0] * READERS
    shared = SearchIndex(root, check_interval=0)

    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), "40"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def follow_writer() -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            parts = line.split()
            if parts[:1] == ["deleted"]:
                with guard:
                    deleted.update(parts[1:])
        writer_done.set()

    def read(number: int) -> None:
        # Half the readers share one SearchIndex (as a gunicorn worker's threads do), half have their own.
        index = shared if number % 2 == 0 else SearchIndex(root, check_interval=0)
        queries = ["", "alpha", "beta OR gamma", "item NOT delta", "source:source-1"]
        try:
            while not writer_done.is_set() and not failures:
                for q in queries:
                    with guard:
                        gone = set(deleted)
                    page = index.search(SearchRequest(q=q, per_page=1000))
                    ids = [hit.id for hit in page.hits]
                    if len(ids) != len(set(ids)):
                        failures.append(f"duplicate in {q!r}: {sorted(i for i in ids if ids.count(i) > 1)}")
                    if page.total != len(ids):
                        failures.append(f"total {page.total} but {len(ids)} hits for {q!r}")
                    if gone & set(ids):
                        failures.append(f"deleted item served for {q!r}: {sorted(gone & set(ids))}")
                    facet_sum = sum(f.count for f in page.source_facets)
                    if facet_sum != page.total:
                        failures.append(f"source facets sum to {facet_sum}, total {page.total} for {q!r}")
                    checks[number] += 1
                for item_id in list(gone)[:5]:
                    if index.get(item_id) is not None:
                        failures.append(f"get({item_id}) after its deletion")
        except Exception as exc:  # any exception is a failure of the promise under test
            failures.append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        finally:
            if index is not shared:
                index.close()

    follower = threading.Thread(target=follow_writer)
    readers = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    follower.start()
    for thread in readers:
        thread.start()
    try:
        writer.wait(timeout=DEADLINE)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer_done.set()
        follower.join()
        for thread in readers:
            thread.join()
        assert writer.stderr is not None and writer.stdout is not None
        errors = writer.stderr.read()
        writer.stderr.close()
        writer.stdout.close()
        shared.close()
    assert writer.returncode == 0, errors
    assert not failures, "\n".join(failures[:3])
    assert min(checks) > 0, checks
    print(f"\nconcurrent reads: {READERS} readers, {sum(checks)} searches checked, {len(deleted)} deletions")
    final = SearchIndex(root)
    try:
        assert final.count() == START + 40 * 5 - len(deleted)
        assert all(final.get(i) is None for i in deleted)
        reader = final.search(SearchRequest(per_page=1000))
        assert len({h.id for h in reader.hits}) == reader.total == final.count()
    finally:
        final.close()
